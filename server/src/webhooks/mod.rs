//! Webhooks: the transactional outbox of events, subscriptions, and signed delivery with
//! retries and a delivery log.

pub mod outbox;

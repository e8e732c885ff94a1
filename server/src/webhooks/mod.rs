//! Webhooks: the transactional outbox of events, subscriptions, and signed delivery with
//! retries and a delivery log.

pub mod outbox;
pub mod routes;
pub mod subscription;
pub mod target;
pub mod worker;

pub use worker::{run_once, WorkerHandle};

//! The transactional outbox: an event is written in the same transaction as the change it
//! announces, so an event is never lost and never sent for a change that rolled back.

use diesel::prelude::*;

use crate::clock::now;
use crate::db::schema::outbox_events;
use crate::db::DbConn;

pub const INSPECTION_SUBMITTED: &str = "inspection.submitted";
pub const INSPECTION_DECIDED: &str = "inspection.decided";
pub const INSPECTION_RETURNED: &str = "inspection.returned";
pub const INSPECTION_REOPENED: &str = "inspection.reopened";
/// One verifying body approved; the other's approval is missing.
pub const INSPECTION_AWAITING_SECOND_APPROVAL: &str = "inspection.awaiting_second_approval";
/// A township forwarded a declaration to the county, or sent it back to its village.
pub const DECLARATION_CHECKED: &str = "declaration.checked";
pub const STAR_STATUS_CHANGED: &str = "star_status.changed";
pub const DECLARATION_EXPIRED: &str = "declaration.expired";
pub const EVENT_TYPES: [&str; 8] = [
    INSPECTION_SUBMITTED,
    INSPECTION_AWAITING_SECOND_APPROVAL,
    INSPECTION_DECIDED,
    INSPECTION_RETURNED,
    INSPECTION_REOPENED,
    DECLARATION_CHECKED,
    STAR_STATUS_CHANGED,
    DECLARATION_EXPIRED,
];

/// Records an event for the county's webhooks; returns its id. Call inside the change's
/// transaction.
pub fn enqueue(
    conn: &mut DbConn,
    county_id: &str,
    event_type: &str,
    data: serde_json::Value,
) -> QueryResult<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let (occurred_at, data) = (now(), data.to_string());
    crate::db::on_backend!(conn, |c| diesel::insert_into(outbox_events::table)
        .values((
            outbox_events::id.eq(&id),
            outbox_events::county_id.eq(county_id),
            outbox_events::event_type.eq(event_type),
            outbox_events::occurred_at.eq(occurred_at),
            outbox_events::data.eq(&data),
            outbox_events::dispatched.eq(false),
        ))
        .execute(c))?;
    Ok(id)
}

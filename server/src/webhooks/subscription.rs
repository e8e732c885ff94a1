//! Webhook subscriptions: a county's URL, the event types it wants, and its signing secret
//! (generated here and shown only in the answer that creates it).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::outbox::EVENT_TYPES;
use super::target;
use crate::auth::Actor;
use crate::db::schema::{webhook_deliveries, webhooks};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, FieldError, OrNotFound};
use crate::i18n::Rule;
use crate::scope::Scope;
use crate::{audit, clock::now, scoped};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = webhooks)]
pub struct Webhook {
    pub id: String,
    pub county_id: String,
    pub url: String,
    pub events: String,
    pub secret: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

/// A subscription as listed: never its secret.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// The answer to creating a subscription: the only time the secret is shown.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct CreatedWebhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    /// The HMAC-SHA256 key for `X-Fieldstar-Signature` (64 hex characters). Shown once.
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

impl Webhook {
    pub fn event_types(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }

    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types().iter().any(|t| t == event_type)
    }

    pub fn view(&self) -> WebhookView {
        WebhookView {
            id: self.id.clone(),
            url: self.url.clone(),
            events: self.event_types(),
            created_at: self.created_at.and_utc(),
        }
    }

    /// An active subscription inside `scope`, or 404.
    pub fn find_scoped(conn: &mut DbConn, scope: &Scope, id: &str) -> ApiResult<Webhook> {
        let q = webhooks::table
            .filter(webhooks::id.eq(id))
            .filter(webhooks::active.eq(true))
            .into_boxed();
        scoped!(q, webhooks, scope)
            .select(Webhook::as_select())
            .first(conn)
            .optional()
            .or_not_found("webhook")
    }

    /// The county's active subscriptions.
    pub fn active_of_county(conn: &mut DbConn, county_id: &str) -> QueryResult<Vec<Webhook>> {
        webhooks::table
            .filter(webhooks::county_id.eq(county_id))
            .filter(webhooks::active.eq(true))
            .select(Webhook::as_select())
            .order(webhooks::id.asc())
            .load(conn)
    }

    pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Webhook>> {
        webhooks::table
            .find(id)
            .select(Webhook::as_select())
            .first(conn)
            .optional()
    }

    /// Stops deliveries to this subscription (its log is kept) and audits it.
    pub fn deactivate(&self, conn: &mut DbConn, actor: &Actor) -> ApiResult<()> {
        diesel::update(webhooks::table.find(&self.id))
            .set(webhooks::active.eq(false))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "webhook.deleted",
            "webhook",
            &self.id,
            Some(&self.county_id),
            format!("{} ({})", self.url, self.events),
        )?;
        Ok(())
    }
}

/// A subscription request, checked: an http(s) URL and a non-empty set of known event types.
/// Whether its host is an allowed address is checked separately (it needs DNS).
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: reqwest::Url,
    pub events: Vec<String>,
}

impl NewWebhook {
    pub fn parse(url: &str, events: &[String]) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let url = target::parse_url(url.trim()).map_err(|m| errors.push(FieldError::new("url", m)));
        let mut wanted: Vec<String> = Vec::new();
        if events.is_empty() {
            errors.push(FieldError::new("events", Rule::EventsRequired));
        }
        for (i, e) in events.iter().enumerate() {
            if !EVENT_TYPES.contains(&e.as_str()) {
                errors.push(FieldError::new(
                    format!("events[{i}]"),
                    Rule::UnknownEvent
                        .with("event", format!("{e:?}"))
                        .with("known", EVENT_TYPES.join(", ")),
                ));
            } else if !wanted.contains(e) {
                wanted.push(e.clone());
            }
        }
        match url {
            Ok(url) if errors.is_empty() => Ok(NewWebhook {
                url,
                events: wanted,
            }),
            _ => Err(errors),
        }
    }

    pub fn insert(
        &self,
        conn: &mut DbConn,
        county_id: &str,
        actor: &Actor,
    ) -> ApiResult<CreatedWebhook> {
        let id = uuid::Uuid::now_v7().to_string();
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret = hex::encode(bytes);
        let created_at = now();
        let events = serde_json::to_string(&self.events).map_err(|_| ApiError::internal())?;
        diesel::insert_into(webhooks::table)
            .values((
                webhooks::id.eq(&id),
                webhooks::county_id.eq(county_id),
                webhooks::township_id.eq(None::<String>),
                webhooks::village_id.eq(None::<String>),
                webhooks::url.eq(self.url.as_str()),
                webhooks::events.eq(&events),
                webhooks::secret.eq(&secret),
                webhooks::active.eq(true),
                webhooks::created_by.eq(actor.id.as_deref()),
                webhooks::created_at.eq(created_at),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            "webhook.created",
            "webhook",
            &id,
            Some(county_id),
            format!("{} ({})", self.url, self.events.join(", ")),
        )?;
        Ok(CreatedWebhook {
            id,
            url: self.url.to_string(),
            events: self.events.clone(),
            secret,
            created_at: created_at.and_utc(),
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: String,
    pub event_id: String,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub at: NaiveDateTime,
}

/// One attempt to deliver one event.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    /// 1 for the first attempt, then 2, 3, …
    pub attempt: i32,
    /// The subscriber's HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<i32>,
    /// Why the attempt failed without an answer (timeout, refused address, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

impl DeliveryRow {
    pub fn view(self) -> DeliveryView {
        DeliveryView {
            id: self.id,
            event_id: self.event_id,
            attempt: self.attempt,
            status_code: self.status_code,
            error: self.error,
            at: self.at.and_utc(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_need_an_http_url_and_known_events() {
        let ok = NewWebhook::parse(
            "https://example.org/hook",
            &["inspection.submitted".into(), "inspection.submitted".into()],
        )
        .unwrap();
        assert_eq!(ok.events, ["inspection.submitted"]);
        let e = NewWebhook::parse("ftp://x", &[]).unwrap_err();
        let fields: Vec<_> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["url", "events"]);
        let e = NewWebhook::parse("https://example.org", &["inspection.eaten".into()]).unwrap_err();
        assert_eq!(e[0].field, "events[0]");
    }
}

//! The delivery worker: fans new outbox events out to the subscriptions that want them, then
//! claims due jobs and POSTs them, signed, logging every attempt and retrying with backoff.
//! All its state is in the database, so a restart loses nothing and several processes share
//! the work without delivering one job twice at once.

use std::sync::Mutex;
use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::subscription::Webhook;
use super::target;
use crate::clock::now;
use crate::db::schema::{outbox_events, webhook_deliveries, webhook_jobs};
use crate::db::DbConn;
use crate::error::ApiResult;
use crate::http::middleware::RequestLabels;
use crate::state::AppState;

/// How long a claimed job is ours; a process that dies holding it lets it go after this.
pub const LOCK_SECS: i64 = 60;
/// How long one delivery may take before it counts as failed.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait between two attempts.
pub const MAX_BACKOFF_SECS: i64 = 3600;
/// After this long since the event, a job that still fails is given up.
pub const GIVE_UP_AFTER_HOURS: i64 = 24;
/// Jobs one process claims per pass (delivered concurrently).
const BATCH: i64 = 16;
/// Events fanned out per transaction.
const FAN_OUT_BATCH: i64 = 200;

/// Where a delivery job stands (`webhook_jobs.state`), stored under its snake_case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for its first or next attempt.
    Pending,
    Delivered,
    /// Given up after [`GIVE_UP_AFTER_HOURS`] of failed attempts.
    Failed,
    /// The subscription was deleted before the job was delivered.
    Cancelled,
}

impl JobState {
    /// The states a job never leaves: what pruning may delete.
    pub const FINISHED: [JobState; 3] = [Self::Delivered, Self::Failed, Self::Cancelled];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

crate::db::stored_as_text!(JobState);

/// When to try again after `attempts` failed attempts, or `None` to give up.
/// The waits are base, 2·base, 4·base, … capped at one hour; nothing is tried more than
/// 24 hours after the job was created.
pub fn next_attempt_at(
    created_at: NaiveDateTime,
    failed_at: NaiveDateTime,
    attempts: i32,
    base: Duration,
) -> Option<NaiveDateTime> {
    let base_ms = base.as_millis().min(i64::MAX as u128) as i64;
    let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
    let wait_ms = base_ms
        .saturating_mul(1i64 << doublings)
        .min(MAX_BACKOFF_SECS * 1000);
    let next = failed_at + TimeDelta::milliseconds(wait_ms);
    (next <= created_at + TimeDelta::hours(GIVE_UP_AFTER_HOURS)).then_some(next)
}

/// The delivery worker of this process: started by `Application::build` when
/// `FIELDSTAR_WORKERS` is on, stopped gracefully (the pass in progress finishes).
#[derive(Default)]
pub struct WorkerHandle {
    running: Mutex<
        Option<(
            tokio::sync::watch::Sender<bool>,
            tokio::task::JoinHandle<()>,
        )>,
    >,
}

impl WorkerHandle {
    /// Starts the loop on the current actix runtime.
    pub fn start(&self, state: web::Data<AppState>) {
        let Ok(mut running) = self.running.lock() else {
            return;
        };
        if running.is_some() {
            return;
        }
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let poll = Duration::from_millis(state.config.webhook_poll_ms);
        let task = actix_web::rt::spawn(async move {
            let mut pruned_at: Option<std::time::Instant> = None;
            loop {
                // Another process holds the lease: wait for it to be ours.
                if !state.leases.holds(crate::lease::Work::Webhooks) {
                    tokio::select! {
                        _ = tokio::time::sleep(poll) => {}
                        _ = stopped.changed() => break,
                    }
                    continue;
                }
                if pruned_at.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                    pruned_at = Some(std::time::Instant::now());
                    let keep = TimeDelta::days(i64::from(state.config.webhook_retention_days));
                    match prune(&state, now() - keep).await {
                        Ok(p) if p.total() > 0 => tracing::info!(
                            deliveries = p.deliveries,
                            jobs = p.jobs,
                            events = p.events,
                            "pruned old webhook records"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "pruning webhook records failed"),
                    }
                }
                let attempts = run_once(&state).await;
                if *stopped.borrow() {
                    break;
                }
                if attempts == 0 {
                    tokio::select! {
                        _ = tokio::time::sleep(poll) => {}
                        _ = stopped.changed() => break,
                    }
                }
            }
            tracing::info!("webhook worker stopped");
        });
        *running = Some((stop, task));
    }

    /// Stops the loop after the pass in progress; returns once it has stopped.
    pub async fn stop(&self) {
        let running = self.running.lock().ok().and_then(|mut r| r.take());
        if let Some((stop, task)) = running {
            let _ = stop.send(true);
            let _ = task.await;
        }
    }
}

/// How often the worker deletes what is older than `FIELDSTAR_WEBHOOK_RETENTION_DAYS`.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Rows deleted per write transaction while pruning, so the writer is never held for long.
const PRUNE_BATCH: i64 = 1000;

/// What `prune` deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub deliveries: usize,
    pub jobs: usize,
    pub events: usize,
}

impl Pruned {
    pub fn total(&self) -> usize {
        self.deliveries + self.jobs + self.events
    }
}

/// Deletes, in batches, the delivery log entries, the finished jobs (delivered, failed or
/// cancelled) and the dispatched events older than `before`. A pending job and its event stay
/// whatever their age. Idempotent: several processes may prune at once.
pub async fn prune(state: &AppState, before: NaiveDateTime) -> ApiResult<Pruned> {
    let deliveries = in_batches(state, move |conn| {
        let ids = webhook_deliveries::table
            .filter(webhook_deliveries::at.lt(before))
            .select(webhook_deliveries::id)
            .limit(PRUNE_BATCH)
            .load::<String>(conn)?;
        diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(ids)))
            .execute(conn)
    })
    .await?;
    let jobs = in_batches(state, move |conn| {
        let ids = webhook_jobs::table
            // `eq_any` binds plain values: the stored names of the finished states.
            .filter(webhook_jobs::state.eq_any(JobState::FINISHED.map(JobState::as_str)))
            .filter(webhook_jobs::created_at.lt(before))
            .select(webhook_jobs::id)
            .limit(PRUNE_BATCH)
            .load::<String>(conn)?;
        diesel::delete(webhook_jobs::table.filter(webhook_jobs::id.eq_any(ids))).execute(conn)
    })
    .await?;
    let events = in_batches(state, move |conn| {
        let waiting = webhook_jobs::table
            .filter(webhook_jobs::state.eq(JobState::Pending))
            .select(webhook_jobs::event_id);
        let ids = outbox_events::table
            .filter(outbox_events::dispatched.eq(true))
            .filter(outbox_events::occurred_at.lt(before))
            .filter(outbox_events::id.ne_all(waiting))
            .select(outbox_events::id)
            .limit(PRUNE_BATCH)
            .load::<String>(conn)?;
        diesel::delete(outbox_events::table.filter(outbox_events::id.eq_any(ids))).execute(conn)
    })
    .await?;
    Ok(Pruned {
        deliveries,
        jobs,
        events,
    })
}

/// Runs `delete_batch` (at most `PRUNE_BATCH` rows) in its own write transaction until it
/// deletes fewer; returns the rows deleted in all.
async fn in_batches<F>(state: &AppState, delete_batch: F) -> ApiResult<usize>
where
    F: Fn(&mut DbConn) -> QueryResult<usize> + Clone + Send + 'static,
{
    let mut total = 0;
    loop {
        let batch = delete_batch.clone();
        let n = state.db.write(move |conn| Ok(batch(conn)?)).await?;
        total += n;
        if (n as i64) < PRUNE_BATCH {
            return Ok(total);
        }
    }
}

/// One pass: fan out new events, then deliver the due jobs this process can claim. Returns
/// the number of delivery attempts made.
pub async fn run_once(state: &AppState) -> usize {
    if let Err(e) = fan_out(state).await {
        tracing::error!(error = %e, "webhook fan-out failed");
    }
    let jobs = match claim(state).await {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::error!(error = %e, "claiming webhook jobs failed");
            return 0;
        }
    };
    let count = jobs.len();
    futures_util::future::join_all(jobs.into_iter().map(|job| deliver(state, job))).await;
    count
}

/// Turns each undispatched event into one job per active subscription of its county that
/// wants its type, and marks it dispatched, in one transaction.
async fn fan_out(state: &AppState) -> ApiResult<usize> {
    let pending: i64 = state
        .db
        .read(|conn| {
            Ok(outbox_events::table
                .filter(outbox_events::dispatched.eq(false))
                .count()
                .get_result(conn)?)
        })
        .await?;
    if pending == 0 {
        return Ok(0);
    }
    state.db.write(|conn| Ok(dispatch_events(conn)?)).await
}

/// Fans out a batch of undispatched events; call inside a write transaction.
pub fn dispatch_events(conn: &mut DbConn) -> QueryResult<usize> {
    let events: Vec<(String, String, String)> = outbox_events::table
        .filter(outbox_events::dispatched.eq(false))
        .order(outbox_events::id.asc())
        .select((
            outbox_events::id,
            outbox_events::county_id,
            outbox_events::event_type,
        ))
        .limit(FAN_OUT_BATCH)
        .load(conn)?;
    let mut subscriptions: std::collections::HashMap<String, Vec<Webhook>> = Default::default();
    let mut jobs = 0;
    for (event_id, county_id, event_type) in events {
        // Another process may have taken it since the select: the update says who won.
        let won = diesel::update(
            outbox_events::table
                .filter(outbox_events::id.eq(&event_id))
                .filter(outbox_events::dispatched.eq(false)),
        )
        .set(outbox_events::dispatched.eq(true))
        .execute(conn)?;
        if won == 0 {
            continue;
        }
        if !subscriptions.contains_key(&county_id) {
            let hooks = Webhook::active_of_county(conn, &county_id)?;
            subscriptions.insert(county_id.clone(), hooks);
        }
        let t = now();
        for hook in subscriptions[&county_id]
            .iter()
            .filter(|h| h.wants(&event_type))
        {
            diesel::insert_into(webhook_jobs::table)
                .values((
                    webhook_jobs::id.eq(uuid::Uuid::now_v7().to_string()),
                    webhook_jobs::webhook_id.eq(&hook.id),
                    webhook_jobs::event_id.eq(&event_id),
                    webhook_jobs::state.eq(JobState::Pending),
                    webhook_jobs::attempts.eq(0),
                    webhook_jobs::next_attempt_at.eq(t),
                    webhook_jobs::locked_until.eq(None::<NaiveDateTime>),
                    webhook_jobs::created_at.eq(t),
                ))
                .execute(conn)?;
            jobs += 1;
        }
    }
    Ok(jobs)
}

/// A job this process holds the lock of, with what it needs to deliver it.
struct Job {
    id: String,
    attempts: i32,
    created_at: NaiveDateTime,
    hook: Webhook,
    event: Event,
}

#[derive(Serialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    type_: String,
    occurred_at: DateTime<Utc>,
    data: serde_json::Value,
}

/// Due jobs of pending state whose lock is free or lapsed, locked for [`LOCK_SECS`].
async fn claim(state: &AppState) -> ApiResult<Vec<Job>> {
    let t = now();
    let due: i64 = state
        .db
        .read(move |conn| Ok(due_jobs(t).count().get_result(conn)?))
        .await?;
    if due == 0 {
        return Ok(Vec::new());
    }
    state.db.write(move |conn| Ok(claim_tx(conn, t)?)).await
}

type DueJobs = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Filter<webhook_jobs::table, diesel::dsl::Eq<webhook_jobs::state, JobState>>,
        diesel::dsl::LtEq<webhook_jobs::next_attempt_at, NaiveDateTime>,
    >,
    diesel::dsl::Or<
        diesel::dsl::IsNull<webhook_jobs::locked_until>,
        diesel::dsl::Lt<webhook_jobs::locked_until, NaiveDateTime>,
    >,
>;

fn due_jobs(t: NaiveDateTime) -> DueJobs {
    webhook_jobs::table
        .filter(webhook_jobs::state.eq(JobState::Pending))
        .filter(webhook_jobs::next_attempt_at.le(t))
        .filter(
            webhook_jobs::locked_until
                .is_null()
                .or(webhook_jobs::locked_until.lt(t)),
        )
}

fn claim_tx(conn: &mut DbConn, t: NaiveDateTime) -> QueryResult<Vec<Job>> {
    let until = t + TimeDelta::seconds(LOCK_SECS);
    let candidates: Vec<String> = match conn {
        // Rows another process is claiming right now are skipped, not waited for.
        DbConn::Pg(pg) => due_jobs(t)
            .select(webhook_jobs::id)
            .order(webhook_jobs::next_attempt_at.asc())
            .limit(BATCH)
            .for_update()
            .skip_locked()
            .load(pg)?,
        DbConn::Sqlite(_) => due_jobs(t)
            .select(webhook_jobs::id)
            .order(webhook_jobs::next_attempt_at.asc())
            .limit(BATCH)
            .load(conn)?,
    };
    let mut jobs = Vec::new();
    for id in candidates {
        // The lock is ours only if the row still had a free lock when we wrote it.
        let taken = diesel::update(due_jobs(t).filter(webhook_jobs::id.eq(&id)))
            .set(webhook_jobs::locked_until.eq(until))
            .execute(conn)?;
        if taken == 0 {
            continue;
        }
        let (webhook_id, event_id, attempts, created_at): (String, String, i32, NaiveDateTime) =
            webhook_jobs::table
                .find(&id)
                .select((
                    webhook_jobs::webhook_id,
                    webhook_jobs::event_id,
                    webhook_jobs::attempts,
                    webhook_jobs::created_at,
                ))
                .first(conn)?;
        let hook = Webhook::find(conn, &webhook_id)?.filter(|h| h.active);
        let Some(hook) = hook else {
            diesel::update(webhook_jobs::table.find(&id))
                .set((
                    webhook_jobs::state.eq(JobState::Cancelled),
                    webhook_jobs::locked_until.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            continue;
        };
        let (event_type, occurred_at, data): (String, NaiveDateTime, String) = outbox_events::table
            .find(&event_id)
            .select((
                outbox_events::event_type,
                outbox_events::occurred_at,
                outbox_events::data,
            ))
            .first(conn)?;
        jobs.push(Job {
            id,
            attempts,
            created_at,
            hook,
            event: Event {
                id: event_id,
                type_: event_type,
                occurred_at: occurred_at.and_utc(),
                data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
            },
        });
    }
    Ok(jobs)
}

/// `sha256=<hex HMAC-SHA256 of body keyed with the secret>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any size");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// What one attempt came to.
struct Attempt {
    status_code: Option<u16>,
    error: Option<String>,
}

impl Attempt {
    fn delivered(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

async fn post(state: &AppState, job: &Job, body: Vec<u8>) -> Attempt {
    let failed = |error: String| Attempt {
        status_code: None,
        error: Some(error),
    };
    let url = match target::parse_url(&job.hook.url) {
        Ok(url) => url,
        Err(m) => return failed(format!("bad URL: {m}")),
    };
    // Checked again on every attempt: the name may resolve elsewhere than when it was
    // subscribed, or than at the last attempt.
    let allow_private = state.config.webhook_allow_private;
    let (host, addrs) = match target::resolve(&url, allow_private).await {
        Ok(resolved) => resolved,
        Err(m) => return failed(m.to_string()),
    };
    // Only checked addresses are connected to: the ones just checked are pinned, any other
    // name goes through the checking resolver, redirects are not followed, and no proxy (from
    // HTTP_PROXY and the like) stands in between to resolve the name its own way.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(TIMEOUT)
        .dns_resolver(target::CheckedResolver::new(allow_private))
        .resolve_to_addrs(&host, &addrs)
        .build();
    let client = match client {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot build the HTTP client: {e}")),
    };
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            reqwest::header::USER_AGENT,
            concat!("fieldstar/", env!("CARGO_PKG_VERSION")),
        )
        .header("X-Fieldstar-Event", &job.event.type_)
        .header("X-Fieldstar-Delivery", &job.id)
        .header("X-Fieldstar-Signature", signature(&job.hook.secret, &body))
        .body(body)
        .send()
        .await;
    match sent {
        Ok(res) => Attempt {
            status_code: Some(res.status().as_u16()),
            error: None,
        },
        Err(e) if e.is_timeout() => failed(format!("no answer within {} s", TIMEOUT.as_secs())),
        Err(e) if e.is_connect() => failed(format!("cannot connect: {}", root_cause(&e))),
        Err(e) => failed(root_cause(&e)),
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

async fn deliver(state: &AppState, job: Job) {
    let body = match serde_json::to_vec(&job.event) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, job = %job.id, "cannot serialize a webhook event");
            return;
        }
    };
    let attempt = post(state, &job, body).await;
    let status = attempt.status_code.unwrap_or(0);
    state
        .metrics
        .webhook_deliveries
        .get_or_create(&RequestLabels {
            method: "POST".into(),
            route: "webhook".into(),
            status,
        })
        .inc();
    let base = Duration::from_millis(state.config.webhook_retry_base_ms);
    let attempts = job.attempts + 1;
    let t = now();
    let (new_state, next) = if attempt.delivered() {
        (JobState::Delivered, None)
    } else {
        match next_attempt_at(job.created_at, t, attempts, base) {
            Some(next) => (JobState::Pending, Some(next)),
            None => (JobState::Failed, None),
        }
    };
    if attempt.delivered() {
        tracing::info!(job = %job.id, event = %job.event.id, status, "webhook delivered");
    } else {
        tracing::warn!(
            job = %job.id, event = %job.event.id, status, error = attempt.error.as_deref().unwrap_or(""),
            attempt = attempts, state = %new_state, "webhook delivery failed"
        );
    }
    let recorded = state
        .db
        .write(move |conn| {
            diesel::insert_into(webhook_deliveries::table)
                .values((
                    webhook_deliveries::id.eq(uuid::Uuid::now_v7().to_string()),
                    webhook_deliveries::webhook_id.eq(&job.hook.id),
                    webhook_deliveries::event_id.eq(&job.event.id),
                    webhook_deliveries::attempt.eq(attempts),
                    webhook_deliveries::status_code.eq(attempt.status_code.map(i32::from)),
                    webhook_deliveries::error.eq(&attempt.error),
                    webhook_deliveries::at.eq(t),
                ))
                .execute(conn)?;
            diesel::update(webhook_jobs::table.find(&job.id))
                .set((
                    webhook_jobs::state.eq(new_state),
                    webhook_jobs::attempts.eq(attempts),
                    webhook_jobs::next_attempt_at.eq(next.unwrap_or(t)),
                    webhook_jobs::locked_until.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await;
    if let Err(e) = recorded {
        // The lock lapses and the job is tried again: at least once, never lost.
        tracing::error!(error = %e, "cannot record a webhook attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        DateTime::from_timestamp(1_790_000_000 + secs, 0)
            .expect("test time")
            .naive_utc()
    }

    #[test]
    fn retries_back_off_from_ten_seconds_doubling_to_an_hour() {
        let base = Duration::from_secs(10);
        let created = at(0);
        let waits: Vec<i64> = (1..=11)
            .map(|n| {
                let next = next_attempt_at(created, at(100), n, base).expect("retry");
                (next - at(100)).num_seconds()
            })
            .collect();
        assert_eq!(
            waits,
            [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
    }

    #[test]
    fn nothing_is_tried_past_24_hours() {
        let base = Duration::from_secs(10);
        let day = 24 * 3600;
        assert!(next_attempt_at(at(0), at(day - 3600), 20, base).is_some());
        assert!(next_attempt_at(at(0), at(day - 3599), 20, base).is_none());
        assert!(next_attempt_at(at(0), at(day + 1), 1, base).is_none());
    }

    #[test]
    fn signatures_are_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

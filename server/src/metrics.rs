//! What `/metrics` computes when it is scraped: the process (CPU, memory, file descriptors,
//! start time, read from `/proc/self` on Linux) and the domain gauges an operator alerts on
//! (review queue depth and age, webhook backlog, renewals not yet verified), per county.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::db::schema::{
    declarations, inspections, org_units, outbox_events, webhook_jobs, webhooks,
};
use crate::db::DbConn;

/// The version and, when the build set `FIELDSTAR_GIT_COMMIT`, the commit.
pub fn build_labels() -> Vec<(String, String)> {
    vec![
        ("version".into(), env!("CARGO_PKG_VERSION").into()),
        (
            "commit".into(),
            option_env!("FIELDSTAR_GIT_COMMIT")
                .unwrap_or("unknown")
                .into(),
        ),
    ]
}

/// The standard `process_*` metrics (unprefixed, as every Prometheus client names them).
/// Linux only: elsewhere the registry is empty.
pub fn process_registry() -> Registry {
    let mut registry = Registry::default();
    let Some(p) = ProcessStats::read() else {
        return registry;
    };
    let cpu = Counter::<f64, AtomicU64>::default();
    cpu.inc_by(p.cpu_seconds);
    registry.register(
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds",
        cpu,
    );
    for (name, help, value) in [
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            p.resident_bytes,
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            p.virtual_bytes,
        ),
        (
            "process_open_fds",
            "Number of open file descriptors",
            p.open_fds,
        ),
        (
            "process_max_fds",
            "Maximum number of open file descriptors",
            p.max_fds,
        ),
    ] {
        let g = Gauge::<i64>::default();
        g.set(value as i64);
        registry.register(name, help, g);
    }
    let start = Gauge::<f64, AtomicU64>::default();
    start.set(p.start_time_seconds);
    registry.register(
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch in seconds",
        start,
    );
    registry
}

#[derive(Debug, Default)]
struct ProcessStats {
    cpu_seconds: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    open_fds: u64,
    max_fds: u64,
    start_time_seconds: f64,
}

impl ProcessStats {
    /// `/proc/self/stat` fields 14–15 (utime, stime) and 22 (start time) are in clock ticks,
    /// which Linux fixes at 100 a second for user space (USER_HZ); 23 is the virtual size.
    fn read() -> Option<Self> {
        const TICKS: f64 = 100.0;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name (field 2) is in parentheses and may hold spaces: split after it.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| -> Option<f64> { fields.get(n - 3)?.parse().ok() };
        let boot_time: f64 = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let rss_kb: u64 = status
            .lines()
            .find_map(|l| {
                l.strip_prefix("VmRSS:")?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
        let max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| {
                l.lines()
                    .find(|l| l.starts_with("Max open files"))?
                    .split_whitespace()
                    .nth(3)?
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        Some(ProcessStats {
            cpu_seconds: (field(14)? + field(15)?) / TICKS,
            resident_bytes: rss_kb * 1024,
            virtual_bytes: field(23)? as u64,
            open_fds,
            max_fds,
            start_time_seconds: boot_time + field(22)? / TICKS,
        })
    }
}

/// The domain gauges of one county, computed at scrape time.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CountyGauges {
    /// Submitted inspections waiting for a decision (claimed or not).
    pub queue_depth: i64,
    /// Seconds since the oldest of them was submitted (0 when none waits).
    pub oldest_waiting_seconds: i64,
    /// Webhook deliveries not yet made (jobs pending, retries included).
    pub webhook_backlog: i64,
    /// Events not yet handed to the webhook worker (each becomes one job per subscription).
    pub outbox_pending: i64,
    /// This quarter's renewal declarations not verified: pending, inspecting or unverified.
    pub renewals_unverified: i64,
}

/// The gauges of every county that has anything to count, by county code.
pub fn domain(
    conn: &mut DbConn,
    now: NaiveDateTime,
    current_quarter: &str,
) -> QueryResult<HashMap<String, CountyGauges>> {
    use crate::declarations::DeclarationStatus;
    let codes: HashMap<String, String> = org_units::table
        .filter(org_units::level.eq(crate::scope::OrgLevel::County.as_str()))
        .select((org_units::id, org_units::code))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut out: HashMap<String, CountyGauges> = HashMap::new();
    fn entry<'a>(
        out: &'a mut HashMap<String, CountyGauges>,
        codes: &HashMap<String, String>,
        county_id: &str,
    ) -> Option<&'a mut CountyGauges> {
        let code = codes.get(county_id)?;
        Some(out.entry(code.clone()).or_default())
    }
    let queue: Vec<(String, i64, Option<NaiveDateTime>)> = inspections::table
        .filter(inspections::status.eq(crate::inspection::model::InspectionStatus::Submitted))
        .group_by(inspections::county_id)
        .select((
            inspections::county_id,
            count_star(),
            min(inspections::submitted_at),
        ))
        .load(conn)?;
    for (county, n, oldest) in queue {
        if let Some(g) = entry(&mut out, &codes, &county) {
            g.queue_depth = n;
            g.oldest_waiting_seconds = oldest.map_or(0, |t| (now - t).num_seconds().max(0));
        }
    }
    let backlog: Vec<(String, i64)> = webhook_jobs::table
        .inner_join(webhooks::table.on(webhooks::id.eq(webhook_jobs::webhook_id)))
        .filter(webhook_jobs::state.eq(crate::webhooks::worker::JobState::Pending))
        .group_by(webhooks::county_id)
        .select((webhooks::county_id, count_star()))
        .load(conn)?;
    for (county, n) in backlog {
        if let Some(g) = entry(&mut out, &codes, &county) {
            g.webhook_backlog = n;
        }
    }
    let outbox: Vec<(String, i64)> = outbox_events::table
        .filter(outbox_events::dispatched.eq(false))
        .group_by(outbox_events::county_id)
        .select((outbox_events::county_id, count_star()))
        .load(conn)?;
    for (county, n) in outbox {
        if let Some(g) = entry(&mut out, &codes, &county) {
            g.outbox_pending = n;
        }
    }
    let renewals: Vec<(String, i64)> = declarations::table
        .filter(declarations::quarter.eq(current_quarter))
        .filter(declarations::kind.eq("renewal"))
        .filter(
            declarations::status.eq_any(
                [
                    DeclarationStatus::Pending,
                    DeclarationStatus::Inspecting,
                    DeclarationStatus::Unverified,
                ]
                .map(DeclarationStatus::as_str),
            ),
        )
        .group_by(declarations::county_id)
        .select((declarations::county_id, count_star()))
        .load(conn)?;
    for (county, n) in renewals {
        if let Some(g) = entry(&mut out, &codes, &county) {
            g.renewals_unverified = n;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_process_metrics_are_read_from_proc() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let p = super::ProcessStats::read().expect("stats");
        assert!(
            p.resident_bytes > 0 && p.open_fds > 0 && p.max_fds > 0,
            "{p:?}"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(p.start_time_seconds > now - 86_400.0 * 365.0 && p.start_time_seconds <= now + 1.0);
    }
}

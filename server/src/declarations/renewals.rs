//! Renewals: every quarter each village holding a star is verified again, banned or not. A
//! background task creates the quarter's renewal declaration at the village's level and
//! expires what closed verification windows left uninspected, at start-up and hourly; it is
//! idempotent (a village with any declaration for the quarter is left alone).

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::auth::Actor;
use crate::db::schema::{decisions, declarations, star_baselines};
use crate::db::{write_tx, DbConn};
use crate::error::ApiResult;
use crate::org::OrgUnit;
use crate::quarter::Quarter;
use crate::review::rules::DecisionKind;
use crate::stars;

fn system() -> Actor {
    Actor {
        id: None,
        name: "fieldstar".into(),
        request_id: None,
    }
}

/// Creates missing renewal declarations for `quarter`; returns how many it created.
pub fn ensure(conn: &mut DbConn, quarter: Quarter, today: NaiveDate) -> ApiResult<usize> {
    let mut candidates: Vec<String> = star_baselines::table
        .filter(star_baselines::level.gt(0))
        .select(star_baselines::village_id)
        .load(conn)?;
    candidates.extend(
        decisions::table
            .filter(decisions::decision.eq(DecisionKind::Approve.as_str()))
            .select(decisions::village_id)
            .distinct()
            .load::<String>(conn)?,
    );
    candidates.sort();
    candidates.dedup();
    let q = quarter.to_string();
    let declared: Vec<String> = declarations::table
        .filter(declarations::quarter.eq(&q))
        .select(declarations::village_id)
        .load(conn)?;
    let mut created = 0;
    for village_id in candidates.iter().filter(|v| !declared.contains(v)) {
        let Some(village) = OrgUnit::find(conn, village_id)? else {
            continue;
        };
        let status = stars::status_of(conn, &village, today)?;
        if status.level == 0 {
            continue;
        }
        let level = status.level as i32;
        let outcome = write_tx(conn, |c| {
            super::routes::declare(
                c,
                &village,
                quarter,
                level,
                today,
                super::DeclarationStatus::Pending,
                &system(),
            )
        });
        match outcome {
            Ok(_) => created += 1,
            // Someone declared for this village meanwhile: nothing to do.
            Err(e) if e.status.is_client_error() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}

/// Runs `ensure` for the current quarter now and then every hour.
pub fn spawn(state: actix_web::web::Data<crate::state::AppState>) {
    actix_web::rt::spawn(async move {
        let mut last: Option<std::time::Instant> = None;
        loop {
            // Only the process holding the lease runs it: at once when it takes the lease,
            // then hourly while it holds it.
            let holds = state.leases.holds(crate::lease::Work::Renewals);
            if !holds {
                last = None;
            }
            if !holds || last.is_some_and(|t| t.elapsed() < HOURLY) {
                actix_web::rt::time::sleep(state.config.lease_retry.min(HOURLY)).await;
                continue;
            }
            last = Some(std::time::Instant::now());
            let tz = state.config.timezone;
            let now = chrono::Utc::now();
            let quarter = Quarter::of_instant(now, tz);
            let today = crate::clock::day_at(now, tz);
            let db = state.db.clone();
            match db
                .write(move |conn| super::window::close_due(conn, None, today, &system()))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "declarations expired by closed windows"),
                Err(e) => {
                    tracing::warn!(error = %e, "expiring declarations failed; retrying in an hour")
                }
            }
            let db = state.db.clone();
            match db.read(move |conn| ensure(conn, quarter, today)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(created = n, %quarter, "renewal declarations created"),
                Err(e) => {
                    tracing::warn!(error = %e, "renewal declarations failed; retrying in an hour")
                }
            }
        }
    });
}

const HOURLY: std::time::Duration = std::time::Duration::from_secs(3600);

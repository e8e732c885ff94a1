//! A quarter's verification window: the days in which the county inspects that quarter's
//! declarations (after the quarter's service round). When it closes, what was not inspected
//! expires: upgrades become `expired`, renewals `unverified` (the village keeps its level).

use chrono::{Days, NaiveDate};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::DeclarationStatus;
use crate::auth::Actor;
use crate::db::schema::{declarations, inspections, org_units, quarter_windows};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::i18n::Rule;
use crate::inspection::model::InspectionStatus;
use crate::quarter::Quarter;
use crate::stars::engine::DeclarationKind;
use crate::webhooks::outbox;
use crate::{audit, clock::now};

/// Days after a quarter's last day that its default window stays open.
pub const GRACE_DAYS: u64 = 15;
/// The latest a window may close: this many days after its quarter's last day.
pub const MAX_CLOSE_AFTER_DAYS: u64 = 92;

/// The days, both included, in which a quarter's declarations are inspected.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub opens_on: NaiveDate,
    pub closes_on: NaiveDate,
}

impl Window {
    /// The window a county set for `quarter` (its `quarter_windows` row's days), or the default
    /// one; and whether the county set it.
    pub fn stored_or_default(
        row: Option<(NaiveDate, NaiveDate)>,
        quarter: Quarter,
    ) -> (Self, bool) {
        match row {
            Some((opens_on, closes_on)) => (
                Window {
                    opens_on,
                    closes_on,
                },
                true,
            ),
            None => (Window::default_for(quarter), false),
        }
    }

    /// The programme's default: from the quarter's first day to 15 days after its last.
    pub fn default_for(quarter: Quarter) -> Window {
        Window {
            opens_on: quarter.first_day(),
            closes_on: quarter.last_day() + Days::new(GRACE_DAYS),
        }
    }

    /// A window an admin sets for `quarter`, or the fields at fault: it opens on or after the
    /// quarter's first day and closes on or after it opens, at most 92 days after the
    /// quarter's last day.
    pub fn new(
        quarter: Quarter,
        opens_on: NaiveDate,
        closes_on: NaiveDate,
    ) -> Result<Window, Vec<FieldError>> {
        let mut errors = Vec::new();
        if opens_on < quarter.first_day() {
            errors.push(FieldError::new(
                "opens_on",
                Rule::WindowOpensEarly.with("date", quarter.first_day().to_string()),
            ));
        }
        let latest = quarter.last_day() + Days::new(MAX_CLOSE_AFTER_DAYS);
        if closes_on < opens_on {
            errors.push(FieldError::new(
                "closes_on",
                Rule::NotBefore
                    .with("other", "opens_on")
                    .with("date", opens_on.to_string()),
            ));
        } else if closes_on > latest {
            errors.push(FieldError::new(
                "closes_on",
                Rule::WindowClosesLate
                    .with("days", MAX_CLOSE_AFTER_DAYS)
                    .with("date", latest.to_string()),
            ));
        }
        if errors.is_empty() {
            Ok(Window {
                opens_on,
                closes_on,
            })
        } else {
            Err(errors)
        }
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        (self.opens_on..=self.closes_on).contains(&day)
    }

    /// Whether the window has closed by `today` (its last day has passed).
    pub fn is_closed(&self, today: NaiveDate) -> bool {
        today > self.closes_on
    }

    /// The first day after the window: what it did not verify expires on this day.
    pub fn expires_on(&self) -> NaiveDate {
        self.closes_on + Days::new(1)
    }
}

/// What a declaration becomes when its window closes uninspected.
pub fn expired_status(kind: &str) -> DeclarationStatus {
    if DeclarationKind::parse(kind) == Some(DeclarationKind::Renewal) {
        DeclarationStatus::Unverified
    } else {
        DeclarationStatus::Expired
    }
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct WindowView {
    pub county_id: String,
    /// `YYYY-Qn`.
    pub quarter: String,
    /// The first day on which the quarter's declarations may be inspected.
    pub opens_on: NaiveDate,
    /// The last day; the day after it, what was not inspected expires.
    pub closes_on: NaiveDate,
    /// False while the programme's default window applies.
    pub customized: bool,
    /// Whether the window has closed (today is after `closes_on`).
    pub closed: bool,
}

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct WindowBody {
    /// `YYYY-MM-DD`, on or after the quarter's first day.
    pub opens_on: NaiveDate,
    /// `YYYY-MM-DD`, on or after `opens_on`, at most 92 days after the quarter's last day.
    pub closes_on: NaiveDate,
}

/// The county's window for `quarter`, and whether its admin set it.
pub fn window_of(
    conn: &mut DbConn,
    county_id: &str,
    quarter: Quarter,
) -> QueryResult<(Window, bool)> {
    let key = quarter.to_string();
    let row: Option<(NaiveDate, NaiveDate)> =
        crate::db::on_backend!(conn, |c| quarter_windows::table
            .find((county_id, &key))
            .select((quarter_windows::opens_on, quarter_windows::closes_on))
            .first(c)
            .optional())?;
    Ok(Window::stored_or_default(row, quarter))
}

pub fn view(
    conn: &mut DbConn,
    county_id: &str,
    quarter: Quarter,
    today: NaiveDate,
) -> QueryResult<WindowView> {
    let (window, customized) = window_of(conn, county_id, quarter)?;
    Ok(WindowView {
        county_id: county_id.to_string(),
        quarter: quarter.to_string(),
        opens_on: window.opens_on,
        closes_on: window.closes_on,
        customized,
        closed: window.is_closed(today),
    })
}

/// Sets the county's window for `quarter` (audited); a window that is already closed expires
/// the quarter's open declarations at once. Call inside a write transaction.
pub fn set(
    conn: &mut DbConn,
    county_id: &str,
    quarter: Quarter,
    window: Window,
    actor: &Actor,
    today: NaiveDate,
) -> ApiResult<WindowView> {
    let t = now();
    let key = (county_id.to_string(), quarter.to_string());
    let updated = diesel::update(quarter_windows::table.find(key))
        .set((
            quarter_windows::opens_on.eq(window.opens_on),
            quarter_windows::closes_on.eq(window.closes_on),
            quarter_windows::updated_by.eq(actor.id.as_deref()),
            quarter_windows::updated_at.eq(t),
        ))
        .execute(conn)?;
    if updated == 0 {
        let inserted = diesel::insert_into(quarter_windows::table)
            .values((
                quarter_windows::county_id.eq(county_id),
                quarter_windows::quarter.eq(quarter.to_string()),
                quarter_windows::opens_on.eq(window.opens_on),
                quarter_windows::closes_on.eq(window.closes_on),
                quarter_windows::updated_by.eq(actor.id.as_deref()),
                quarter_windows::updated_at.eq(t),
            ))
            .execute(conn);
        match inserted {
            // Another admin set the same quarter's window at the same moment (PostgreSQL).
            Err(e) if crate::db::is_unique_violation(&e) => {
                return Err(ApiError::conflict(
                    "window_changed",
                    "the window was changed at the same time; try again",
                ))
            }
            other => other?,
        };
    }
    audit::record(
        conn,
        actor,
        "quarter_window.set",
        "quarter_window",
        &format!("{county_id}/{quarter}"),
        Some(county_id),
        format!(
            "{quarter}: verification from {} to {}",
            window.opens_on, window.closes_on
        ),
    )?;
    close_due(conn, Some(county_id), today, actor)?;
    Ok(view(conn, county_id, quarter, today)?)
}

/// Expires the open declarations whose quarter's window has closed by `today` (in one county,
/// or all): an upgrade becomes `expired`, a renewal `unverified`, each with a
/// `declaration.expired` event; their unsubmitted inspections are cancelled. A declaration whose
/// inspection is submitted and waiting for its reviewer stays open: the county inspected it in
/// time. Returns how many expired.
pub fn close_due(
    conn: &mut DbConn,
    county_id: Option<&str>,
    today: NaiveDate,
    actor: &Actor,
) -> ApiResult<usize> {
    let mut q = declarations::table
        .filter(
            declarations::status.eq_any(
                [
                    DeclarationStatus::AwaitingTownship,
                    DeclarationStatus::Pending,
                    DeclarationStatus::Inspecting,
                ]
                .map(DeclarationStatus::as_str),
            ),
        )
        .select((declarations::county_id, declarations::quarter))
        .distinct()
        .into_boxed();
    if let Some(c) = county_id {
        q = q.filter(declarations::county_id.eq(c.to_string()));
    }
    let groups: Vec<(String, String)> = q.load(conn)?;
    let mut expired = 0;
    for (county, quarter_text) in groups {
        let Ok(quarter) = Quarter::parse(&quarter_text) else {
            continue;
        };
        let (window, _) = window_of(conn, &county, quarter)?;
        if !window.is_closed(today) {
            continue;
        }
        expired += expire_quarter(conn, &county, quarter, &window, actor)?;
    }
    Ok(expired)
}

fn expire_quarter(
    conn: &mut DbConn,
    county_id: &str,
    quarter: Quarter,
    window: &Window,
    actor: &Actor,
) -> ApiResult<usize> {
    let open: Vec<(String, String, String, i32)> = declarations::table
        .filter(declarations::county_id.eq(county_id))
        .filter(declarations::quarter.eq(quarter.to_string()))
        .filter(
            declarations::status.eq_any(
                [
                    DeclarationStatus::AwaitingTownship,
                    DeclarationStatus::Pending,
                    DeclarationStatus::Inspecting,
                ]
                .map(DeclarationStatus::as_str),
            ),
        )
        .select((
            declarations::id,
            declarations::village_id,
            declarations::kind,
            declarations::star_level,
        ))
        .load(conn)?;
    let mut expired = 0;
    for (id, village_id, kind, level) in open {
        let awaiting_review: i64 = inspections::table
            .filter(inspections::declaration_id.eq(&id))
            .filter(
                inspections::status
                    .eq_any(InspectionStatus::AWAITING_REVIEW.map(InspectionStatus::as_str)),
            )
            .count()
            .get_result(conn)?;
        if awaiting_review > 0 {
            continue;
        }
        let status = expired_status(&kind);
        let t = now();
        diesel::update(declarations::table.find(&id))
            .set((
                declarations::status.eq(status),
                declarations::closed_on.eq(window.expires_on()),
                declarations::updated_at.eq(t),
            ))
            .execute(conn)?;
        diesel::update(
            inspections::table
                .filter(inspections::declaration_id.eq(&id))
                .filter(
                    inspections::status.eq_any(
                        [InspectionStatus::AwaitingPhotos, InspectionStatus::Returned]
                            .map(InspectionStatus::as_str),
                    ),
                ),
        )
        .set((
            inspections::status.eq(InspectionStatus::Cancelled),
            inspections::claimed_by.eq(None::<String>),
            inspections::claim_expires_at.eq(None::<chrono::NaiveDateTime>),
            inspections::updated_at.eq(t),
        ))
        .execute(conn)?;
        let code: Option<String> = org_units::table
            .find(&village_id)
            .select(org_units::code)
            .first(conn)
            .optional()?;
        audit::record(
            conn,
            actor,
            "declaration.expired",
            "declaration",
            &id,
            Some(county_id),
            format!(
                "{} level {level} ({kind}) for {quarter}: {status}, the window closed on {}",
                code.as_deref().unwrap_or(&village_id),
                window.closes_on
            ),
        )?;
        outbox::enqueue(
            conn,
            county_id,
            outbox::DECLARATION_EXPIRED,
            json!({
                "declaration_id": id, "village_id": village_id, "village_code": code,
                "quarter": quarter.to_string(), "star_level": level, "kind": kind,
                "status": status, "window_closed_on": window.closes_on,
            }),
        )?;
        expired += 1;
    }
    Ok(expired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("test date")
    }

    fn q4() -> Quarter {
        Quarter::parse("2026-Q4").expect("quarter")
    }

    #[test]
    fn the_default_window_runs_from_the_first_day_to_fifteen_days_after_the_last() {
        let w = Window::default_for(q4());
        assert_eq!(w.opens_on, day(2026, 10, 1));
        assert_eq!(w.closes_on, day(2027, 1, 15));
        assert!(w.contains(day(2026, 10, 1)));
        assert!(w.contains(day(2027, 1, 15)));
        assert!(!w.contains(day(2026, 9, 30)));
        assert!(!w.contains(day(2027, 1, 16)));
        assert!(!w.is_closed(day(2027, 1, 15)));
        assert!(w.is_closed(day(2027, 1, 16)));
        assert_eq!(w.expires_on(), day(2027, 1, 16));
    }

    #[test]
    fn an_admin_window_is_checked_field_by_field() {
        let ok = Window::new(q4(), day(2026, 12, 1), day(2027, 1, 31)).expect("valid");
        assert_eq!(ok.closes_on, day(2027, 1, 31));
        let fields = |r: Result<Window, Vec<FieldError>>| -> Vec<String> {
            r.unwrap_err().into_iter().map(|e| e.field).collect()
        };
        assert_eq!(
            fields(Window::new(q4(), day(2026, 9, 30), day(2026, 12, 1))),
            ["opens_on"]
        );
        assert_eq!(
            fields(Window::new(q4(), day(2026, 12, 2), day(2026, 12, 1))),
            ["closes_on"]
        );
        assert!(Window::new(q4(), day(2026, 12, 1), day(2027, 4, 2)).is_ok());
        assert_eq!(
            fields(Window::new(q4(), day(2026, 12, 1), day(2027, 4, 3))),
            ["closes_on"]
        );
        assert!(
            Window::new(q4(), day(2026, 10, 1), day(2026, 10, 1)).is_ok(),
            "a one-day window"
        );
    }

    #[test]
    fn an_uninspected_renewal_is_unverified_and_an_upgrade_expired() {
        assert_eq!(
            expired_status(DeclarationKind::Renewal.as_str()),
            DeclarationStatus::Unverified
        );
        assert_eq!(
            expired_status(DeclarationKind::Upgrade.as_str()),
            DeclarationStatus::Expired
        );
    }
}

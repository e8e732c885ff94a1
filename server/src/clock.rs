//! Time, in one place: the instant as stored, and the county's calendar day.
//!
//! Rules never read the clock: handlers read it here and pass the instant or the day in, so the
//! pure rules (stars, coverage, windows) are tested with any date.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;

/// The county's time zone when `FIELDSTAR_TIMEZONE` is not set (and the demo county's).
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Shanghai;

/// The current time as stored: UTC, without zone, to the microsecond (both backends keep it).
pub fn now() -> NaiveDateTime {
    let t = Utc::now().naive_utc();
    t.with_nanosecond(t.and_utc().timestamp_subsec_micros() * 1000)
        .unwrap_or(t)
}

/// The calendar day on the county's wall clock at `instant`.
pub fn day_at(instant: DateTime<Utc>, tz: Tz) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

/// Today on the county's wall clock: the default `as_of`, the day a change takes effect.
pub fn today(tz: Tz) -> NaiveDate {
    day_at(Utc::now(), tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_county_day_turns_at_local_midnight() {
        let utc = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            day_at(utc("2026-11-30T15:59:59Z"), DEFAULT_TIMEZONE),
            day("2026-11-30")
        );
        assert_eq!(
            day_at(utc("2026-11-30T16:00:00Z"), DEFAULT_TIMEZONE),
            day("2026-12-01")
        );
        assert_eq!(
            day_at(utc("2026-11-30T16:00:00Z"), chrono_tz::UTC),
            day("2026-11-30")
        );
    }

    #[test]
    fn now_keeps_microseconds_only() {
        assert_eq!(now().and_utc().timestamp_subsec_nanos() % 1000, 0);
    }
}

//! Quarters (`2026-Q4`): the programme's evaluation period, always reckoned in the county's
//! time zone. Owns parsing, the wire form, calendar bounds and which quarters may be declared.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Years a quarter may name on the wire; anything else is a typo, not a plan.
pub const FIRST_YEAR: i32 = 2000;
pub const LAST_YEAR: i32 = 2100;

/// During this many final days of a quarter (the last day included) a village may already
/// declare for the next one, so that secretaries are not forced to wait for the turn of the quarter.
pub const DECLARE_AHEAD_DAYS: u64 = 14;

/// A calendar quarter. Ordered chronologically (year, then quarter).
#[derive(Copy, Clone, Eq, PartialEq, Ord, PartialOrd, Hash, Debug)]
pub struct Quarter {
    year: i32,
    q: u8,
}

impl Quarter {
    /// A quarter named by the programme: year 2000..=2100, quarter 1..=4.
    pub fn new(year: i32, q: u8) -> Result<Quarter, String> {
        if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
            return Err(format!(
                "quarter year must be between {FIRST_YEAR} and {LAST_YEAR}, got {year}"
            ));
        }
        if !(1..=4).contains(&q) {
            return Err(format!("quarter must be Q1 to Q4, got Q{q}"));
        }
        Ok(Quarter { year, q })
    }

    /// Parses exactly `YYYY-Qn` (upper-case `Q`, no spaces).
    pub fn parse(text: &str) -> Result<Quarter, String> {
        let malformed = || format!("expected a quarter like 2026-Q4, got {text:?}");
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 7
            && bytes[..4].iter().all(u8::is_ascii_digit)
            && bytes[4] == b'-'
            && bytes[5] == b'Q'
            && bytes[6].is_ascii_digit();
        if !shape_ok {
            return Err(malformed());
        }
        let year = text[..4].parse::<i32>().map_err(|_| malformed())?;
        Quarter::new(year, bytes[6] - b'0')
    }

    /// A quarter named in a request: `YYYY-Qn`, else 422 naming `field`.
    pub fn param(field: &str, text: &str) -> Result<Quarter, crate::error::ApiError> {
        Quarter::parse(text).map_err(|_| {
            crate::error::ApiError::field(field, crate::i18n::Rule::QuarterFormat.with("got", text))
        })
    }

    /// The quarter a calendar date falls in.
    pub fn containing(date: NaiveDate) -> Quarter {
        Quarter {
            year: date.year(),
            q: (date.month0() / 3 + 1) as u8,
        }
    }

    /// The quarter an instant falls in, as seen on the county's wall clock.
    pub fn of_instant(instant: DateTime<Utc>, tz: Tz) -> Quarter {
        Quarter::containing(crate::clock::day_at(instant, tz))
    }

    pub fn year(self) -> i32 {
        self.year
    }

    /// 1 to 4.
    pub fn q(self) -> u8 {
        self.q
    }

    pub fn first_day(self) -> NaiveDate {
        let month = u32::from(self.q - 1) * 3 + 1;
        // Every constructor keeps the year inside chrono's calendar (see `next`/`prev`).
        NaiveDate::from_ymd_opt(self.year, month, 1).expect("quarter lies inside chrono's calendar")
    }

    pub fn last_day(self) -> NaiveDate {
        match self.next() {
            next if next != self => next.first_day() - Days::new(1),
            _ => NaiveDate::MAX,
        }
    }

    /// The first instant of the quarter in the county's time zone.
    pub fn start_utc(self, tz: Tz) -> DateTime<Utc> {
        local_day_start_utc(self.first_day(), tz)
    }

    /// The first instant after the quarter (exclusive end) in the county's time zone.
    pub fn end_utc(self, tz: Tz) -> DateTime<Utc> {
        local_day_start_utc(self.last_day() + Days::new(1), tz)
    }

    /// The following quarter; saturates at the end of chrono's calendar (year 262142).
    pub fn next(self) -> Quarter {
        let candidate = match self.q {
            4 => Quarter {
                year: self.year + 1,
                q: 1,
            },
            q => Quarter {
                year: self.year,
                q: q + 1,
            },
        };
        if candidate.year > NaiveDate::MAX.year() {
            self
        } else {
            candidate
        }
    }

    /// The preceding quarter; saturates at the start of chrono's calendar.
    pub fn prev(self) -> Quarter {
        let candidate = match self.q {
            1 => Quarter {
                year: self.year - 1,
                q: 4,
            },
            q => Quarter {
                year: self.year,
                q: q - 1,
            },
        };
        if candidate.year < NaiveDate::MIN.year() {
            self
        } else {
            candidate
        }
    }
}

/// Local midnight of `date` in `tz`. Where a zone skips midnight (a DST gap) the day starts at
/// the first wall-clock time that exists; where midnight repeats, at its earlier occurrence.
fn local_day_start_utc(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    (0..=24 * 4)
        .map(|step| midnight + TimeDelta::minutes(15 * step))
        .find_map(|local| tz.from_local_datetime(&local).earliest())
        .map(|start| start.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc())
}

/// The quarters a village may declare for at `now`: the current quarter in the county's time
/// zone and, during its last [`DECLARE_AHEAD_DAYS`] days, also the next one.
pub fn declarable_quarters(now: DateTime<Utc>, tz: Tz) -> Vec<Quarter> {
    let today = crate::clock::day_at(now, tz);
    let current = Quarter::containing(today);
    let next = current.next();
    let days_left = (current.last_day() - today).num_days();
    if days_left < DECLARE_AHEAD_DAYS as i64 && next != current {
        vec![current, next]
    } else {
        vec![current]
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-Q{}", self.year, self.q)
    }
}

impl FromStr for Quarter {
    type Err = String;

    fn from_str(text: &str) -> Result<Quarter, String> {
        Quarter::parse(text)
    }
}

impl Serialize for Quarter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quarter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Quarter, D::Error> {
        let text = String::deserialize(deserializer)?;
        Quarter::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai;

    fn q(text: &str) -> Quarter {
        Quarter::parse(text).expect("test quarter")
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("test date")
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn parse_accepts_the_wire_form_and_display_round_trips() {
        for text in ["2000-Q1", "2026-Q4", "2100-Q3", "2031-Q2"] {
            assert_eq!(q(text).to_string(), text);
        }
        assert_eq!(q("2026-Q4").year(), 2026);
        assert_eq!(q("2026-Q4").q(), 4);
        assert_eq!("2026-Q2".parse::<Quarter>(), Quarter::new(2026, 2));
    }

    #[test]
    fn parse_refuses_anything_but_the_strict_form() {
        for text in [
            "",
            "2026",
            "2026-Q",
            "2026-Q0",
            "2026-Q5",
            "2026-q4",
            "2026Q4",
            "2026-Q4 ",
            " 2026-Q4",
            "26-Q4",
            "02026-Q4",
            "2026-Q04",
            "1999-Q4",
            "2101-Q1",
            "+026-Q4",
            "２０２６-Q4",
            "2026-4",
            "2026/Q4",
            "2026-Ｑ4",
            "abcd-Q1",
        ] {
            let error = Quarter::parse(text).expect_err(text);
            assert!(!error.is_empty());
        }
    }

    #[test]
    fn new_checks_year_and_quarter() {
        assert!(Quarter::new(2026, 1).is_ok());
        assert!(Quarter::new(2026, 0).is_err());
        assert!(Quarter::new(2026, 5).is_err());
        assert!(Quarter::new(1999, 1).is_err());
        assert!(Quarter::new(2101, 1).is_err());
    }

    #[test]
    fn quarters_order_chronologically() {
        assert!(q("2025-Q4") < q("2026-Q1"));
        assert!(q("2026-Q1") < q("2026-Q2"));
    }

    #[test]
    fn serde_uses_the_string_form() {
        assert_eq!(
            serde_json::to_string(&q("2026-Q4")).expect("json"),
            "\"2026-Q4\""
        );
        let back: Quarter = serde_json::from_str("\"2027-Q1\"").expect("json");
        assert_eq!(back, q("2027-Q1"));
        assert!(serde_json::from_str::<Quarter>("\"2027-Q9\"").is_err());
        assert!(serde_json::from_str::<Quarter>("20271").is_err());
    }

    #[test]
    fn containing_maps_months_to_quarters() {
        assert_eq!(Quarter::containing(date(2026, 1, 1)), q("2026-Q1"));
        assert_eq!(Quarter::containing(date(2026, 3, 31)), q("2026-Q1"));
        assert_eq!(Quarter::containing(date(2026, 4, 1)), q("2026-Q2"));
        assert_eq!(Quarter::containing(date(2026, 6, 30)), q("2026-Q2"));
        assert_eq!(Quarter::containing(date(2026, 7, 1)), q("2026-Q3"));
        assert_eq!(Quarter::containing(date(2026, 9, 30)), q("2026-Q3"));
        assert_eq!(Quarter::containing(date(2026, 10, 1)), q("2026-Q4"));
        assert_eq!(Quarter::containing(date(2026, 12, 31)), q("2026-Q4"));
    }

    #[test]
    fn first_and_last_days_bound_the_quarter() {
        assert_eq!(q("2026-Q1").first_day(), date(2026, 1, 1));
        assert_eq!(q("2026-Q1").last_day(), date(2026, 3, 31));
        assert_eq!(q("2028-Q1").last_day(), date(2028, 3, 31));
        assert_eq!(q("2026-Q2").last_day(), date(2026, 6, 30));
        assert_eq!(q("2026-Q3").first_day(), date(2026, 7, 1));
        assert_eq!(q("2026-Q3").last_day(), date(2026, 9, 30));
        assert_eq!(q("2026-Q4").first_day(), date(2026, 10, 1));
        assert_eq!(q("2026-Q4").last_day(), date(2026, 12, 31));
    }

    #[test]
    fn next_and_prev_roll_over_the_year() {
        assert_eq!(q("2026-Q4").next(), q("2027-Q1"));
        assert_eq!(q("2027-Q1").prev(), q("2026-Q4"));
        assert_eq!(q("2026-Q2").next(), q("2026-Q3"));
        assert_eq!(q("2026-Q2").prev(), q("2026-Q1"));
        assert_eq!(q("2100-Q4").next().to_string(), "2101-Q1");
    }

    #[test]
    fn next_and_prev_saturate_at_the_ends_of_the_calendar() {
        let last = Quarter::containing(NaiveDate::MAX);
        assert_eq!(last.next(), last);
        assert_eq!(last.last_day(), NaiveDate::MAX);
        let first = Quarter::containing(NaiveDate::MIN);
        assert_eq!(first.prev(), first);
        assert_eq!(first.first_day(), NaiveDate::MIN);
    }

    #[test]
    fn shanghai_instants_belong_to_the_local_quarter() {
        // 16:00 UTC is midnight in Shanghai (UTC+8).
        assert_eq!(
            Quarter::of_instant(utc("2026-09-30T15:59:59Z"), Shanghai),
            q("2026-Q3")
        );
        assert_eq!(
            Quarter::of_instant(utc("2026-09-30T16:00:00Z"), Shanghai),
            q("2026-Q4")
        );
        assert_eq!(
            Quarter::of_instant(utc("2026-12-31T16:00:00Z"), Shanghai),
            q("2027-Q1")
        );
        assert_eq!(
            Quarter::of_instant(utc("2026-12-31T16:00:00Z"), chrono_tz::UTC),
            q("2026-Q4")
        );
    }

    #[test]
    fn start_and_end_are_local_midnights_in_utc() {
        assert_eq!(
            q("2026-Q4").start_utc(Shanghai),
            utc("2026-09-30T16:00:00Z")
        );
        assert_eq!(q("2026-Q4").end_utc(Shanghai), utc("2026-12-31T16:00:00Z"));
        assert_eq!(
            q("2026-Q4").end_utc(Shanghai),
            q("2027-Q1").start_utc(Shanghai)
        );
        assert_eq!(
            q("2026-Q1").start_utc(chrono_tz::UTC),
            utc("2026-01-01T00:00:00Z")
        );
    }

    #[test]
    fn start_skips_a_midnight_that_does_not_exist() {
        // Santiago moved clocks from 00:00 to 01:00 on 2022-09-11; no such date starts a quarter,
        // so check the helper directly.
        let start = local_day_start_utc(date(2022, 9, 11), chrono_tz::America::Santiago);
        assert_eq!(start, utc("2022-09-11T04:00:00Z"));
    }

    #[test]
    fn only_the_current_quarter_is_declarable_mid_quarter() {
        assert_eq!(
            declarable_quarters(utc("2026-11-20T02:00:00Z"), Shanghai),
            vec![q("2026-Q4")]
        );
    }

    #[test]
    fn the_next_quarter_opens_fourteen_days_before_the_turn() {
        // Q4 ends 2026-12-31; its last 14 days are Dec 18..=31 in Shanghai.
        assert_eq!(
            declarable_quarters(utc("2026-12-17T15:59:59Z"), Shanghai),
            vec![q("2026-Q4")]
        );
        assert_eq!(
            declarable_quarters(utc("2026-12-17T16:00:00Z"), Shanghai),
            vec![q("2026-Q4"), q("2027-Q1")]
        );
        assert_eq!(
            declarable_quarters(utc("2026-12-31T15:59:59Z"), Shanghai),
            vec![q("2026-Q4"), q("2027-Q1")]
        );
        assert_eq!(
            declarable_quarters(utc("2026-12-31T16:00:00Z"), Shanghai),
            vec![q("2027-Q1")]
        );
    }
}

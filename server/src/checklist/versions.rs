//! Which checklist version an inspection may use: the one that was current for its level when
//! the inspection started, or a later one. Pure; the server loads the published versions.

use chrono::{DateTime, Utc};

use crate::i18n::{Msg, Rule};

/// One published version of a checklist code: its number and when it was published.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub version: i32,
    pub published_at: DateTime<Utc>,
}

/// The version current at `at`: the newest published no later than `at` (by version number;
/// published versions are numbered in order). `None` when nothing was published by then.
pub fn current_at(published: &[Published], at: DateTime<Utc>) -> Option<i32> {
    published
        .iter()
        .filter(|p| p.published_at <= at)
        .map(|p| p.version)
        .max()
}

/// Whether an inspection started at `started_at` may use version `used` of checklist `code`:
/// it may use the version current when it started or any later one (a phone offline across a
/// publish keeps its version; a version published after the start never invalidates it).
/// The error names the current version.
pub fn check_version(
    code: &str,
    used: i32,
    published: &[Published],
    started_at: DateTime<Utc>,
) -> Result<(), Msg> {
    match current_at(published, started_at) {
        Some(current) if used < current => Err(Rule::VersionSuperseded
            .with("code", code)
            .with("current", current)
            .with("used", used)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test instant")
            .with_timezone(&Utc)
    }

    fn published(version: i32, when: &str) -> Published {
        Published {
            version,
            published_at: at(when),
        }
    }

    fn history() -> Vec<Published> {
        vec![
            published(1, "2026-01-10T00:00:00Z"),
            published(2, "2026-04-01T08:00:00Z"),
            published(3, "2026-10-01T08:00:00Z"),
        ]
    }

    #[test]
    fn the_current_version_is_the_newest_published_by_then() {
        let h = history();
        assert_eq!(current_at(&h, at("2026-01-09T23:59:59Z")), None);
        assert_eq!(current_at(&h, at("2026-01-10T00:00:00Z")), Some(1));
        assert_eq!(current_at(&h, at("2026-04-01T07:59:59Z")), Some(1));
        assert_eq!(current_at(&h, at("2026-04-01T08:00:00Z")), Some(2));
        assert_eq!(current_at(&h, at("2026-11-20T02:10:00Z")), Some(3));
        assert_eq!(current_at(&[], at("2026-11-20T02:10:00Z")), None);
    }

    #[test]
    fn the_order_of_the_list_does_not_matter() {
        let mut h = history();
        h.reverse();
        assert_eq!(current_at(&h, at("2026-05-01T00:00:00Z")), Some(2));
    }

    #[test]
    fn the_current_version_or_a_later_one_is_accepted() {
        let h = history();
        let started = at("2026-05-01T00:00:00Z");
        assert_eq!(check_version("star-1", 2, &h, started), Ok(()));
        // Published after the start: a later version is always fine.
        assert_eq!(check_version("star-1", 3, &h, started), Ok(()));
    }

    #[test]
    fn a_phone_offline_across_a_publish_keeps_its_version() {
        // Started with version 2 the minute before version 3 was published, synced a week later.
        let h = history();
        assert_eq!(
            check_version("star-1", 2, &h, at("2026-10-01T07:59:00Z")),
            Ok(())
        );
    }

    #[test]
    fn an_older_version_is_refused_naming_the_current_one() {
        let h = history();
        let err = check_version("star-1", 1, &h, at("2026-04-01T08:00:00Z"))
            .expect_err("old")
            .to_string();
        assert_eq!(
            err,
            "star-1 version 2 was current when this inspection started; version 1 was superseded \
             by then"
        );
        let err = check_version("star-1", 2, &h, at("2026-11-20T02:10:00Z"))
            .expect_err("old")
            .to_string();
        assert!(
            err.contains("version 3 was current when this inspection started"),
            "{err}"
        );
    }

    #[test]
    fn before_anything_was_published_any_published_version_goes() {
        let h = history();
        assert_eq!(
            check_version("star-1", 1, &h, at("2025-12-31T00:00:00Z")),
            Ok(())
        );
    }
}

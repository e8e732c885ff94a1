//! Mentoring coverage of a village for one quarter: which mentees had their quarterly follow-up,
//! who is overdue, and what each member did. Pure; the server loads the rows.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::checklist::answers::Computed;
use crate::quarter::Quarter;

/// Why a village's coverage is 0 when its association registered nobody to mentor.
pub const NO_MENTEES: &str = "no mentees registered";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MenteeRow {
    pub mentee_id: String,
    pub code: String,
    pub member_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRow {
    pub member_id: String,
    pub name: String,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisitKind {
    Outreach,
    QuarterlyFollowup,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitRow {
    pub mentee_id: String,
    pub member_id: String,
    pub visited_on: NaiveDate,
    pub kind: VisitKind,
}

/// A mentee without a follow-up this quarter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Overdue {
    pub mentee_id: String,
    pub code: String,
    pub member_id: String,
    /// The latest visit of any kind up to the quarter's last day.
    pub last_visit_on: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MemberActivity {
    pub member_id: String,
    pub name: String,
    pub mentees: u32,
    /// Visits of any kind the member made within the quarter.
    pub visits: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Coverage {
    /// `YYYY-Qn`, in the county's time zone.
    #[schema(value_type = String, example = "2026-Q4")]
    pub quarter: Quarter,
    pub mentees: u32,
    pub covered: u32,
    /// `covered / mentees`, from 0 to 1; 0 for a village without mentees, since nobody was
    /// followed up and the checklist's coverage item must not pass on an empty roster.
    pub coverage: f64,
    /// Sorted by mentee code.
    pub overdue: Vec<Overdue>,
    /// Every active member, those with no mentee too (`mentees: 0`). Sorted by name.
    pub members: Vec<MemberActivity>,
    /// Active members who mentor nobody (each member is meant to mentor one to three people).
    pub members_without_mentees: u32,
}

impl Coverage {
    /// The value of the checklists' computed item `mentoring.coverage`. A village without
    /// mentees has a coverage of 0, not an unknown one: the item fails, saying why.
    pub fn computed(&self) -> Computed {
        if self.mentees == 0 {
            Computed::Explained(0.0, NO_MENTEES)
        } else {
            Computed::Value(self.coverage)
        }
    }
}

/// The village's coverage for `quarter`. A mentee is covered by a `quarterly_followup` dated in
/// the quarter, whoever made it. `visits` may hold any visits up to the quarter's end; visits of
/// mentees not in `mentees` are ignored for coverage but count in their member's activity.
/// A mentee id listed twice counts once.
pub fn coverage(
    quarter: Quarter,
    members: &[MemberRow],
    mentees: &[MenteeRow],
    visits: &[VisitRow],
) -> Coverage {
    let (first_day, last_day) = (quarter.first_day(), quarter.last_day());
    let in_quarter = |visit: &&VisitRow| (first_day..=last_day).contains(&visit.visited_on);

    let followed_up: BTreeSet<&str> = visits
        .iter()
        .filter(in_quarter)
        .filter(|visit| visit.kind == VisitKind::QuarterlyFollowup)
        .map(|visit| visit.mentee_id.as_str())
        .collect();

    let mut last_visit: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    for visit in visits.iter().filter(|visit| visit.visited_on <= last_day) {
        let latest = last_visit
            .entry(&visit.mentee_id)
            .or_insert(visit.visited_on);
        *latest = (*latest).max(visit.visited_on);
    }

    let mut seen = BTreeSet::new();
    let roster: Vec<&MenteeRow> = mentees
        .iter()
        .filter(|mentee| seen.insert(mentee.mentee_id.as_str()))
        .collect();

    let mut overdue: Vec<Overdue> = roster
        .iter()
        .filter(|mentee| !followed_up.contains(mentee.mentee_id.as_str()))
        .map(|mentee| Overdue {
            mentee_id: mentee.mentee_id.clone(),
            code: mentee.code.clone(),
            member_id: mentee.member_id.clone(),
            last_visit_on: last_visit.get(mentee.mentee_id.as_str()).copied(),
        })
        .collect();
    overdue.sort_by(|a, b| (&a.code, &a.mentee_id).cmp(&(&b.code, &b.mentee_id)));

    let total = roster.len();
    let covered = total - overdue.len();
    let mut activity: Vec<MemberActivity> = members
        .iter()
        .map(|member| MemberActivity {
            member_id: member.member_id.clone(),
            name: member.name.clone(),
            mentees: count(roster.iter().filter(|m| m.member_id == member.member_id)),
            visits: count(
                visits
                    .iter()
                    .filter(in_quarter)
                    .filter(|visit| visit.member_id == member.member_id),
            ),
        })
        .collect();
    activity.sort_by(|a, b| (&a.name, &a.member_id).cmp(&(&b.name, &b.member_id)));
    let members_without_mentees = count(activity.iter().filter(|m| m.mentees == 0));

    Coverage {
        quarter,
        mentees: saturate(total),
        covered: saturate(covered),
        coverage: if total == 0 {
            0.0
        } else {
            covered as f64 / total as f64
        },
        overdue,
        members: activity,
        members_without_mentees,
    }
}

fn count<T>(items: impl Iterator<Item = T>) -> u32 {
    saturate(items.count())
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q4() -> Quarter {
        Quarter::parse("2026-Q4").expect("quarter")
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("test date")
    }

    fn member(id: &str, name: &str) -> MemberRow {
        MemberRow {
            member_id: id.to_owned(),
            name: name.to_owned(),
        }
    }

    fn mentee(id: &str, code: &str, member_id: &str) -> MenteeRow {
        MenteeRow {
            mentee_id: id.to_owned(),
            code: code.to_owned(),
            member_id: member_id.to_owned(),
        }
    }

    fn visit(mentee_id: &str, member_id: &str, on: NaiveDate, kind: VisitKind) -> VisitRow {
        VisitRow {
            mentee_id: mentee_id.to_owned(),
            member_id: member_id.to_owned(),
            visited_on: on,
            kind,
        }
    }

    fn followup(mentee_id: &str, on: NaiveDate) -> VisitRow {
        visit(mentee_id, "m1", on, VisitKind::QuarterlyFollowup)
    }

    fn outreach(mentee_id: &str, on: NaiveDate) -> VisitRow {
        visit(mentee_id, "m1", on, VisitKind::Outreach)
    }

    fn one_mentee() -> Vec<MenteeRow> {
        vec![mentee("e1", "C-001", "m1")]
    }

    fn covered_by(visits: &[VisitRow]) -> u32 {
        coverage(q4(), &[], &one_mentee(), visits).covered
    }

    #[test]
    fn a_follow_up_on_the_first_or_last_day_of_the_quarter_covers() {
        assert_eq!(covered_by(&[followup("e1", day(2026, 10, 1))]), 1);
        assert_eq!(covered_by(&[followup("e1", day(2026, 12, 31))]), 1);
    }

    #[test]
    fn a_follow_up_outside_the_quarter_does_not_cover() {
        assert_eq!(covered_by(&[followup("e1", day(2026, 9, 30))]), 0);
        assert_eq!(covered_by(&[followup("e1", day(2027, 1, 1))]), 0);
    }

    #[test]
    fn outreach_does_not_cover() {
        assert_eq!(covered_by(&[outreach("e1", day(2026, 11, 1))]), 0);
    }

    #[test]
    fn a_follow_up_by_another_member_covers() {
        let visits = [visit(
            "e1",
            "m2",
            day(2026, 11, 1),
            VisitKind::QuarterlyFollowup,
        )];
        assert_eq!(covered_by(&visits), 1);
    }

    #[test]
    fn coverage_is_the_share_of_mentees_followed_up() {
        let mentees = [
            mentee("e1", "C-001", "m1"),
            mentee("e2", "C-002", "m1"),
            mentee("e3", "C-003", "m2"),
        ];
        let visits = [
            followup("e1", day(2026, 10, 5)),
            followup("e1", day(2026, 12, 5)),
            followup("e3", day(2026, 11, 5)),
        ];
        let result = coverage(q4(), &[], &mentees, &visits);
        assert_eq!((result.mentees, result.covered), (3, 2));
        assert!((result.coverage - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(result.overdue.len(), 1);
        assert_eq!(result.overdue[0].mentee_id, "e2");
    }

    #[test]
    fn a_village_without_mentees_has_zero_coverage() {
        let result = coverage(q4(), &[member("m1", "Li")], &[], &[]);
        assert_eq!((result.mentees, result.covered), (0, 0));
        assert_eq!(result.coverage, 0.0);
        assert!(result.overdue.is_empty());
        assert_eq!(result.members_without_mentees, 1);
        assert_eq!(result.members[0].mentees, 0);
    }

    #[test]
    fn a_village_without_mentees_fails_the_coverage_item_saying_why() {
        let result = coverage(q4(), &[member("m1", "Li")], &[], &[]);
        assert_eq!(
            result.computed(),
            Computed::Explained(0.0, "no mentees registered")
        );
        let nobody = coverage(q4(), &[], &[], &[]);
        assert_eq!(nobody.computed(), Computed::Explained(0.0, NO_MENTEES));
    }

    #[test]
    fn a_village_with_mentees_gives_its_coverage_plainly() {
        let none_followed = coverage(q4(), &[], &one_mentee(), &[]);
        assert_eq!(none_followed.computed(), Computed::Value(0.0));
        let all = coverage(
            q4(),
            &[],
            &one_mentee(),
            &[followup("e1", day(2026, 11, 1))],
        );
        assert_eq!(all.computed(), Computed::Value(1.0));
    }

    #[test]
    fn members_without_mentees_are_listed_and_counted() {
        let members = [
            member("m1", "Li Na"),
            member("m2", "Wang Fang"),
            member("m3", "Zhao Lei"),
        ];
        let mentees = [mentee("e1", "C-001", "m2")];
        let result = coverage(q4(), &members, &mentees, &[]);
        let listed: Vec<(&str, u32)> = result
            .members
            .iter()
            .map(|m| (m.member_id.as_str(), m.mentees))
            .collect();
        assert_eq!(listed, vec![("m1", 0), ("m2", 1), ("m3", 0)]);
        assert_eq!(result.members_without_mentees, 2);
        // A mentee of a member who is no longer active does not make another member a mentor.
        let orphan = [mentee("e9", "C-009", "gone")];
        let result = coverage(q4(), &members[..1], &orphan, &[]);
        assert_eq!((result.mentees, result.members_without_mentees), (1, 1));
    }

    #[test]
    fn full_coverage_is_one() {
        let result = coverage(
            q4(),
            &[],
            &one_mentee(),
            &[followup("e1", day(2026, 11, 1))],
        );
        assert_eq!(result.coverage, 1.0);
        assert!(result.overdue.is_empty());
    }

    #[test]
    fn overdue_mentees_show_their_last_visit_of_any_kind() {
        let mentees = [
            mentee("e1", "C-001", "m1"),
            mentee("e2", "C-002", "m1"),
            mentee("e3", "C-003", "m2"),
        ];
        let visits = [
            followup("e1", day(2026, 6, 1)),
            outreach("e1", day(2026, 9, 30)),
            outreach("e2", day(2026, 12, 31)),
            followup("e2", day(2027, 1, 1)),
        ];
        let result = coverage(q4(), &[], &mentees, &visits);
        let last: Vec<(&str, Option<NaiveDate>)> = result
            .overdue
            .iter()
            .map(|overdue| (overdue.mentee_id.as_str(), overdue.last_visit_on))
            .collect();
        assert_eq!(
            last,
            vec![
                ("e1", Some(day(2026, 9, 30))),
                ("e2", Some(day(2026, 12, 31))),
                ("e3", None),
            ]
        );
        assert_eq!(result.overdue[2].member_id, "m2");
    }

    #[test]
    fn overdue_mentees_are_sorted_by_code() {
        let mentees = [
            mentee("e1", "C-003", "m1"),
            mentee("e2", "A-100", "m1"),
            mentee("e3", "B-050", "m1"),
        ];
        let result = coverage(q4(), &[], &mentees, &[]);
        let codes: Vec<&str> = result.overdue.iter().map(|o| o.code.as_str()).collect();
        assert_eq!(codes, vec!["A-100", "B-050", "C-003"]);
    }

    #[test]
    fn members_show_their_mentees_and_visits_in_the_quarter() {
        let members = [
            member("m2", "Wang Fang"),
            member("m1", "Li Na"),
            member("m3", "Zhao Lei"),
        ];
        let mentees = [
            mentee("e1", "C-001", "m1"),
            mentee("e2", "C-002", "m1"),
            mentee("e3", "C-003", "m2"),
        ];
        let visits = [
            visit("e1", "m1", day(2026, 10, 1), VisitKind::Outreach),
            visit("e1", "m1", day(2026, 12, 31), VisitKind::QuarterlyFollowup),
            visit("e2", "m1", day(2026, 9, 30), VisitKind::QuarterlyFollowup),
            visit("e3", "m2", day(2027, 1, 1), VisitKind::QuarterlyFollowup),
            visit("e3", "m2", day(2026, 11, 11), VisitKind::Outreach),
        ];
        let result = coverage(q4(), &members, &mentees, &visits);
        let activity: Vec<(&str, &str, u32, u32)> = result
            .members
            .iter()
            .map(|m| (m.member_id.as_str(), m.name.as_str(), m.mentees, m.visits))
            .collect();
        assert_eq!(
            activity,
            vec![
                ("m1", "Li Na", 2, 2),
                ("m2", "Wang Fang", 1, 1),
                ("m3", "Zhao Lei", 0, 0),
            ]
        );
    }

    #[test]
    fn a_mentee_listed_twice_counts_once() {
        let mentees = [mentee("e1", "C-001", "m1"), mentee("e1", "C-001", "m1")];
        let result = coverage(q4(), &[member("m1", "Li Na")], &mentees, &[]);
        assert_eq!(result.mentees, 1);
        assert_eq!(result.overdue.len(), 1);
        assert_eq!(result.members[0].mentees, 1);
    }

    #[test]
    fn follow_ups_of_unknown_mentees_do_not_count() {
        let result = coverage(
            q4(),
            &[],
            &one_mentee(),
            &[followup("stranger", day(2026, 11, 1))],
        );
        assert_eq!(result.covered, 0);
    }

    #[test]
    fn coverage_serializes_to_the_wire_shape() {
        let result = coverage(q4(), &[member("m1", "Li Na")], &one_mentee(), &[]);
        let json = serde_json::to_value(&result).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "quarter": "2026-Q4",
                "mentees": 1,
                "covered": 0,
                "coverage": 0.0,
                "overdue": [{"mentee_id": "e1", "code": "C-001", "member_id": "m1", "last_visit_on": null}],
                "members": [{"member_id": "m1", "name": "Li Na", "mentees": 1, "visits": 0}],
                "members_without_mentees": 0,
            })
        );
        assert_eq!(
            serde_json::to_value(VisitKind::QuarterlyFollowup).expect("json"),
            "quarterly_followup"
        );
    }
}

//! Which benefits a star level brings under a catalogue, and what a village gains and loses
//! between two (level, catalogue) states. Pure: the report and the webhook both call these.

use super::Benefit;

/// Whether `benefit` applies to a village holding `level`.
pub fn applies(benefit: &Benefit, level: u8) -> bool {
    level >= benefit.min_level && benefit.max_level.is_none_or(|max| level <= max)
}

/// The benefits of `catalogue` that apply at `level`, in catalogue order. Level 0: none.
pub fn benefits_for(catalogue: &[Benefit], level: u8) -> Vec<&Benefit> {
    catalogue.iter().filter(|b| applies(b, level)).collect()
}

/// The codes of the benefits that apply at `level`.
pub fn codes_for(catalogue: &[Benefit], level: u8) -> Vec<String> {
    benefits_for(catalogue, level)
        .into_iter()
        .map(|b| b.code.clone())
        .collect()
}

/// What a village gains and loses when it goes from one state to another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Codes that apply after and did not before, in the later catalogue's order.
    pub gained: Vec<String>,
    /// Codes that applied before and do not after, in the earlier catalogue's order.
    pub lost: Vec<String>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.gained.is_empty() && self.lost.is_empty()
    }
}

/// The benefits gained and lost between `before` and `after`, each a level under the
/// catalogue in force then (the same catalogue when only the level moved; the same level
/// when only the catalogue changed). A benefit is the same one across catalogues when its code
/// is.
pub fn change(before: (u8, &[Benefit]), after: (u8, &[Benefit])) -> Change {
    let was = codes_for(before.1, before.0);
    let is = codes_for(after.1, after.0);
    Change {
        gained: is.iter().filter(|c| !was.contains(c)).cloned().collect(),
        lost: was.iter().filter(|c| !is.contains(c)).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::benefits::{programme_defaults, AppliesTo, BenefitName};

    fn benefit(code: &str, min_level: u8, max_level: Option<u8>) -> Benefit {
        Benefit {
            code: code.into(),
            name: BenefitName {
                zh: code.into(),
                en: code.into(),
            },
            min_level,
            max_level,
            applies_to: AppliesTo::Households,
            amount: "1".into(),
        }
    }

    #[test]
    fn levels_are_cumulative_and_level_zero_gets_nothing() {
        let c = programme_defaults();
        assert!(benefits_for(&c, 0).is_empty());
        assert_eq!(
            codes_for(&c, 1),
            [
                "insurance_premiums",
                "university_grant",
                "illness_disaster_relief",
                "member_medical_5"
            ]
        );
        assert_eq!(
            codes_for(&c, 2),
            [
                "insurance_premiums",
                "university_grant",
                "illness_disaster_relief",
                "reimbursement_plus_5",
                "member_medical_10"
            ]
        );
        assert_eq!(
            codes_for(&c, 3),
            [
                "insurance_premiums",
                "university_grant",
                "illness_disaster_relief",
                "reimbursement_plus_5",
                "pension_plus_10",
                "member_medical_15"
            ]
        );
    }

    #[test]
    fn every_level_gets_exactly_the_benefits_whose_range_holds_it() {
        let c: Vec<Benefit> = (1..=5)
            .flat_map(|min| {
                (min..=5)
                    .map(move |max| benefit(&format!("b{min}{max}"), min, Some(max)))
                    .chain([benefit(&format!("b{min}"), min, None)])
            })
            .collect();
        for level in 0..=6u8 {
            for b in &c {
                let expected = level >= b.min_level && b.max_level.is_none_or(|m| level <= m);
                assert_eq!(applies(b, level), expected, "{} at {level}", b.code);
            }
            assert_eq!(
                benefits_for(&c, level).len(),
                c.iter().filter(|b| applies(b, level)).count()
            );
        }
    }

    #[test]
    fn climbing_gains_and_falling_loses_the_difference() {
        let c = programme_defaults();
        let up = change((1, &c), (2, &c));
        assert_eq!(up.gained, ["reimbursement_plus_5", "member_medical_10"]);
        assert_eq!(up.lost, ["member_medical_5"]);
        let down = change((3, &c), (0, &c));
        assert!(down.gained.is_empty());
        assert_eq!(down.lost.len(), 6);
        let granted = change((0, &c), (1, &c));
        assert_eq!(granted.gained.len(), 4);
        assert!(granted.lost.is_empty());
        assert!(change((2, &c), (2, &c)).is_empty());
        // Every pair of levels: gained and lost are the two set differences, never overlapping.
        for a in 0..=3 {
            for b in 0..=3 {
                let ch = change((a, &c), (b, &c));
                let (was, is) = (codes_for(&c, a), codes_for(&c, b));
                assert!(ch.gained.iter().all(|g| is.contains(g) && !was.contains(g)));
                assert!(ch.lost.iter().all(|l| was.contains(l) && !is.contains(l)));
                assert_eq!(
                    ch.gained.len() + was.len(),
                    ch.lost.len() + is.len(),
                    "{a} → {b}"
                );
            }
        }
    }

    #[test]
    fn a_catalogue_change_alone_gains_and_loses_by_code() {
        let old = vec![benefit("premiums", 1, None), benefit("pension", 3, None)];
        let new = vec![benefit("premiums", 1, None), benefit("grant", 2, None)];
        let ch = change((2, &old), (2, &new));
        assert_eq!(ch.gained, ["grant"]);
        assert!(ch.lost.is_empty());
        let ch = change((3, &old), (3, &new));
        assert_eq!(
            (ch.gained, ch.lost),
            (vec!["grant".into()], vec!["pension".into()])
        );
        assert!(change((1, &old), (1, &[])).lost == ["premiums"]);
    }
}

//! Benefits: each county's catalogue of what a star level brings its villages (versioned data,
//! edited by its admins), and the pure eligibility rules over it (`eligibility`).

pub mod eligibility;
pub mod routes;
pub mod store;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::i18n::{Msg, Rule};

/// The highest `min_level` a benefit may name (the engine grants up to 3 today).
pub const MAX_MIN_LEVEL: i64 = 5;
/// Benefits in one catalogue, at most.
pub const MAX_BENEFITS: usize = 100;
pub const CODE_LEN: std::ops::RangeInclusive<usize> = 2..=40;
pub const NAME_MAX_CHARS: usize = 100;
pub const AMOUNT_MAX_CHARS: usize = 200;

/// Who a benefit is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppliesTo {
    /// The village's households.
    Households,
    /// The village's association members.
    Members,
}

impl AppliesTo {
    pub fn as_str(self) -> &'static str {
        match self {
            AppliesTo::Households => "households",
            AppliesTo::Members => "members",
        }
    }
}

/// A benefit's name in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BenefitName {
    /// Missing reads as empty, which validation names.
    #[serde(default)]
    pub zh: String,
    #[serde(default)]
    pub en: String,
}

/// One benefit of a catalogue: it applies to every village whose level is at least
/// `min_level` (levels are cumulative), and at most `max_level` when one is set (a rate that a
/// higher level's benefit replaces, such as members' 5 % at one star, 10 % at two).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Benefit {
    /// Stable identifier: lowercase letters, digits, `_` and `-`, starting with a letter, 2–40.
    #[schema(example = "insurance_premiums")]
    pub code: String,
    pub name: BenefitName,
    /// The star level from which it applies (1–5).
    pub min_level: u8,
    /// The highest level it applies to; null: every level from `min_level` up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_level: Option<u8>,
    pub applies_to: AppliesTo,
    /// The amount or rate, as the county states it (`5,000 yuan`, `+5 points`).
    pub amount: String,
}

/// A benefit as a request states it: types loose enough that validation, not serde, names
/// what is wrong with each field.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BenefitInput {
    #[serde(default)]
    pub code: String,
    #[serde(default = "empty_name")]
    pub name: BenefitName,
    /// 1–5.
    pub min_level: i64,
    /// `min_level`–5, or null (absent): no upper bound.
    #[serde(default)]
    pub max_level: Option<i64>,
    /// `households` or `members`.
    #[serde(default)]
    pub applies_to: String,
    #[serde(default)]
    pub amount: String,
}

fn empty_name() -> BenefitName {
    BenefitName {
        zh: String::new(),
        en: String::new(),
    }
}

fn code_is_valid(code: &str) -> bool {
    CODE_LEN.contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn text_error(value: &str, max: usize) -> Option<Msg> {
    if value.trim().is_empty() {
        Some(Rule::NotEmpty.into())
    } else if value.chars().count() > max {
        Some(Rule::TooLong.with("max", max))
    } else if value.chars().any(char::is_control) {
        Some(Rule::NoControlChars.into())
    } else {
        None
    }
}

/// The catalogue a request states, or every field at fault, named by its path
/// (`benefits[2].code`).
pub fn parse_catalogue(inputs: &[BenefitInput]) -> Result<Vec<Benefit>, Vec<FieldError>> {
    let mut errors = Vec::new();
    if inputs.len() > MAX_BENEFITS {
        errors.push(FieldError::new(
            "benefits",
            Rule::AtMostBenefits.with("max", MAX_BENEFITS),
        ));
    }
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(inputs.len());
    for (i, b) in inputs.iter().enumerate() {
        let at = |f: &str| format!("benefits[{i}].{f}");
        let before = errors.len();
        if !code_is_valid(&b.code) {
            errors.push(FieldError::new(at("code"), Rule::CodeFormat));
        } else if let Some(first) = seen.insert(b.code.as_str(), i) {
            seen.insert(b.code.as_str(), first);
            errors.push(FieldError::new(
                at("code"),
                Rule::BenefitCodeTaken
                    .with("code", format!("{:?}", b.code))
                    .with("first", first),
            ));
        }
        for (lang, value) in [("zh", &b.name.zh), ("en", &b.name.en)] {
            if let Some(m) = text_error(value, NAME_MAX_CHARS) {
                errors.push(FieldError::new(at(&format!("name.{lang}")), m));
            }
        }
        if !(1..=MAX_MIN_LEVEL).contains(&b.min_level) {
            errors.push(FieldError::new(
                at("min_level"),
                Rule::Between.with("min", 1).with("max", MAX_MIN_LEVEL),
            ));
        }
        if let Some(max) = b.max_level {
            if !(b.min_level.max(1)..=MAX_MIN_LEVEL).contains(&max) {
                errors.push(FieldError::new(
                    at("max_level"),
                    Rule::MaxLevelRange.with("max", MAX_MIN_LEVEL),
                ));
            }
        }
        let applies_to = match b.applies_to.as_str() {
            "households" => Some(AppliesTo::Households),
            "members" => Some(AppliesTo::Members),
            _ => {
                errors.push(FieldError::new(
                    at("applies_to"),
                    Rule::OneOf.with("allowed", "households, members"),
                ));
                None
            }
        };
        if let Some(m) = text_error(&b.amount, AMOUNT_MAX_CHARS) {
            errors.push(FieldError::new(at("amount"), m));
        }
        if let (true, Some(applies_to)) = (errors.len() == before, applies_to) {
            out.push(Benefit {
                code: b.code.clone(),
                name: BenefitName {
                    zh: b.name.zh.trim().to_string(),
                    en: b.name.en.trim().to_string(),
                },
                min_level: b.min_level as u8,
                max_level: b.max_level.map(|m| m as u8),
                applies_to,
                amount: b.amount.trim().to_string(),
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The programme's benefits as the source county states them (诚信计生, 磁县): what the demo
/// county is seeded with.
pub fn programme_defaults() -> Vec<Benefit> {
    let b = |code: &str, zh: &str, en: &str, levels: (u8, Option<u8>), applies_to, amount: &str| {
        Benefit {
            code: code.into(),
            name: BenefitName {
                zh: zh.into(),
                en: en.into(),
            },
            min_level: levels.0,
            max_level: levels.1,
            applies_to,
            amount: amount.into(),
        }
    };
    use AppliesTo::{Households, Members};
    vec![
        b(
            "insurance_premiums",
            "新农合、新城合投保费用由县财政负担",
            "Rural and urban cooperative medical insurance premiums paid by the county",
            (1, None),
            Households,
            "全额 / in full",
        ),
        b(
            "university_grant",
            "独生子女考上二本及以上学校补助",
            "Grant for an only child admitted to a second-tier or higher university",
            (1, None),
            Households,
            "5,000 元 / yuan",
        ),
        b(
            "illness_disaster_relief",
            "父母及子女患大病或遭大灾后每年救助",
            "Yearly relief after a serious illness or disaster in the family",
            (1, None),
            Households,
            "独男户 2,000 元，独女户 3,000 元 / 2,000 yuan (one son), 3,000 yuan (one daughter)",
        ),
        b(
            "reimbursement_plus_5",
            "新农合、新城合报销提高 5 个百分点",
            "Cooperative medical insurance reimbursement raised by 5 percentage points",
            (2, None),
            Households,
            "+5 个百分点 / +5 points",
        ),
        b(
            "pension_plus_10",
            "国家基础养老保险金增补 10%",
            "Basic state pension raised by 10 %",
            (3, None),
            Households,
            "+10%",
        ),
        b(
            "member_medical_5",
            "会员万元以上大病住院费用增补报销 5%",
            "Members: 5 % extra reimbursement of hospital bills over 10,000 yuan",
            (1, Some(1)),
            Members,
            "5%",
        ),
        b(
            "member_medical_10",
            "会员万元以上大病住院费用增补报销 10%",
            "Members: 10 % extra reimbursement of hospital bills over 10,000 yuan",
            (2, Some(2)),
            Members,
            "10%",
        ),
        b(
            "member_medical_15",
            "会员万元以上大病住院费用增补报销 15%",
            "Members: 15 % extra reimbursement of hospital bills over 10,000 yuan",
            (3, None),
            Members,
            "15%",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(code: &str, min_level: i64) -> BenefitInput {
        BenefitInput {
            code: code.into(),
            name: BenefitName {
                zh: "名称".into(),
                en: "Name".into(),
            },
            min_level,
            max_level: None,
            applies_to: "households".into(),
            amount: "5,000 yuan".into(),
        }
    }

    #[test]
    fn the_programme_defaults_are_a_valid_catalogue() {
        let inputs: Vec<BenefitInput> = programme_defaults()
            .into_iter()
            .map(|b| BenefitInput {
                code: b.code,
                name: b.name,
                min_level: i64::from(b.min_level),
                max_level: b.max_level.map(i64::from),
                applies_to: b.applies_to.as_str().into(),
                amount: b.amount,
            })
            .collect();
        assert_eq!(parse_catalogue(&inputs).unwrap(), programme_defaults());
    }

    #[test]
    fn every_bad_field_is_named_by_its_path() {
        let mut bad = input("9lives", 0);
        bad.name.zh = "  ".into();
        bad.name.en = "x".repeat(NAME_MAX_CHARS + 1);
        bad.applies_to = "villages".into();
        bad.max_level = Some(9);
        bad.amount = String::new();
        let errors =
            parse_catalogue(&[input("premiums", 1), bad, input("premiums", 6)]).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "benefits[1].code",
                "benefits[1].name.zh",
                "benefits[1].name.en",
                "benefits[1].min_level",
                "benefits[1].max_level",
                "benefits[1].applies_to",
                "benefits[1].amount",
                "benefits[2].code",
                "benefits[2].min_level",
            ]
        );
        assert!(errors[7].message.contains("benefits[0]"), "{errors:?}");
    }

    #[test]
    fn codes_follow_the_format() {
        for ok in ["ab", "insurance_premiums", "a-1", &"a".repeat(40)] {
            assert!(code_is_valid(ok), "{ok}");
        }
        for bad in [
            "a",
            "Ab",
            "_a",
            "1a",
            "a b",
            "a.b",
            "保险",
            &"a".repeat(41),
            "",
        ] {
            assert!(!code_is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn names_and_amounts_are_trimmed_and_an_empty_catalogue_is_valid() {
        let mut b = input("premiums", 5);
        b.name.zh = " 保险 ".into();
        let parsed = parse_catalogue(&[b]).unwrap();
        assert_eq!(parsed[0].name.zh, "保险");
        assert_eq!(parsed[0].min_level, 5);
        assert!(parse_catalogue(&[]).unwrap().is_empty());
        let many: Vec<BenefitInput> = (0..=MAX_BENEFITS)
            .map(|i| input(&format!("b{i}"), 1))
            .collect();
        assert_eq!(parse_catalogue(&many).unwrap_err()[0].field, "benefits");
    }
}

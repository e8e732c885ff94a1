//! Checklist templates: the wire model of a star level's checklist, its validation rules,
//! and the three default templates (star-1, star-2, star-3) embedded as JSON.

use std::collections::HashSet;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::i18n::{Msg, Rule};

/// The computed sources the server knows how to fill, with the range of their values.
pub const KNOWN_SOURCES: &[(&str, f64, f64)] = &[("mentoring.coverage", 0.0, 1.0)];

/// The pass mark of a template that states none.
pub const DEFAULT_PASS_SCORE: f64 = 60.0;
pub const MAX_PHOTOS_MIN: u32 = 20;
/// The most photos one inspection's manifest may list (the default checklists need 4 to 7):
/// a template may not require more, so every template can be answered within the bound.
pub const MAX_PHOTOS_PER_INSPECTION: usize = 60;
/// The most photos a manifest may list for one item (twice the most a template may require).
pub const MAX_PHOTOS_PER_ITEM: usize = 2 * MAX_PHOTOS_MIN as usize;
pub const MAX_TEXT_LENGTH: u32 = 10_000;
/// The length limit of a text answer whose item sets no `max_length`.
pub const DEFAULT_TEXT_LENGTH: u32 = 2_000;
const MAX_ID_LENGTH: usize = 64;

pub use crate::error::FieldError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub code: String,
    pub star_level: u8,
    pub title: Label,
    /// The lowest score (0–100) with which an inspection passes; `DEFAULT_PASS_SCORE` when
    /// absent. Every visible required item with a pass rule must pass as well.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number_opt"
    )]
    pub pass_score: Option<f64>,
    pub sections: Vec<Section>,
}

/// Missing languages read as empty so that `validate` can name them instead of serde.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    #[serde(default)]
    pub zh: String,
    #[serde(default)]
    pub en: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub id: String,
    pub title: Label,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    YesNo,
    Number,
    Choice,
    MultiChoice,
    Text,
    Photo,
    Computed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub kind: ItemKind,
    pub label: Label,
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub photos_min: u32,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number_opt"
    )]
    pub min: Option<f64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number_opt"
    )]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Opt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible_if: Option<VisibleIf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<PassRule>,
    #[serde(
        default,
        skip_serializing_if = "is_zero_f64",
        serialize_with = "number"
    )]
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opt {
    pub id: String,
    pub label: Label,
}

/// The item is shown only when the earlier item `item` was answered with `equals`
/// (for a `multi_choice` item: when the option `equals` was among those chosen).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisibleIf {
    pub item: String,
    pub equals: Value,
}

/// What an answer must be to pass. Which keys fit which kind:
/// - `yes_no`: `equals` (a bool);
/// - `number`, `computed`: `min` and/or `max`, inclusive;
/// - `choice`: `in`, the option ids that pass;
/// - `multi_choice`: `in` (every chosen option must be in it, and at least one chosen)
///   and/or `min`/`max`, bounds on how many options were chosen;
/// - `text`, `photo`: no pass rule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number_opt"
    )]
    pub min: Option<f64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number_opt"
    )]
    pub max: Option<f64>,
    #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<String>>,
}

impl Template {
    /// Every item in template order.
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.sections.iter().flat_map(|s| s.items.iter())
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items().find(|i| i.id == id)
    }

    /// The template's pass mark, 60 when it states none.
    pub fn pass_score(&self) -> f64 {
        self.pass_score.unwrap_or(DEFAULT_PASS_SCORE)
    }
}

impl Item {
    pub fn has_option(&self, id: &str) -> bool {
        self.options.iter().any(|o| o.id == id)
    }

    pub fn text_limit(&self) -> u32 {
        self.max_length.unwrap_or(DEFAULT_TEXT_LENGTH)
    }
}

pub fn source_range(source: &str) -> Option<(f64, f64)> {
    KNOWN_SOURCES
        .iter()
        .find(|(name, _, _)| *name == source)
        .map(|&(_, lo, hi)| (lo, hi))
}

/// Checks a template before it is stored as a draft; all problems are reported at once.
pub fn validate(t: &Template) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut err = |field: String, message: Msg| errors.push(FieldError::new(field, message));

    if t.code.is_empty()
        || t.code.len() > MAX_ID_LENGTH
        || !t
            .code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        err("code".into(), Rule::TemplateCode.into());
    }
    if !(1..=3).contains(&t.star_level) {
        err("star_level".into(), Rule::StarLevelRange.into());
    }
    check_label(&t.title, "title", &mut err);
    if t.pass_score
        .is_some_and(|p| !(p.is_finite() && (0.0..=100.0).contains(&p)))
    {
        err("pass_score".into(), Rule::PassScore.into());
    }
    if t.sections.is_empty() {
        err("sections".into(), Rule::TemplateNeedsItem.into());
    }

    let mut section_ids = HashSet::new();
    // Items seen so far, so that `visible_if` can only look back.
    let mut earlier: Vec<&Item> = Vec::new();
    let mut item_ids = HashSet::new();
    let mut total_weight = 0.0;
    for (s, section) in t.sections.iter().enumerate() {
        let at = format!("sections[{s}]");
        if !is_id(&section.id) {
            err(format!("{at}.id"), ID_RULE.into());
        } else if !section_ids.insert(section.id.as_str()) {
            err(format!("{at}.id"), Rule::SectionIdTaken.into());
        }
        check_label(&section.title, &format!("{at}.title"), &mut err);
        if section.items.is_empty() {
            err(format!("{at}.items"), Rule::SectionNeedsItem.into());
        }
        for (i, item) in section.items.iter().enumerate() {
            let at = format!("{at}.items[{i}]");
            if !is_id(&item.id) {
                err(format!("{at}.id"), ID_RULE.into());
            } else if !item_ids.insert(item.id.as_str()) {
                err(format!("{at}.id"), Rule::ItemIdTaken.into());
            }
            check_item(item, &earlier, &at, &mut err);
            if item.weight.is_finite() && item.weight > 0.0 {
                total_weight += item.weight;
            }
            earlier.push(item);
        }
    }
    let photos_needed: usize = earlier.iter().map(|i| i.photos_min as usize).sum();
    if photos_needed > MAX_PHOTOS_PER_INSPECTION {
        err(
            "sections".into(),
            Rule::TemplatePhotosOver.with("max", MAX_PHOTOS_PER_INSPECTION),
        );
    }
    if !earlier.is_empty() && total_weight <= 0.0 {
        err("sections".into(), Rule::NoScorableItem.into());
    }

    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

const ID_RULE: Rule = Rule::IdChars;

fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LENGTH
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_label(label: &Label, at: &str, err: &mut impl FnMut(String, Msg)) {
    if label.zh.trim().is_empty() {
        err(format!("{at}.zh"), Rule::LabelZhRequired.into());
    }
    if label.en.trim().is_empty() {
        err(format!("{at}.en"), Rule::LabelEnRequired.into());
    }
}

fn check_item(item: &Item, earlier: &[&Item], at: &str, err: &mut impl FnMut(String, Msg)) {
    use ItemKind::*;
    check_label(&item.label, &format!("{at}.label"), err);

    if item.kind == Number {
        check_bounds(item.min, item.max, at, err);
    } else {
        if item.min.is_some() {
            err(format!("{at}.min"), Rule::OnlyNumberHas.with("key", "min"));
        }
        if item.max.is_some() {
            err(format!("{at}.max"), Rule::OnlyNumberHas.with("key", "max"));
        }
    }

    if matches!(item.kind, Choice | MultiChoice) {
        check_options(item, at, err);
    } else if !item.options.is_empty() {
        err(format!("{at}.options"), Rule::OnlyChoiceOptions.into());
    }

    match (item.kind, item.max_length) {
        (Text, Some(0)) => err(format!("{at}.max_length"), Rule::AtLeast.with("min", 1)),
        (Text, Some(n)) if n > MAX_TEXT_LENGTH => err(
            format!("{at}.max_length"),
            Rule::AtMost.with("max", MAX_TEXT_LENGTH),
        ),
        (Text, _) | (_, None) => {}
        (_, Some(_)) => err(format!("{at}.max_length"), Rule::OnlyTextMaxLength.into()),
    }

    match (item.kind, item.source.as_deref()) {
        (Computed, None) => err(format!("{at}.source"), Rule::ComputedNeedsSource.into()),
        (Computed, Some(s)) if source_range(s).is_none() => {
            err(format!("{at}.source"), Rule::UnknownSource.into())
        }
        (Computed, Some(_)) | (_, None) => {}
        (_, Some(_)) => err(format!("{at}.source"), Rule::OnlyComputedSource.into()),
    }

    if item.photos_min > MAX_PHOTOS_MIN {
        err(
            format!("{at}.photos_min"),
            Rule::AtMost.with("max", MAX_PHOTOS_MIN),
        );
    }
    if item.kind == Photo && item.photos_min < 1 {
        err(format!("{at}.photos_min"), Rule::PhotoItemPhotosMin.into());
    }
    if item.kind == Computed && item.photos_min > 0 {
        err(format!("{at}.photos_min"), Rule::ComputedNoPhotos.into());
    }

    if !item.weight.is_finite() || item.weight < 0.0 {
        err(format!("{at}.weight"), Rule::WeightRange.into());
    } else if item.weight > 0.0 && item.pass.is_none() {
        err(format!("{at}.weight"), Rule::WeightNeedsPass.into());
    }

    if let Some(rule) = &item.pass {
        check_pass(item, rule, &format!("{at}.pass"), err);
    }
    if let Some(cond) = &item.visible_if {
        check_visible_if(cond, earlier, &format!("{at}.visible_if"), err);
    }
}

fn check_bounds(
    min: Option<f64>,
    max: Option<f64>,
    at: &str,
    err: &mut impl FnMut(String, Msg),
) -> bool {
    let mut ok = true;
    for (name, v) in [("min", min), ("max", max)] {
        if v.is_some_and(|v| !v.is_finite()) {
            err(format!("{at}.{name}"), Rule::Finite.into());
            ok = false;
        }
    }
    if let (Some(lo), Some(hi)) = (min, max) {
        if ok && lo > hi {
            err(format!("{at}.min"), Rule::MinAboveMax.into());
            ok = false;
        }
    }
    ok
}

fn check_options(item: &Item, at: &str, err: &mut impl FnMut(String, Msg)) {
    if item.options.is_empty() {
        err(format!("{at}.options"), Rule::ChoiceNeedsOptions.into());
    }
    let mut seen = HashSet::new();
    for (o, opt) in item.options.iter().enumerate() {
        let at = format!("{at}.options[{o}]");
        if !is_id(&opt.id) {
            err(format!("{at}.id"), ID_RULE.into());
        } else if !seen.insert(opt.id.as_str()) {
            err(format!("{at}.id"), Rule::OptionIdTaken.into());
        }
        check_label(&opt.label, &format!("{at}.label"), err);
    }
}

fn check_pass(item: &Item, rule: &PassRule, at: &str, err: &mut impl FnMut(String, Msg)) {
    use ItemKind::*;
    let refuse = |err: &mut dyn FnMut(String, Msg), key: &str, why: Msg| {
        err(format!("{at}.{key}"), why);
    };
    let has_bounds = rule.min.is_some() || rule.max.is_some();
    match item.kind {
        Text | Photo => {
            err(at.to_string(), Rule::NoPassRuleForKind.into());
            return;
        }
        YesNo => {
            match &rule.equals {
                Some(Value::Bool(_)) => {}
                Some(_) => refuse(err, "equals", Rule::TrueOrFalse.into()),
                None => refuse(err, "equals", Rule::YesNoNeedsEquals.into()),
            }
            if rule.min.is_some() {
                refuse(err, "min", Rule::YesNoOnlyEquals.into());
            }
            if rule.max.is_some() {
                refuse(err, "max", Rule::YesNoOnlyEquals.into());
            }
            if rule.one_of.is_some() {
                refuse(err, "in", Rule::YesNoOnlyEquals.into());
            }
            return;
        }
        Number | Computed | Choice | MultiChoice => {}
    }
    if rule.equals.is_some() {
        refuse(err, "equals", Rule::OnlyYesNoEquals.into());
    }

    match item.kind {
        Number | Computed => {
            if rule.one_of.is_some() {
                refuse(err, "in", Rule::OnlyChoiceIn.into());
            }
            if !has_bounds {
                err(at.to_string(), Rule::NeedsMinOrMax.into());
            } else if check_bounds(rule.min, rule.max, at, err) {
                let range = match item.kind {
                    Computed => item.source.as_deref().and_then(source_range),
                    _ => Some((
                        item.min.unwrap_or(f64::NEG_INFINITY),
                        item.max.unwrap_or(f64::INFINITY),
                    )),
                };
                if let Some((lo, hi)) = range {
                    for (key, v) in [("min", rule.min), ("max", rule.max)] {
                        if v.is_some_and(|v| v < lo || v > hi) {
                            refuse(err, key, Rule::WithinItemRange.into());
                        }
                    }
                }
            }
        }
        Choice | MultiChoice => {
            if item.kind == Choice && has_bounds {
                if rule.min.is_some() {
                    refuse(err, "min", Rule::ChoiceOnlyIn.into());
                }
                if rule.max.is_some() {
                    refuse(err, "max", Rule::ChoiceOnlyIn.into());
                }
            }
            match &rule.one_of {
                Some(ids) if ids.is_empty() => refuse(err, "in", Rule::AtLeastOneOption.into()),
                Some(ids) => {
                    let mut seen = HashSet::new();
                    for (n, id) in ids.iter().enumerate() {
                        if !item.has_option(id) {
                            err(format!("{at}.in[{n}]"), Rule::NotAnOption.into());
                        } else if !seen.insert(id) {
                            err(format!("{at}.in[{n}]"), Rule::ListedTwice.into());
                        }
                    }
                }
                None if item.kind == Choice => refuse(err, "in", Rule::ChoiceNeedsIn.into()),
                None if !has_bounds => {
                    err(at.to_string(), Rule::NeedsInMinOrMax.into());
                }
                None => {}
            }
            if item.kind == MultiChoice && has_bounds && check_bounds(rule.min, rule.max, at, err) {
                let count = item.options.len() as f64;
                for (key, v) in [("min", rule.min), ("max", rule.max)] {
                    if v.is_some_and(|v| v < 0.0 || v > count || v.fract() != 0.0) {
                        refuse(err, key, Rule::CountsChosen.into());
                    }
                }
            }
        }
        YesNo | Text | Photo => {}
    }
}

fn check_visible_if(
    cond: &VisibleIf,
    earlier: &[&Item],
    at: &str,
    err: &mut impl FnMut(String, Msg),
) {
    let Some(target) = earlier.iter().find(|i| i.id == cond.item) else {
        err(format!("{at}.item"), Rule::EarlierItem.into());
        return;
    };
    let fits = match target.kind {
        ItemKind::YesNo => cond.equals.is_boolean(),
        ItemKind::Number => cond.equals.as_f64().is_some_and(|v| {
            target.min.is_none_or(|lo| v >= lo) && target.max.is_none_or(|hi| v <= hi)
        }),
        ItemKind::Choice | ItemKind::MultiChoice => {
            cond.equals.as_str().is_some_and(|id| target.has_option(id))
        }
        ItemKind::Text => cond.equals.is_string(),
        ItemKind::Photo | ItemKind::Computed => {
            err(format!("{at}.item"), Rule::CannotDecideVisibility.into());
            return;
        }
    };
    if !fits {
        err(
            format!("{at}.equals"),
            match target.kind {
                ItemKind::YesNo => Rule::TrueOrFalse.into(),
                ItemKind::Number => Rule::NumberWithinItem.into(),
                ItemKind::Text => Rule::MustBeString.into(),
                _ => Rule::OptionIdOfItem.into(),
            },
        );
    }
}

/// The three built-in checklists, one per star level, as shipped with the server.
pub fn default_templates() -> Vec<Template> {
    [
        include_str!("defaults/star-1.json"),
        include_str!("defaults/star-2.json"),
        include_str!("defaults/star-3.json"),
    ]
    .into_iter()
    .map(|json| serde_json::from_str(json).expect("the embedded default templates are tested"))
    .collect()
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

fn is_zero_f64(n: &f64) -> bool {
    *n == 0.0
}

/// Whole numbers go out as JSON integers (`"weight": 10`, not `10.0`), as the wire format shows.
fn number<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

fn number_opt<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => number(v, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn label() -> Value {
        json!({"zh": "标签", "en": "Label"})
    }

    fn base() -> Value {
        json!({
            "code": "star-1", "star_level": 1, "title": {"zh": "一星级诚信村验收", "en": "One-star village verification"},
            "sections": [{"id": "commitment", "title": label(), "items": [
                {"id": "board_posted", "kind": "yes_no", "label": label(), "required": true,
                 "photos_min": 1, "pass": {"equals": true}, "weight": 10}
            ]}]
        })
    }

    /// `base()` with `item` appended to the first section, as `sections[0].items[1]`.
    fn with_item(item: Value) -> Value {
        let mut t = base();
        t["sections"][0]["items"]
            .as_array_mut()
            .expect("base has items")
            .push(item);
        t
    }

    fn parse(v: Value) -> Template {
        serde_json::from_value(v).expect("test template parses")
    }

    fn fields(v: Value) -> Vec<String> {
        match validate(&parse(v)) {
            Ok(()) => vec![],
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
        }
    }

    fn item_fields(item: Value) -> Vec<String> {
        fields(with_item(item))
    }

    fn number_item(extra: Value) -> Value {
        let mut item =
            json!({"id": "policy_count", "kind": "number", "label": label(), "min": 0, "max": 20});
        merge(&mut item, extra);
        item
    }

    fn choice_item(kind: &str, extra: Value) -> Value {
        let mut item = json!({"id": "association", "kind": kind, "label": label(), "options": [
            {"id": "complete", "label": label()}, {"id": "partial", "label": label()}, {"id": "none", "label": label()}]});
        merge(&mut item, extra);
        item
    }

    fn merge(target: &mut Value, extra: Value) {
        if let (Some(t), Value::Object(e)) = (target.as_object_mut(), extra) {
            t.extend(e);
        }
    }

    #[test]
    fn the_base_test_template_is_valid() {
        assert_eq!(fields(base()), Vec::<String>::new());
    }

    #[test]
    fn the_wire_format_example_parses_validates_and_serializes_back_unchanged() {
        let wire = json!({ "code": "star-1", "star_level": 1,
          "title": {"zh": "一星级诚信村验收", "en": "One-star village verification"},
          "sections": [ { "id": "commitment", "title": {"zh": "公开承诺", "en": "Commitments"}, "items": [
            {"id": "board_posted", "kind": "yes_no", "label": label(),
             "required": true, "photos_min": 1, "pass": {"equals": true}, "weight": 10},
            {"id": "policy_count", "kind": "number", "label": label(), "required": true,
             "min": 0, "max": 20, "pass": {"min": 2, "max": 4}, "weight": 5},
            {"id": "association", "kind": "choice", "label": label(), "required": true,
             "options": [{"id": "complete", "label": label()}, {"id": "partial", "label": label()}],
             "pass": {"in": ["complete"]}, "weight": 5},
            {"id": "why_not_posted", "kind": "text", "label": label(), "max_length": 2000,
             "visible_if": {"item": "board_posted", "equals": false}},
            {"id": "followup_coverage", "kind": "computed", "label": label(),
             "source": "mentoring.coverage", "pass": {"min": 0.9}, "weight": 10} ] } ] });
        let t = parse(wire.clone());
        assert_eq!(validate(&t), Ok(()));
        let back = serde_json::to_value(&t).expect("serializes");
        assert_eq!(back, wire);
        let text = serde_json::to_string(&t).expect("serializes");
        assert!(
            text.contains(r#""weight":10"#),
            "whole numbers stay integers: {text}"
        );
        assert!(text.contains(r#""min":0.9"#));
        assert!(!text.contains("null"), "absent fields are omitted: {text}");
    }

    #[test]
    fn default_templates_are_valid_and_grow_with_the_star_level() {
        let templates = default_templates();
        let shape: Vec<_> = templates
            .iter()
            .map(|t| (t.code.as_str(), t.star_level, t.items().count()))
            .collect();
        assert_eq!(
            shape,
            [("star-1", 1, 12), ("star-2", 2, 16), ("star-3", 3, 20)]
        );
        for t in &templates {
            assert_eq!(validate(t), Ok(()), "{}", t.code);
        }
    }

    #[test]
    fn each_star_level_keeps_every_item_of_the_level_below() {
        let templates = default_templates();
        for pair in templates.windows(2) {
            for item in pair[0].items() {
                assert!(
                    pair[1].item(&item.id).is_some(),
                    "{} lacks {}",
                    pair[1].code,
                    item.id
                );
            }
        }
    }

    #[test]
    fn default_templates_cover_every_item_kind() {
        let templates = default_templates();
        let kinds: HashSet<_> = templates
            .iter()
            .flat_map(|t| t.items().map(|i| i.kind))
            .collect();
        assert_eq!(kinds.len(), 7, "{kinds:?}");
    }

    #[test]
    fn default_templates_state_the_pass_mark_of_sixty() {
        for t in default_templates() {
            assert_eq!(
                (t.pass_score, t.pass_score()),
                (Some(60.0), 60.0),
                "{}",
                t.code
            );
        }
    }

    #[test]
    fn a_template_without_a_pass_score_passes_at_sixty() {
        let t = parse(base());
        assert_eq!((t.pass_score, t.pass_score()), (None, DEFAULT_PASS_SCORE));
        assert_eq!(DEFAULT_PASS_SCORE, 60.0);
        let text = serde_json::to_string(&t).expect("serializes");
        assert!(!text.contains("pass_score"), "{text}");
    }

    #[test]
    fn a_pass_score_from_0_to_100_is_kept_and_serialized() {
        for score in [json!(0), json!(80), json!(72.5), json!(100)] {
            let mut v = base();
            v["pass_score"] = score.clone();
            let t = parse(v.clone());
            assert_eq!(validate(&t), Ok(()), "{score}");
            assert_eq!(Some(t.pass_score()), score.as_f64());
            assert_eq!(serde_json::to_value(&t).expect("serializes"), v);
        }
    }

    #[test]
    fn a_pass_score_outside_0_to_100_is_refused() {
        for score in [json!(-1), json!(-0.1), json!(100.5), json!(1000)] {
            let mut v = base();
            v["pass_score"] = score.clone();
            assert_eq!(fields(v), vec!["pass_score"], "{score}");
        }
        let mut text = base();
        text["pass_score"] = json!("80");
        assert!(serde_json::from_value::<Template>(text).is_err());
    }

    #[test]
    fn default_template_files_are_exactly_what_the_model_serializes() {
        let files = [
            include_str!("defaults/star-1.json"),
            include_str!("defaults/star-2.json"),
            include_str!("defaults/star-3.json"),
        ];
        for (t, file) in default_templates().iter().zip(files) {
            let pretty = serde_json::to_string_pretty(t).expect("serializes") + "\n";
            assert_eq!(pretty, file, "{}", t.code);
        }
    }

    #[test]
    fn unknown_fields_are_refused_at_every_level() {
        let mut top = base();
        top["version"] = json!(1);
        let mut section = base();
        section["sections"][0]["note"] = json!("x");
        let mut item = base();
        item["sections"][0]["items"][0]["evidence"] = json!(1);
        let mut rule = base();
        rule["sections"][0]["items"][0]["pass"]["all_of"] = json!([]);
        let mut lbl = base();
        lbl["title"]["fr"] = json!("Village");
        for v in [top, section, item, rule, lbl] {
            let e = serde_json::from_value::<Template>(v).expect_err("refused");
            assert!(e.to_string().contains("unknown field"), "{e}");
        }
    }

    #[test]
    fn an_unknown_kind_is_refused() {
        let mut t = base();
        t["sections"][0]["items"][0]["kind"] = json!("signature");
        assert!(serde_json::from_value::<Template>(t).is_err());
    }

    #[test]
    fn code_must_be_lowercase_letters_digits_and_dashes() {
        for code in ["", "Star-1", "star_1", "star 1", "星级"] {
            let mut t = base();
            t["code"] = json!(code);
            assert_eq!(fields(t), ["code"], "{code:?}");
        }
        let mut t = base();
        t["code"] = json!("star-1-2026q4");
        assert!(fields(t).is_empty());
    }

    #[test]
    fn star_level_must_be_one_to_three() {
        for level in [0, 4, 255] {
            let mut t = base();
            t["star_level"] = json!(level);
            assert_eq!(fields(t), ["star_level"]);
        }
        for level in 1..=3 {
            let mut t = base();
            t["star_level"] = json!(level);
            assert!(fields(t).is_empty());
        }
    }

    #[test]
    fn both_languages_are_required_on_every_label() {
        let mut t = with_item(choice_item("choice", json!({})));
        t["title"] = json!({"zh": "一星级"});
        t["sections"][0]["title"] = json!({"zh": " ", "en": "Commitments"});
        t["sections"][0]["items"][0]["label"] = json!({"en": "Board"});
        t["sections"][0]["items"][1]["options"][2]["label"] = json!({"zh": "无", "en": ""});
        assert_eq!(
            fields(t),
            [
                "title.en",
                "sections[0].title.zh",
                "sections[0].items[0].label.zh",
                "sections[0].items[1].options[2].label.en"
            ]
        );
    }

    #[test]
    fn a_template_without_items_is_refused() {
        let mut t = base();
        t["sections"] = json!([]);
        assert_eq!(fields(t), ["sections"]);
        let mut t = base();
        t["sections"][0]["items"] = json!([]);
        let f = fields(t);
        assert!(f.contains(&"sections[0].items".to_string()), "{f:?}");
    }

    #[test]
    fn section_ids_are_unique_and_well_formed() {
        let mut t = base();
        let mut second = t["sections"][0].clone();
        second["items"][0]["id"] = json!("other");
        t["sections"].as_array_mut().expect("sections").push(second);
        assert_eq!(fields(t), ["sections[1].id"]);
        let mut t = base();
        t["sections"][0]["id"] = json!("Commitment");
        assert_eq!(fields(t), ["sections[0].id"]);
    }

    #[test]
    fn item_ids_are_unique_across_sections_and_well_formed() {
        let mut t = base();
        let mut second = t["sections"][0].clone();
        second["id"] = json!("records");
        t["sections"].as_array_mut().expect("sections").push(second);
        assert_eq!(fields(t), ["sections[1].items[0].id"]);
        for id in ["", "board-posted", "Board", &"x".repeat(65)] {
            let mut t = base();
            t["sections"][0]["items"][0]["id"] = json!(id);
            assert_eq!(fields(t), ["sections[0].items[0].id"], "{id:?}");
        }
    }

    #[test]
    fn visible_if_must_name_an_earlier_item() {
        let hidden = |target: &str| {
            json!({"id": "why_not_posted", "kind": "text", "label": label(),
                   "visible_if": {"item": target, "equals": false}})
        };
        assert!(item_fields(hidden("board_posted")).is_empty());
        assert_eq!(
            item_fields(hidden("why_not_posted")),
            ["sections[0].items[1].visible_if.item"]
        );
        assert_eq!(
            item_fields(hidden("nowhere")),
            ["sections[0].items[1].visible_if.item"]
        );
        let mut t = base();
        t["sections"][0]["items"][0]["visible_if"] = json!({"item": "later", "equals": true});
        t["sections"][0]["items"]
            .as_array_mut()
            .expect("items")
            .push(json!({"id": "later", "kind": "yes_no", "label": label()}));
        assert_eq!(fields(t), ["sections[0].items[0].visible_if.item"]);
    }

    #[test]
    fn visible_if_equals_must_fit_the_named_items_kind() {
        let mut t = with_item(number_item(json!({})));
        let items = t["sections"][0]["items"].as_array_mut().expect("items");
        items.push(choice_item("choice", json!({})));
        items.push(choice_item("multi_choice", json!({"id": "materials"})));
        items.push(json!({"id": "note", "kind": "text", "label": label()}));
        let cases = [
            ("board_posted", json!(true), true),
            ("board_posted", json!("yes"), false),
            ("board_posted", json!(1), false),
            ("policy_count", json!(3), true),
            ("policy_count", json!(2.5), true),
            ("policy_count", json!(21), false),
            ("policy_count", json!("3"), false),
            ("association", json!("partial"), true),
            ("association", json!("other"), false),
            ("association", json!(["partial"]), false),
            ("materials", json!("none"), true),
            ("materials", json!(["none"]), false),
            ("note", json!("n/a"), true),
            ("note", json!(false), false),
        ];
        for (target, equals, ok) in cases {
            let mut t = t.clone();
            t["sections"][0]["items"]
                .as_array_mut()
                .expect("items")
                .push(
                    json!({"id": "dependent", "kind": "yes_no", "label": label(),
                              "visible_if": {"item": target, "equals": equals}}),
                );
            let expected: Vec<String> = if ok {
                vec![]
            } else {
                vec!["sections[0].items[5].visible_if.equals".into()]
            };
            assert_eq!(fields(t), expected, "{target} = {equals}");
        }
    }

    #[test]
    fn photo_and_computed_items_cannot_decide_visibility() {
        for first in [
            json!({"id": "photos", "kind": "photo", "label": label(), "photos_min": 1}),
            json!({"id": "photos", "kind": "computed", "label": label(), "source": "mentoring.coverage"}),
        ] {
            let mut t = with_item(first);
            t["sections"][0]["items"]
                .as_array_mut()
                .expect("items")
                .push(json!({"id": "d", "kind": "yes_no", "label": label(),
                              "visible_if": {"item": "photos", "equals": true}}));
            assert_eq!(fields(t), ["sections[0].items[2].visible_if.item"]);
        }
    }

    #[test]
    fn a_yes_no_pass_rule_is_equals_a_bool_only() {
        let at = |k: &str| format!("sections[0].items[1].pass{k}");
        let item = |pass: Value| json!({"id": "x", "kind": "yes_no", "label": label(), "pass": pass, "weight": 1});
        assert!(item_fields(item(json!({"equals": false}))).is_empty());
        assert_eq!(item_fields(item(json!({"equals": 1}))), [at(".equals")]);
        assert_eq!(item_fields(item(json!({}))), [at(".equals")]);
        assert_eq!(
            item_fields(item(
                json!({"equals": true, "min": 1, "max": 2, "in": ["a"]})
            )),
            [at(".min"), at(".max"), at(".in")]
        );
    }

    #[test]
    fn a_number_pass_rule_has_bounds_within_the_items_range() {
        let at = |k: &str| format!("sections[0].items[1].pass{k}");
        let item = |pass: Value| number_item(json!({"pass": pass, "weight": 5}));
        assert!(item_fields(item(json!({"min": 2, "max": 4}))).is_empty());
        assert!(item_fields(item(json!({"min": 0}))).is_empty());
        assert!(item_fields(item(json!({"max": 20}))).is_empty());
        assert_eq!(item_fields(item(json!({}))), [at("")]);
        assert_eq!(item_fields(item(json!({"min": 5, "max": 4}))), [at(".min")]);
        assert_eq!(item_fields(item(json!({"min": -1}))), [at(".min")]);
        assert_eq!(item_fields(item(json!({"max": 21}))), [at(".max")]);
        assert_eq!(
            item_fields(item(json!({"min": 2, "equals": 3, "in": ["a"]}))),
            [at(".equals"), at(".in")]
        );
        let open = json!({"id": "n", "kind": "number", "label": label(), "pass": {"min": -1e9}, "weight": 1});
        assert!(
            item_fields(open).is_empty(),
            "an unbounded item takes any bound"
        );
    }

    #[test]
    fn a_number_items_own_min_must_not_exceed_its_max() {
        assert_eq!(
            item_fields(number_item(json!({"min": 5, "max": 1}))),
            ["sections[0].items[1].min"]
        );
        assert!(item_fields(number_item(json!({"min": 5, "max": 5}))).is_empty());
    }

    #[test]
    fn a_choice_pass_rule_lists_some_of_the_items_options() {
        let at = |k: &str| format!("sections[0].items[1].pass{k}");
        let item = |pass: Value| choice_item("choice", json!({"pass": pass, "weight": 5}));
        assert!(item_fields(item(json!({"in": ["complete", "partial"]}))).is_empty());
        assert_eq!(item_fields(item(json!({"in": []}))), [at(".in")]);
        assert_eq!(
            item_fields(item(json!({"in": ["complete", "other"]}))),
            [at(".in[1]")]
        );
        assert_eq!(
            item_fields(item(json!({"in": ["complete", "complete"]}))),
            [at(".in[1]")]
        );
        assert_eq!(item_fields(item(json!({}))), [at(".in")]);
        assert_eq!(
            item_fields(item(
                json!({"in": ["none"], "min": 1, "max": 1, "equals": "none"})
            )),
            [at(".equals"), at(".min"), at(".max")]
        );
    }

    #[test]
    fn a_multi_choice_pass_rule_takes_in_or_whole_counts_of_chosen_options() {
        let at = |k: &str| format!("sections[0].items[1].pass{k}");
        let item = |pass: Value| choice_item("multi_choice", json!({"pass": pass, "weight": 5}));
        assert!(item_fields(item(json!({"in": ["complete"]}))).is_empty());
        assert!(item_fields(item(json!({"min": 2}))).is_empty());
        assert!(item_fields(item(
            json!({"in": ["complete", "partial"], "min": 0, "max": 3})
        ))
        .is_empty());
        assert_eq!(item_fields(item(json!({}))), [at("")]);
        assert_eq!(item_fields(item(json!({"min": 4}))), [at(".min")]);
        assert_eq!(item_fields(item(json!({"min": 1.5}))), [at(".min")]);
        assert_eq!(item_fields(item(json!({"max": -1}))), [at(".max")]);
        assert_eq!(item_fields(item(json!({"min": 3, "max": 2}))), [at(".min")]);
        assert_eq!(item_fields(item(json!({"in": ["other"]}))), [at(".in[0]")]);
    }

    #[test]
    fn choice_items_need_unique_well_formed_options() {
        let at = |k: &str| format!("sections[0].items[1].options{k}");
        for kind in ["choice", "multi_choice"] {
            assert_eq!(
                item_fields(choice_item(kind, json!({"options": []}))),
                [at("")]
            );
            assert_eq!(
                item_fields(choice_item(
                    kind,
                    json!({"options": [
                    {"id": "a", "label": label()}, {"id": "a", "label": label()}, {"id": "B", "label": label()}]})
                )),
                [at("[1].id"), at("[2].id")]
            );
        }
    }

    #[test]
    fn text_and_photo_items_take_no_pass_rule() {
        let text = json!({"id": "t", "kind": "text", "label": label(), "pass": {"equals": "x"}});
        let photo = json!({"id": "p", "kind": "photo", "label": label(), "photos_min": 1, "pass": {"min": 1}});
        assert_eq!(item_fields(text), ["sections[0].items[1].pass"]);
        assert_eq!(item_fields(photo), ["sections[0].items[1].pass"]);
    }

    #[test]
    fn a_computed_item_needs_a_known_source_and_bounds_within_its_range() {
        let at = |k: &str| format!("sections[0].items[1]{k}");
        let item = |extra: Value| {
            let mut i = json!({"id": "followup_coverage", "kind": "computed", "label": label()});
            merge(&mut i, extra);
            i
        };
        assert!(item_fields(item(
            json!({"source": "mentoring.coverage", "pass": {"min": 0.9}, "weight": 10})
        ))
        .is_empty());
        assert!(item_fields(item(json!({"source": "mentoring.coverage"}))).is_empty());
        assert_eq!(item_fields(item(json!({}))), [at(".source")]);
        assert_eq!(
            item_fields(item(json!({"source": "mentoring.visits"}))),
            [at(".source")]
        );
        assert_eq!(
            item_fields(item(
                json!({"source": "mentoring.coverage", "pass": {"min": 90}})
            )),
            [at(".pass.min")]
        );
        assert_eq!(
            item_fields(item(
                json!({"source": "mentoring.coverage", "pass": {"in": ["a"], "max": 1}})
            )),
            [at(".pass.in")]
        );
        assert_eq!(
            item_fields(item(
                json!({"source": "mentoring.coverage", "photos_min": 1})
            )),
            [at(".photos_min")]
        );
    }

    #[test]
    fn fields_belong_to_their_kinds() {
        let at = |k: &str| format!("sections[0].items[1].{k}");
        let yes_no = json!({"id": "y", "kind": "yes_no", "label": label(), "min": 0, "max": 1,
            "options": [{"id": "a", "label": label()}], "max_length": 10, "source": "mentoring.coverage"});
        assert_eq!(
            item_fields(yes_no),
            [
                at("min"),
                at("max"),
                at("options"),
                at("max_length"),
                at("source")
            ]
        );
    }

    #[test]
    fn weight_is_finite_non_negative_and_needs_a_pass_rule() {
        let at = "sections[0].items[1].weight";
        assert_eq!(
            item_fields(
                json!({"id": "y", "kind": "yes_no", "label": label(), "pass": {"equals": true}, "weight": -1})
            ),
            [at]
        );
        assert_eq!(
            item_fields(json!({"id": "y", "kind": "yes_no", "label": label(), "weight": 3})),
            [at]
        );
        assert!(item_fields(
            json!({"id": "y", "kind": "yes_no", "label": label(), "pass": {"equals": true}})
        )
        .is_empty());
        let mut t = base();
        t["sections"][0]["items"][0]["weight"] = json!(1e308);
        assert!(fields(t).is_empty());
    }

    #[test]
    fn a_template_needs_some_weight_to_be_scored() {
        let mut t = base();
        t["sections"][0]["items"][0]["weight"] = json!(0);
        assert_eq!(fields(t), ["sections"]);
    }

    #[test]
    fn photos_min_is_at_most_twenty_and_at_least_one_for_photo_items() {
        let at = "sections[0].items[1].photos_min";
        let photo = |n: u32| json!({"id": "p", "kind": "photo", "label": label(), "photos_min": n});
        assert!(item_fields(photo(1)).is_empty());
        assert!(item_fields(photo(20)).is_empty());
        assert_eq!(item_fields(photo(0)), [at]);
        assert_eq!(
            item_fields(json!({"id": "p", "kind": "photo", "label": label()})),
            [at]
        );
        assert_eq!(item_fields(photo(21)), [at]);
        let mut t = base();
        t["sections"][0]["items"][0]["photos_min"] = json!(21);
        assert_eq!(fields(t), ["sections[0].items[0].photos_min"]);
    }

    #[test]
    fn max_length_is_between_one_and_ten_thousand() {
        let at = "sections[0].items[1].max_length";
        let text = |n: u32| json!({"id": "t", "kind": "text", "label": label(), "max_length": n});
        assert!(item_fields(text(1)).is_empty());
        assert!(item_fields(text(10_000)).is_empty());
        assert_eq!(item_fields(text(0)), [at]);
        assert_eq!(item_fields(text(10_001)), [at]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut t = base();
        t["code"] = json!("");
        t["star_level"] = json!(0);
        t["sections"][0]["items"][0]["photos_min"] = json!(30);
        let errors = validate(&parse(t)).expect_err("invalid");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors.iter().all(|e| !e.message.is_empty()));
    }
}

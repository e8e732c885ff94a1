//! An inspection's answers against its checklist template: which items are visible, whether
//! the answers and photo manifest fit the template, and the score and failing items.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::checklist::template::{FieldError, Item, ItemKind, PassRule, Template};
use crate::i18n::{Msg, Rule};

/// A value the server fills for a `computed` item, by the item's `source`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Computed {
    Value(f64),
    /// A value with the reason it is what it is, shown with the item's result (a coverage of 0
    /// because the village has registered no mentees). Judged like `Value`.
    Explained(f64, &'static str),
    /// The server cannot compute it; the item then neither passes nor fails.
    Unavailable,
}

/// Values by source name (`mentoring.coverage`); a source missing here is unavailable.
pub type ComputedValues = BTreeMap<String, Computed>;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// 0 to 100, one decimal.
    pub score: f64,
    /// The checklist's pass mark the score was held against.
    pub pass_score: f64,
    pub passed: bool,
    /// Ids of the items whose pass rule failed, in template order.
    pub failing_items: Vec<String>,
    /// One entry per visible item, in template order.
    pub items: Vec<ItemResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemResult {
    pub id: String,
    /// The answer, or the computed value; null when there is none.
    pub value: Value,
    /// `None` when the item has no pass rule or its computed value is unavailable.
    pub pass: Option<bool>,
    pub unavailable: bool,
    /// Why a computed value is what it is, in plain English (`no mentees registered`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visibility {
    Shown,
    Hidden,
    /// The item it depends on was answered wrongly, so whether it shows cannot be told.
    Unknown,
}

/// Checks answers against the template and, when they fit, scores them.
/// Every error's field is `answers.<item_id>`.
pub fn validate_answers(
    t: &Template,
    answers: &Map<String, Value>,
    computed: &ComputedValues,
) -> Result<Evaluation, Vec<FieldError>> {
    let mut errors = Vec::new();
    let field = |id: &str| format!("answers.{id}");

    for (id, value) in answers {
        match t.item(id).map(|i| i.kind) {
            None => errors.push(FieldError::new(field(id), Rule::NotAnItem)),
            Some(_) if value.is_null() => {}
            Some(ItemKind::Computed) => errors.push(FieldError::new(field(id), Rule::ItemComputed)),
            Some(ItemKind::Photo) => {
                errors.push(FieldError::new(field(id), Rule::PhotoItemNoAnswer))
            }
            Some(_) => {}
        }
    }

    let mut seen: HashMap<&str, Visibility> = HashMap::new();
    let mut bad_answers: HashSet<&str> = HashSet::new();
    for item in t.items() {
        let answer = answered(answers, &item.id);
        let visibility = match &item.visible_if {
            None => Visibility::Shown,
            Some(cond) => match seen.get(cond.item.as_str()) {
                Some(Visibility::Unknown) => Visibility::Unknown,
                Some(Visibility::Shown) if bad_answers.contains(cond.item.as_str()) => {
                    Visibility::Unknown
                }
                Some(Visibility::Shown) => shown_if(t, &cond.item, &cond.equals, answers),
                _ => Visibility::Hidden,
            },
        };
        seen.insert(&item.id, visibility);
        if matches!(item.kind, ItemKind::Computed | ItemKind::Photo) {
            continue;
        }
        match (visibility, answer) {
            (Visibility::Hidden, Some(_)) => {
                errors.push(FieldError::new(field(&item.id), hidden_message(item)));
                bad_answers.insert(&item.id);
            }
            (Visibility::Shown, None) if item.required => {
                errors.push(FieldError::new(field(&item.id), Rule::Required));
            }
            (Visibility::Shown | Visibility::Unknown, Some(value)) => {
                if let Err(message) = check_kind(item, value) {
                    errors.push(FieldError::new(field(&item.id), message));
                    bad_answers.insert(&item.id);
                }
            }
            _ => {}
        }
    }

    if errors.is_empty() {
        Ok(evaluate(t, answers, computed))
    } else {
        Err(errors)
    }
}

fn hidden_message(item: &Item) -> Msg {
    match &item.visible_if {
        Some(cond) => Rule::HiddenUnless
            .with("item", cond.item.as_str())
            .with("equals", cond.equals.to_string()),
        None => Rule::Hidden.into(),
    }
}

fn answered<'a>(answers: &'a Map<String, Value>, id: &str) -> Option<&'a Value> {
    answers.get(id).filter(|v| !v.is_null())
}

/// Whether an item whose condition names the shown item `target` is shown.
fn shown_if(
    t: &Template,
    target: &str,
    equals: &Value,
    answers: &Map<String, Value>,
) -> Visibility {
    let holds = match (t.item(target), answered(answers, target)) {
        (Some(item), Some(value)) => condition_holds(item.kind, value, equals),
        _ => false,
    };
    if holds {
        Visibility::Shown
    } else {
        Visibility::Hidden
    }
}

fn condition_holds(kind: ItemKind, value: &Value, equals: &Value) -> bool {
    match kind {
        ItemKind::Number => {
            matches!((value.as_f64(), equals.as_f64()), (Some(a), Some(b)) if a == b)
        }
        ItemKind::MultiChoice => value
            .as_array()
            .is_some_and(|chosen| chosen.iter().any(|c| c == equals)),
        _ => value == equals,
    }
}

fn check_kind(item: &Item, value: &Value) -> Result<(), Msg> {
    match item.kind {
        ItemKind::YesNo => value
            .is_boolean()
            .then_some(())
            .ok_or_else(|| Rule::TrueOrFalse.into()),
        ItemKind::Number => {
            let Some(n) = value.as_f64().filter(|n| n.is_finite()) else {
                return Err(Rule::MustBeNumber.into());
            };
            let below = item.min.is_some_and(|lo| n < lo);
            let above = item.max.is_some_and(|hi| n > hi);
            if below || above {
                Err(Rule::Between
                    .with("min", bound(item.min, "-∞"))
                    .with("max", bound(item.max, "∞")))
            } else {
                Ok(())
            }
        }
        ItemKind::Choice => match value.as_str() {
            Some(id) if item.has_option(id) => Ok(()),
            _ => Err(Rule::OneOf.with("allowed", option_ids(item))),
        },
        ItemKind::MultiChoice => {
            let Some(chosen) = value.as_array() else {
                return Err(Rule::OptionList.with("allowed", option_ids(item)));
            };
            let mut seen = HashSet::new();
            for c in chosen {
                match c.as_str() {
                    Some(id) if item.has_option(id) => {
                        if !seen.insert(id) {
                            return Err(Rule::ChosenTwice.with("id", id));
                        }
                    }
                    _ => return Err(Rule::OptionList.with("allowed", option_ids(item))),
                }
            }
            if item.required && chosen.is_empty() {
                return Err(Rule::ChooseOne.into());
            }
            Ok(())
        }
        ItemKind::Text => match value.as_str() {
            Some(s) if s.chars().count() <= item.text_limit() as usize => Ok(()),
            Some(_) => Err(Rule::TooLong.with("max", item.text_limit())),
            None => Err(Rule::MustBeString.into()),
        },
        ItemKind::Photo | ItemKind::Computed => Ok(()),
    }
}

fn bound(v: Option<f64>, none: &str) -> String {
    v.map_or_else(|| none.to_string(), |v| v.to_string())
}

fn option_ids(item: &Item) -> String {
    item.options
        .iter()
        .map(|o| o.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which items are visible for these answers, in template order. Answers are assumed to have
/// passed `validate_answers`; a wrongly typed answer simply fails the condition it feeds.
fn visible_items<'t>(t: &'t Template, answers: &Map<String, Value>) -> Vec<(&'t Item, bool)> {
    let mut shown: HashMap<&str, bool> = HashMap::new();
    t.items()
        .map(|item| {
            let visible = match &item.visible_if {
                None => true,
                Some(cond) => {
                    shown.get(cond.item.as_str()).copied().unwrap_or(false)
                        && shown_if(t, &cond.item, &cond.equals, answers) == Visibility::Shown
                }
            };
            shown.insert(&item.id, visible);
            (item, visible)
        })
        .collect()
}

/// Passed: every visible required item with a rule passes and the score reaches the template's
/// pass mark (`pass_score`, 60 when absent).
/// Score: 100 × the weight of passing items ÷ the weight of every visible item with a pass
/// rule that can be evaluated. Hidden items and unavailable computed values count in neither
/// sum; a visible unanswered (optional) item with a rule fails. With nothing to weigh the
/// score is 0.
fn evaluate(t: &Template, answers: &Map<String, Value>, computed: &ComputedValues) -> Evaluation {
    let mut items = Vec::new();
    let mut failing_items = Vec::new();
    let (mut passed_weight, mut total_weight) = (0.0, 0.0);
    let mut required_pass = true;

    for (item, visible) in visible_items(t, answers) {
        if !visible {
            continue;
        }
        let (value, unavailable, reason) = match item.kind {
            ItemKind::Computed => match item.source.as_deref().and_then(|s| computed.get(s)) {
                Some(Computed::Value(v)) if v.is_finite() => (number_value(*v), false, None),
                Some(Computed::Explained(v, why)) if v.is_finite() => {
                    (number_value(*v), false, Some((*why).to_owned()))
                }
                _ => (Value::Null, true, None),
            },
            ItemKind::Photo => (Value::Null, false, None),
            _ => (
                answered(answers, &item.id).cloned().unwrap_or(Value::Null),
                false,
                None,
            ),
        };
        let pass = match &item.pass {
            Some(rule) if !unavailable => Some(passes(item.kind, rule, &value)),
            _ => None,
        };
        if let Some(pass) = pass {
            total_weight += item.weight;
            if pass {
                passed_weight += item.weight;
            } else {
                failing_items.push(item.id.clone());
                if item.required {
                    required_pass = false;
                }
            }
        }
        items.push(ItemResult {
            id: item.id.clone(),
            value,
            pass,
            unavailable,
            reason,
        });
    }

    let score = if total_weight > 0.0 {
        ((1000.0 * passed_weight / total_weight).round() / 10.0).clamp(0.0, 100.0)
    } else {
        0.0
    };
    let pass_score = t.pass_score();
    Evaluation {
        score,
        pass_score,
        passed: required_pass && score >= pass_score,
        failing_items,
        items,
    }
}

fn number_value(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn passes(kind: ItemKind, rule: &PassRule, value: &Value) -> bool {
    let within = |n: f64| rule.min.is_none_or(|lo| n >= lo) && rule.max.is_none_or(|hi| n <= hi);
    match kind {
        ItemKind::YesNo => rule.equals.as_ref().is_some_and(|e| value == e),
        ItemKind::Number | ItemKind::Computed => value.as_f64().is_some_and(within),
        ItemKind::Choice => match (value.as_str(), &rule.one_of) {
            (Some(id), Some(ids)) => ids.iter().any(|i| i == id),
            _ => false,
        },
        ItemKind::MultiChoice => {
            let Some(chosen) = value.as_array() else {
                return false;
            };
            let in_list = rule.one_of.as_ref().is_none_or(|ids| {
                !chosen.is_empty()
                    && chosen
                        .iter()
                        .all(|c| c.as_str().is_some_and(|c| ids.iter().any(|i| i == c)))
            });
            in_list && within(chosen.len() as f64)
        }
        ItemKind::Text | ItemKind::Photo => false,
    }
}

/// How many photos each visible item needs, for checking an inspection's photo manifest.
pub fn photo_requirements<'t>(
    t: &'t Template,
    answers: &Map<String, Value>,
) -> Vec<(&'t str, u32)> {
    visible_items(t, answers)
        .into_iter()
        .filter(|(item, visible)| *visible && item.photos_min > 0)
        .map(|(item, _)| (item.id.as_str(), item.photos_min))
        .collect()
}

/// Checks the items named by an inspection's photo manifest (`photos[i].item`, in order):
/// each must be a visible, non-computed item, and every visible item must get its
/// `photos_min`.
pub fn validate_manifest(
    t: &Template,
    answers: &Map<String, Value>,
    manifest_items: &[&str],
) -> Vec<FieldError> {
    let visibility = visible_items(t, answers);
    let mut errors = Vec::new();
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for (i, &id) in manifest_items.iter().enumerate() {
        let field = format!("photos[{i}].item");
        match visibility.iter().find(|(item, _)| item.id == id) {
            None => errors.push(FieldError::new(
                field,
                Rule::ItemNotInChecklist.with("id", id),
            )),
            Some((_, false)) => errors.push(FieldError::new(
                field,
                Rule::ItemHiddenNoPhotos.with("id", id),
            )),
            Some((item, true)) if item.kind == ItemKind::Computed => errors.push(FieldError::new(
                field,
                Rule::ItemComputedNoPhotos.with("id", id),
            )),
            Some(_) => *counts.entry(id).or_default() += 1,
        }
    }
    for (id, min) in photo_requirements(t, answers) {
        let got = counts.get(id).copied().unwrap_or(0);
        if got < min {
            errors.push(FieldError::new(
                "photos",
                Rule::PhotosMin
                    .with("id", id)
                    .with("min", min)
                    .with("got", got),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checklist::template::{default_templates, validate};
    use proptest::prelude::*;
    use serde_json::json;

    fn label() -> Value {
        json!({"zh": "标签", "en": "Label"})
    }

    fn options(ids: &[&str]) -> Value {
        Value::Array(
            ids.iter()
                .map(|id| json!({"id": id, "label": label()}))
                .collect(),
        )
    }

    /// One item of every kind, with conditions on a yes_no, a number and a multi_choice item.
    fn template() -> Template {
        let t: Template = serde_json::from_value(json!({
            "code": "test", "star_level": 1, "title": label(),
            "sections": [
              {"id": "commitment", "title": label(), "items": [
                {"id": "board_posted", "kind": "yes_no", "label": label(), "required": true,
                 "photos_min": 1, "pass": {"equals": true}, "weight": 10},
                {"id": "why_not_posted", "kind": "text", "label": label(), "required": true,
                 "max_length": 10, "visible_if": {"item": "board_posted", "equals": false}},
                {"id": "policy_count", "kind": "number", "label": label(), "required": true,
                 "min": 0, "max": 20, "pass": {"min": 2, "max": 4}, "weight": 10},
                {"id": "policy_note", "kind": "text", "label": label(),
                 "visible_if": {"item": "policy_count", "equals": 0}}
              ]},
              {"id": "association", "title": label(), "items": [
                {"id": "association", "kind": "choice", "label": label(), "required": true,
                 "options": options(&["complete", "partial", "none"]),
                 "pass": {"in": ["complete"]}, "weight": 10},
                {"id": "materials", "kind": "multi_choice", "label": label(), "required": true,
                 "options": options(&["slogans", "boards", "leaflets"]),
                 "pass": {"min": 2}, "weight": 5},
                {"id": "board_photos", "kind": "photo", "label": label(), "photos_min": 2,
                 "visible_if": {"item": "materials", "equals": "boards"}},
                {"id": "honour_list", "kind": "yes_no", "label": label(),
                 "pass": {"equals": true}, "weight": 5},
                {"id": "followup_coverage", "kind": "computed", "label": label(),
                 "source": "mentoring.coverage", "pass": {"min": 0.9}, "weight": 10}
              ]}
            ]
        }))
        .expect("test template parses");
        assert_eq!(validate(&t), Ok(()));
        t
    }

    fn good() -> Map<String, Value> {
        match json!({"board_posted": true, "policy_count": 3, "association": "complete",
                     "materials": ["slogans", "boards"], "honour_list": true})
        {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn with(changes: Value) -> Map<String, Value> {
        let mut answers = good();
        if let Value::Object(c) = changes {
            for (k, v) in c {
                if v == json!("<absent>") {
                    answers.remove(&k);
                } else {
                    answers.insert(k, v);
                }
            }
        }
        answers
    }

    fn coverage(v: f64) -> ComputedValues {
        ComputedValues::from([("mentoring.coverage".to_string(), Computed::Value(v))])
    }

    fn errors(answers: Map<String, Value>) -> Vec<(String, String)> {
        match validate_answers(&template(), &answers, &coverage(1.0)) {
            Ok(_) => vec![],
            Err(e) => e.into_iter().map(|e| (e.field, e.message)).collect(),
        }
    }

    fn error_fields(answers: Map<String, Value>) -> Vec<String> {
        errors(answers).into_iter().map(|(f, _)| f).collect()
    }

    fn evaluate_with(answers: Map<String, Value>, computed: ComputedValues) -> Evaluation {
        validate_answers(&template(), &answers, &computed).expect("answers are valid")
    }

    #[test]
    fn complete_passing_answers_score_100_and_pass() {
        let e = evaluate_with(good(), coverage(0.95));
        assert_eq!(e.score, 100.0);
        assert!(e.passed);
        assert!(e.failing_items.is_empty());
    }

    #[test]
    fn an_unknown_item_is_refused_even_when_null() {
        assert_eq!(
            error_fields(with(json!({"board": true}))),
            ["answers.board"]
        );
        assert_eq!(
            error_fields(with(json!({"board": null}))),
            ["answers.board"]
        );
    }

    #[test]
    fn a_computed_item_answered_by_the_client_is_refused() {
        let e = errors(with(json!({"followup_coverage": 1.0})));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "answers.followup_coverage");
        assert!(e[0].1.contains("computed by the server"), "{}", e[0].1);
        assert!(errors(with(json!({"followup_coverage": null}))).is_empty());
    }

    #[test]
    fn a_photo_item_answered_is_refused() {
        let e = errors(with(json!({"board_photos": "img.jpg"})));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "answers.board_photos");
        assert!(e[0].1.contains("photos only"));
    }

    #[test]
    fn a_hidden_item_must_not_be_answered() {
        let e = errors(with(json!({"why_not_posted": "lost"})));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "answers.why_not_posted");
        assert!(e[0].1.contains("board_posted"), "{}", e[0].1);
        assert!(errors(with(json!({"why_not_posted": null}))).is_empty());
        assert_eq!(
            error_fields(with(json!({"policy_note": "x"}))),
            ["answers.policy_note"]
        );
    }

    #[test]
    fn a_visible_required_item_must_be_answered() {
        assert_eq!(
            error_fields(with(json!({"board_posted": false}))),
            ["answers.why_not_posted"]
        );
        assert_eq!(
            error_fields(with(json!({"board_posted": false, "why_not_posted": null}))),
            ["answers.why_not_posted"]
        );
        assert!(errors(with(
            json!({"board_posted": false, "why_not_posted": "在修"})
        ))
        .is_empty());
        for id in ["board_posted", "policy_count", "association", "materials"] {
            assert_eq!(
                error_fields(with(json!({id: "<absent>"}))),
                [format!("answers.{id}")]
            );
            assert_eq!(
                error_fields(with(json!({id: null}))),
                [format!("answers.{id}")]
            );
        }
    }

    #[test]
    fn optional_items_may_be_left_out() {
        assert!(errors(with(json!({"honour_list": "<absent>"}))).is_empty());
        assert!(errors(with(json!({"honour_list": null}))).is_empty());
        assert!(
            errors(with(json!({"policy_count": 0}))).is_empty(),
            "policy_note is optional"
        );
    }

    #[test]
    fn a_yes_no_answer_is_a_bool() {
        for v in [json!("true"), json!(1), json!([true]), json!({})] {
            assert_eq!(
                error_fields(with(json!({"honour_list": v}))),
                ["answers.honour_list"]
            );
        }
    }

    #[test]
    fn a_number_answer_is_a_finite_number_within_the_items_range() {
        for v in [json!(0), json!(20), json!(3.5), json!(-0.0)] {
            assert!(
                errors(with(json!({"policy_count": v.clone()}))).is_empty(),
                "{v}"
            );
        }
        for v in [
            json!(-1),
            json!(20.01),
            json!("3"),
            json!(true),
            json!(1e300),
        ] {
            assert_eq!(
                error_fields(with(json!({"policy_count": v.clone()}))),
                ["answers.policy_count"],
                "{v}"
            );
        }
    }

    #[test]
    fn a_choice_answer_is_one_of_the_option_ids() {
        assert!(errors(with(json!({"association": "none"}))).is_empty());
        for v in [json!("Complete"), json!(["complete"]), json!(1)] {
            assert_eq!(
                error_fields(with(json!({"association": v}))),
                ["answers.association"]
            );
        }
    }

    #[test]
    fn a_multi_choice_answer_is_a_list_of_unique_option_ids() {
        assert!(errors(with(json!({"materials": ["leaflets"]}))).is_empty());
        for v in [
            json!("slogans"),
            json!(["slogans", "posters"]),
            json!(["slogans", "slogans"]),
            json!(["slogans", 1]),
            json!([]),
        ] {
            assert_eq!(
                error_fields(with(json!({"materials": v.clone()}))),
                ["answers.materials"],
                "{v}"
            );
        }
    }

    #[test]
    fn an_optional_multi_choice_may_be_an_empty_list() {
        let mut t = template();
        t.sections[1].items[1].required = false;
        let answers = with(json!({"materials": []}));
        let e = validate_answers(&t, &answers, &coverage(1.0)).expect("valid");
        assert!(e.failing_items.contains(&"materials".to_string()));
    }

    #[test]
    fn a_text_answer_is_a_string_of_at_most_max_length_characters() {
        let base = json!({"board_posted": false});
        let answer = |text: Value| {
            let mut a = with(base.clone());
            a.insert("why_not_posted".into(), text);
            error_fields(a)
        };
        assert!(
            answer(json!("公开承诺牌正在重新制作")).len() == 1,
            "11 characters"
        );
        assert!(
            answer(json!("承诺牌正在重新制作中")).is_empty(),
            "10 characters, 30 bytes"
        );
        assert_eq!(answer(json!(5)), ["answers.why_not_posted"]);
        let long = |n: usize| with(json!({"policy_count": 0, "policy_note": "x".repeat(n)}));
        assert!(errors(long(2000)).is_empty(), "the default limit is 2000");
        assert_eq!(error_fields(long(2001)), ["answers.policy_note"]);
    }

    #[test]
    fn a_wrongly_typed_answer_does_not_also_report_the_items_it_shows_or_hides() {
        assert_eq!(
            error_fields(with(json!({"board_posted": "no"}))),
            ["answers.board_posted"]
        );
        assert_eq!(
            error_fields(with(json!({"board_posted": "no", "why_not_posted": "x"}))),
            ["answers.board_posted"]
        );
        assert_eq!(
            error_fields(with(json!({"board_posted": "no", "why_not_posted": 3}))),
            ["answers.board_posted", "answers.why_not_posted"]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once_and_names_only_answers() {
        let e = error_fields(with(
            json!({"ghost": 1, "board_posted": 2, "policy_count": "x",
            "association": "<absent>", "followup_coverage": 0.5}),
        ));
        assert_eq!(e.len(), 5, "{e:?}");
        assert!(e.iter().all(|f| f.starts_with("answers.")));
    }

    #[test]
    fn the_score_is_the_passing_share_of_evaluable_weight() {
        // Weights: board 10, policy 10, association 10, materials 5, honour 5, coverage 10.
        let e = evaluate_with(
            with(json!({"association": "partial", "honour_list": false})),
            coverage(0.5),
        );
        assert_eq!(
            e.failing_items,
            ["association", "honour_list", "followup_coverage"]
        );
        assert_eq!(e.score, 50.0);
        assert!(!e.passed);
    }

    fn with_honour_weight(weight: f64) -> Template {
        let mut t = template();
        t.sections[1].items[3].weight = weight;
        t
    }

    #[test]
    fn the_score_is_rounded_to_one_decimal() {
        // Passing weight 35 (board, policy, association, materials) + coverage 10.
        let e = evaluate_with(with(json!({"honour_list": false})), ComputedValues::new());
        assert_eq!(e.score, 87.5, "35 of 40");
        let failing_honour = with(json!({"honour_list": false}));
        let e = validate_answers(&with_honour_weight(20.0), &failing_honour, &coverage(1.0))
            .expect("valid");
        assert_eq!(e.score, 69.2, "45 of 65");
        let e = validate_answers(
            &with_honour_weight(17.5),
            &failing_honour,
            &ComputedValues::new(),
        )
        .expect("valid");
        assert_eq!(e.score, 66.7, "35 of 52.5");
    }

    #[test]
    fn a_score_of_exactly_the_threshold_passes_and_just_below_fails() {
        let failing_honour = with(json!({"honour_list": false}));
        let e = validate_answers(&with_honour_weight(30.0), &failing_honour, &coverage(1.0))
            .expect("valid");
        assert_eq!((e.score, e.passed), (60.0, true), "45 of 75");
        assert_eq!(e.pass_score, 60.0, "the default pass mark");
        let e = validate_answers(&with_honour_weight(31.0), &failing_honour, &coverage(1.0))
            .expect("valid");
        assert_eq!((e.score, e.passed), (59.2, false), "45 of 76");
    }

    #[test]
    fn a_failing_required_item_fails_the_inspection_whatever_the_score() {
        let e = evaluate_with(with(json!({"policy_count": 5})), coverage(1.0));
        assert_eq!(e.score, 80.0);
        assert_eq!(e.failing_items, ["policy_count"]);
        assert!(!e.passed);
    }

    #[test]
    fn a_failing_optional_item_costs_score_only() {
        let e = evaluate_with(with(json!({"honour_list": false})), coverage(1.0));
        assert_eq!(e.score, 90.0);
        assert!(e.passed);
    }

    #[test]
    fn an_unanswered_optional_item_with_a_rule_fails() {
        let e = evaluate_with(with(json!({"honour_list": "<absent>"})), coverage(1.0));
        assert_eq!(e.failing_items, ["honour_list"]);
        let item = e
            .items
            .iter()
            .find(|i| i.id == "honour_list")
            .expect("listed");
        assert_eq!((item.value.clone(), item.pass), (Value::Null, Some(false)));
    }

    #[test]
    fn an_unavailable_computed_value_neither_passes_nor_fails() {
        let unavailable =
            ComputedValues::from([("mentoring.coverage".to_string(), Computed::Unavailable)]);
        for computed in [unavailable, ComputedValues::new()] {
            let e = evaluate_with(with(json!({"honour_list": false})), computed);
            assert_eq!(e.score, 87.5, "35 of 40");
            assert_eq!(e.failing_items, ["honour_list"]);
            let item = e
                .items
                .iter()
                .find(|i| i.id == "followup_coverage")
                .expect("listed");
            assert_eq!(
                item,
                &ItemResult {
                    id: "followup_coverage".into(),
                    value: Value::Null,
                    pass: None,
                    unavailable: true,
                    reason: None,
                }
            );
        }
    }

    #[test]
    fn an_explained_computed_value_is_judged_and_carries_its_reason() {
        let none_registered = ComputedValues::from([(
            "mentoring.coverage".to_string(),
            Computed::Explained(0.0, "no mentees registered"),
        )]);
        let e = evaluate_with(good(), none_registered);
        assert_eq!(e.failing_items, ["followup_coverage"]);
        assert_eq!(
            e.score, 80.0,
            "40 of 50: the coverage weight counts, failed"
        );
        let item = e
            .items
            .iter()
            .find(|i| i.id == "followup_coverage")
            .expect("listed");
        assert_eq!(
            item,
            &ItemResult {
                id: "followup_coverage".into(),
                value: json!(0.0),
                pass: Some(false),
                unavailable: false,
                reason: Some("no mentees registered".into()),
            }
        );
        let wire = serde_json::to_value(item).expect("json");
        assert_eq!(wire["reason"], "no mentees registered");
        let plain = e
            .items
            .iter()
            .find(|i| i.id == "board_posted")
            .expect("listed");
        let wire = serde_json::to_value(plain).expect("json");
        assert!(wire.get("reason").is_none(), "{wire}");
    }

    #[test]
    fn no_mentoring_scores_below_half_coverage() {
        let none = evaluate_with(
            good(),
            ComputedValues::from([(
                "mentoring.coverage".to_string(),
                Computed::Explained(0.0, "no mentees registered"),
            )]),
        );
        let half = evaluate_with(good(), coverage(0.5));
        assert!(none.score <= half.score, "{} vs {}", none.score, half.score);
    }

    #[test]
    fn the_template_pass_score_is_the_pass_mark() {
        // 45 of 75 = 60: passes at the default mark, fails at 80, passes at 0.
        let failing_honour = with(json!({"honour_list": false}));
        let mut t = with_honour_weight(30.0);
        for (mark, passed) in [
            (None, true),
            (Some(60.0), true),
            (Some(60.1), false),
            (Some(80.0), false),
            (Some(0.0), true),
        ] {
            t.pass_score = mark;
            let e = validate_answers(&t, &failing_honour, &coverage(1.0)).expect("valid");
            assert_eq!(e.score, 60.0);
            assert_eq!(
                (e.pass_score, e.passed),
                (mark.unwrap_or(60.0), passed),
                "{mark:?}"
            );
        }
        // A required failure fails whatever the mark.
        t.pass_score = Some(0.0);
        let e =
            validate_answers(&t, &with(json!({"policy_count": 5})), &coverage(1.0)).expect("valid");
        assert!(!e.passed);
    }

    #[test]
    fn a_computed_value_is_judged_by_its_inclusive_bounds() {
        let at = |v: f64| {
            let e = evaluate_with(good(), coverage(v));
            let item = e
                .items
                .iter()
                .find(|i| i.id == "followup_coverage")
                .cloned()
                .expect("listed");
            (item.value, item.pass)
        };
        assert_eq!(at(0.9), (json!(0.9), Some(true)));
        assert_eq!(at(27.0 / 30.0), (json!(0.9), Some(true)));
        assert_eq!(at(0.899), (json!(0.899), Some(false)));
        assert_eq!(at(f64::NAN).1, None, "a non-finite value is unavailable");
    }

    #[test]
    fn number_rules_are_inclusive() {
        for (n, pass) in [(1, false), (2, true), (4, true), (5, false)] {
            let e = evaluate_with(with(json!({"policy_count": n})), coverage(1.0));
            assert_eq!(e.failing_items.is_empty(), pass, "{n}");
        }
    }

    #[test]
    fn multi_choice_rules_bound_the_count_and_the_allowed_options() {
        let mut t = template();
        t.sections[1].items[1].pass = Some(PassRule {
            one_of: Some(vec!["slogans".into(), "boards".into()]),
            min: Some(1.0),
            ..PassRule::default()
        });
        let passes_with = |chosen: Value| {
            let e = validate_answers(&t, &with(json!({"materials": chosen})), &coverage(1.0))
                .expect("valid");
            e.failing_items.is_empty()
        };
        assert!(passes_with(json!(["boards"])));
        assert!(passes_with(json!(["boards", "slogans"])));
        assert!(!passes_with(json!(["boards", "leaflets"])));
        // With the test template's {min: 2}.
        let count = |chosen: Value| {
            evaluate_with(with(json!({"materials": chosen})), coverage(1.0)).failing_items
        };
        assert_eq!(count(json!(["leaflets"])), ["materials"]);
        assert!(count(json!(["leaflets", "slogans", "boards"])).is_empty());
    }

    #[test]
    fn hidden_items_are_left_out_of_the_results_and_the_score() {
        let e = evaluate_with(good(), coverage(1.0));
        let ids: Vec<_> = e.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "board_posted",
                "policy_count",
                "association",
                "materials",
                "board_photos",
                "honour_list",
                "followup_coverage"
            ]
        );
        let e = evaluate_with(
            with(json!({"materials": ["slogans", "leaflets"]})),
            coverage(1.0),
        );
        assert!(!e.items.iter().any(|i| i.id == "board_photos"));
    }

    #[test]
    fn items_without_a_rule_are_listed_without_a_verdict() {
        let e = evaluate_with(
            with(json!({"board_posted": false, "why_not_posted": "在修"})),
            coverage(1.0),
        );
        let item = e
            .items
            .iter()
            .find(|i| i.id == "why_not_posted")
            .expect("listed");
        assert_eq!(
            (item.value.clone(), item.pass, item.unavailable),
            (json!("在修"), None, false)
        );
        assert_eq!(e.failing_items, ["board_posted"]);
        assert!(!e.passed);
    }

    #[test]
    fn with_nothing_to_weigh_the_score_is_zero_and_the_inspection_fails() {
        let mut t = template();
        for section in &mut t.sections {
            for item in &mut section.items {
                item.weight = 0.0;
            }
        }
        let e = validate_answers(&t, &good(), &coverage(1.0)).expect("valid");
        assert_eq!((e.score, e.passed), (0.0, false));
    }

    #[test]
    fn photo_requirements_list_only_visible_items() {
        let t = template();
        assert_eq!(
            photo_requirements(&t, &good()),
            [("board_posted", 1), ("board_photos", 2)]
        );
        assert_eq!(
            photo_requirements(&t, &with(json!({"materials": ["slogans", "leaflets"]}))),
            [("board_posted", 1)]
        );
    }

    #[test]
    fn a_manifest_with_enough_photos_for_each_visible_item_is_accepted() {
        let t = template();
        let manifest = [
            "board_posted",
            "board_photos",
            "board_photos",
            "association",
        ];
        assert!(validate_manifest(&t, &good(), &manifest).is_empty());
    }

    #[test]
    fn a_manifest_naming_unknown_hidden_or_computed_items_is_refused() {
        let t = template();
        let answers = with(json!({"materials": ["slogans", "leaflets"]}));
        let manifest = [
            "board_posted",
            "ghost",
            "board_photos",
            "followup_coverage",
            "why_not_posted",
        ];
        let e = validate_manifest(&t, &answers, &manifest);
        let fields: Vec<_> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "photos[1].item",
                "photos[2].item",
                "photos[3].item",
                "photos[4].item"
            ]
        );
    }

    #[test]
    fn a_manifest_short_of_photos_names_the_item() {
        let t = template();
        let e = validate_manifest(&t, &good(), &["board_photos"]);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e.iter().all(|e| e.field == "photos"));
        assert!(e[0].message.contains("board_posted") && e[0].message.contains("has 0"));
        assert!(e[1].message.contains("board_photos") && e[1].message.contains("at least 2"));
    }

    #[test]
    fn default_templates_accept_a_village_that_meets_every_item() {
        for t in default_templates() {
            let mut answers = Map::new();
            for item in t.items() {
                let value = match (item.kind, item.visible_if.is_some()) {
                    (ItemKind::YesNo, _) => json!(true),
                    (ItemKind::Number, _) => {
                        json!(item.pass.as_ref().and_then(|p| p.min).unwrap_or(0.0))
                    }
                    (ItemKind::Choice, _) => json!(item
                        .pass
                        .as_ref()
                        .and_then(|p| p.one_of.as_ref())
                        .map_or(&item.options[0].id, |ids| &ids[0])),
                    (ItemKind::MultiChoice, _) => json!(item
                        .options
                        .iter()
                        .map(|o| o.id.clone())
                        .collect::<Vec<_>>()),
                    (ItemKind::Text, false) => json!("一切正常"),
                    _ => continue,
                };
                answers.insert(item.id.clone(), value);
            }
            let e = validate_answers(&t, &answers, &coverage(1.0)).expect("valid");
            assert_eq!((e.score, e.passed), (100.0, true), "{}", t.code);
            let manifest: Vec<&str> = photo_requirements(&t, &answers)
                .into_iter()
                .flat_map(|(id, n)| std::iter::repeat_n(id, n as usize))
                .collect();
            assert!(validate_manifest(&t, &answers, &manifest).is_empty());
        }
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(number_value),
            "[a-z_ 承诺]{0,12}".prop_map(Value::String),
            prop_oneof![
                Just("complete"),
                Just("slogans"),
                Just("boards"),
                Just("culture")
            ]
            .prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn any_answers() -> impl Strategy<Value = Map<String, Value>> {
        let ids: Vec<String> = default_templates()
            .iter()
            .flat_map(|t| t.items().map(|i| i.id.clone()).collect::<Vec<_>>())
            .chain(template().items().map(|i| i.id.clone()))
            .collect();
        let key = prop_oneof![4 => prop::sample::select(ids), 1 => "[a-z_]{1,8}"];
        prop::collection::btree_map(key, any_json(), 0..24).prop_map(|m| m.into_iter().collect())
    }

    /// Mostly well-typed answers, so that many generated maps validate and get scored.
    fn plausible_answers(t: &Template) -> impl Strategy<Value = Map<String, Value>> {
        let per_item: Vec<BoxedStrategy<Option<(String, Value)>>> = t
            .items()
            .filter(|i| !matches!(i.kind, ItemKind::Photo | ItemKind::Computed))
            .map(|item| {
                let ids: Vec<String> = item.options.iter().map(|o| o.id.clone()).collect();
                let fitting: BoxedStrategy<Value> = match item.kind {
                    ItemKind::YesNo => any::<bool>().prop_map(Value::Bool).boxed(),
                    ItemKind::Number => {
                        let (lo, hi) = (item.min.unwrap_or(-10.0), item.max.unwrap_or(10.0));
                        (lo..=hi).prop_map(|n| json!(n.round())).boxed()
                    }
                    ItemKind::Choice => prop::sample::select(ids).prop_map(Value::String).boxed(),
                    ItemKind::MultiChoice => {
                        let n = ids.len();
                        prop::sample::subsequence(ids, 0..=n)
                            .prop_map(|c| json!(c))
                            .boxed()
                    }
                    _ => "[a-z 文字]{0,30}".prop_map(Value::String).boxed(),
                };
                let id = item.id.clone();
                prop_oneof![
                    30 => fitting.prop_map(Some),
                    1 => Just(None),
                    1 => any_json().prop_map(Some),
                ]
                .prop_map(move |v| v.map(|v| (id.clone(), v)))
                .boxed()
            })
            .collect();
        let t = t.clone();
        (per_item, any::<bool>()).prop_map(move |(answers, tidy)| {
            let mut answers: Map<String, Value> = answers.into_iter().flatten().collect();
            if tidy {
                for (item, visible) in visible_items(&t, &answers.clone()) {
                    if !visible {
                        answers.remove(&item.id);
                    }
                }
            }
            answers
        })
    }

    proptest! {
        #[test]
        fn arbitrary_answers_never_panic_and_errors_name_only_answers(
            answers in any_answers(),
            which in 0usize..4,
            cov in prop_oneof![Just(None), (0.0f64..=1.0).prop_map(Some)],
        ) {
            let t = if which == 3 { template() } else { default_templates().swap_remove(which) };
            let computed: ComputedValues = cov
                .map(|v| ComputedValues::from([("mentoring.coverage".to_string(), Computed::Value(v))]))
                .unwrap_or_default();
            match validate_answers(&t, &answers, &computed) {
                Ok(e) => {
                    prop_assert!((0.0..=100.0).contains(&e.score));
                    prop_assert!(!e.passed || e.score >= t.pass_score());
                }
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    for error in errors {
                        prop_assert!(error.field.starts_with("answers."), "{}", error.field);
                        let id = &error.field["answers.".len()..];
                        prop_assert!(answers.contains_key(id) || t.item(id).is_some());
                    }
                }
            }
            let ids: Vec<&str> = answers.keys().map(String::as_str).collect();
            for error in validate_manifest(&t, &answers, &ids) {
                prop_assert!(error.field == "photos" || error.field.starts_with("photos["));
            }
        }

        #[test]
        fn plausible_answers_that_validate_are_scored_consistently(
            (t, answers) in (0usize..3).prop_flat_map(|n| {
                let t = default_templates().swap_remove(n);
                (Just(t.clone()), plausible_answers(&t))
            }),
            cov in prop_oneof![Just(None), (0.0f64..=1.0).prop_map(Some)],
        ) {
            let computed: ComputedValues = cov
                .map(|v| ComputedValues::from([("mentoring.coverage".to_string(), Computed::Value(v))]))
                .unwrap_or_default();
            // Only answers that validate are scored; proptest fails the test when it has to
            // throw away too many cases, so this cannot pass on invalid answers alone.
            let validated = validate_answers(&t, &answers, &computed);
            prop_assume!(validated.is_ok());
            if let Ok(e) = validated {
                let failed: Vec<&str> = e.items.iter().filter(|i| i.pass == Some(false)).map(|i| i.id.as_str()).collect();
                prop_assert_eq!(&e.failing_items, &failed);
                let weight = |pass: Option<bool>| -> f64 {
                    e.items.iter().filter(|i| pass.map_or(i.pass.is_some(), |p| i.pass == Some(p)))
                        .filter_map(|i| t.item(&i.id)).map(|i| i.weight).sum()
                };
                let (passing, total) = (weight(Some(true)), weight(None));
                let expected = if total > 0.0 { (1000.0 * passing / total).round() / 10.0 } else { 0.0 };
                prop_assert_eq!(e.score, expected);
                let required_failed = e.failing_items.iter().any(|id| t.item(id).is_some_and(|i| i.required));
                prop_assert_eq!(e.passed, !required_failed && e.score >= t.pass_score());
                prop_assert!(photo_requirements(&t, &answers).iter().all(|(id, _)| e.items.iter().any(|i| i.id == *id)));
            }
        }
    }
}

//! Fuzz targets (proptest): templates mutated from the defaults never panic validation, and a
//! template that validates never panics answer validation, whatever the answers.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::answers::{validate_answers, Computed, ComputedValues};
use super::template::{default_templates, validate, Template};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|n| json!(n)),
        Just(json!(f64::MAX)),
        Just(json!(-0.0)),
        "[a-z_]{0,8}".prop_map(Value::String),
        prop_oneof![
            Just("yes_no"),
            Just("number"),
            Just("choice"),
            Just("multi_choice"),
            Just("text"),
            Just("photo"),
            Just("computed"),
            Just("board_posted"),
            Just("mentoring.coverage"),
            Just("")
        ]
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_string()),
                    Just("item".to_string()),
                    Just("equals".to_string()),
                    Just("min".to_string()),
                    Just("max".to_string()),
                    Just("in".to_string()),
                    "[a-z]{1,4}"
                ],
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Clone, Debug)]
enum Edit {
    Replace(Value),
    Remove,
    Duplicate,
}

fn any_edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => any_json().prop_map(Edit::Replace),
        2 => Just(Edit::Remove),
        1 => Just(Edit::Duplicate),
    ]
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// Applies `edit` to the `n`-th node of `v` in depth-first order (its children for Remove
/// and Duplicate: the node's first child is removed or repeated).
fn apply(v: &mut Value, n: &mut usize, edit: &Edit) -> bool {
    if *n == 0 {
        match edit {
            Edit::Replace(new) => *v = new.clone(),
            Edit::Remove => match v {
                Value::Array(a) if !a.is_empty() => {
                    a.remove(0);
                }
                Value::Object(o) => {
                    if let Some(k) = o.keys().next().cloned() {
                        o.remove(&k);
                    }
                }
                _ => *v = Value::Null,
            },
            Edit::Duplicate => {
                if let Value::Array(a) = v {
                    if let Some(first) = a.first().cloned() {
                        a.push(first);
                    }
                }
            }
        }
        return true;
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|c| apply(c, n, edit)),
        Value::Object(o) => o.values_mut().any(|c| apply(c, n, edit)),
        _ => false,
    }
}

fn answers_for(t: &Template, values: Vec<Value>) -> Map<String, Value> {
    t.items()
        .map(|i| i.id.clone())
        .zip(values)
        .filter(|(_, v)| !v.is_null())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutated_default_templates_never_panic_validation_or_scoring(
        which in 0usize..3,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any_edit()), 1..6),
        values in prop::collection::vec(any_json(), 0..40),
        coverage in prop_oneof![Just(None), (-1.0f64..2.0).prop_map(Some)],
    ) {
        let mut doc = serde_json::to_value(&default_templates()[which]).unwrap();
        for (at, edit) in &edits {
            let mut n = at.index(count(&doc));
            apply(&mut doc, &mut n, edit);
        }
        let Ok(t) = serde_json::from_value::<Template>(doc) else { return Ok(()) };
        if validate(&t).is_err() {
            return Ok(());
        }
        // A template that validates is one the server may store: answers of any shape are
        // checked against it without a panic, and a score stays within 0..=100.
        let computed: ComputedValues = coverage
            .map(|v| ComputedValues::from([("mentoring.coverage".to_string(), Computed::Value(v))]))
            .unwrap_or_default();
        if let Ok(e) = validate_answers(&t, &answers_for(&t, values), &computed) {
            prop_assert!((0.0..=100.0).contains(&e.score), "{}", e.score);
        }
    }
}

#[test]
fn each_default_template_survives_every_single_node_removal() {
    for t in default_templates() {
        let doc = serde_json::to_value(&t).unwrap();
        for n in 0..count(&doc) {
            for edit in [Edit::Remove, Edit::Duplicate, Edit::Replace(Value::Null)] {
                let mut d = doc.clone();
                apply(&mut d, &mut n.clone(), &edit);
                if let Ok(t) = serde_json::from_value::<Template>(d) {
                    let _ = validate(&t);
                }
            }
        }
    }
}

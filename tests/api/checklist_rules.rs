//! The checklist's own rules on an inspection: the coverage item of a village without mentees,
//! the version current when the inspection started, and the checklist's pass mark.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::both_backends;
use crate::flow::*;
use crate::helpers::*;

fn label(en: &str) -> Value {
    json!({"zh": "检查项", "en": en})
}

/// A county checklist for level 1 without photos: `a` (required, weight 7) and `b` (weight 3),
/// so that answering `a` yes and `b` no scores 70.
fn county_template(pass_score: Option<f64>) -> Value {
    let mut t = json!({
        "code": "field-star-1", "star_level": 1, "title": label("Field one-star check"),
        "sections": [{"id": "basics", "title": label("Basics"), "items": [
            {"id": "a", "kind": "yes_no", "label": label("A"), "required": true,
             "pass": {"equals": true}, "weight": 7},
            {"id": "b", "kind": "yes_no", "label": label("B"),
             "pass": {"equals": true}, "weight": 3}
        ]}]
    });
    if let Some(p) = pass_score {
        t["pass_score"] = json!(p);
    }
    t
}

/// Adds and publishes a version of the county's checklist; returns its number.
async fn publish(app: &TestApp, admin: &str, template: &Value) -> i64 {
    let res = app.post("/api/v1/checklists", admin, template).await;
    assert_eq!(res.status(), 201, "draft {template}");
    let version = json_of(res).await["version"].as_i64().unwrap();
    let res = app
        .post(
            &format!("/api/v1/checklists/field-star-1/versions/{version}/publish"),
            admin,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "publish version {version}");
    version
}

fn body(declaration: &Value, version: i64, started_at: DateTime<Utc>) -> Value {
    let submitted_at = Utc::now();
    json!({
        "declaration_id": declaration["id"],
        "checklist": {"code": "field-star-1", "version": version},
        "started_at": started_at.to_rfc3339(),
        "submitted_at": submitted_at.to_rfc3339(),
        "location": {"lat": VILLAGE.0, "lon": VILLAGE.1, "accuracy_m": 12.5,
                     "captured_at": submitted_at.to_rfc3339(), "mock": false},
        "utc_offset_minutes": OFFSET_MINUTES,
        "answers": {"a": true, "b": false},
        "photos": [],
    })
}

async fn put_inspection(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    let id = uuid::Uuid::new_v4();
    app.put(&format!("/api/v1/inspections/{id}"), token, body)
        .await
}

/// Lets the server's clock move on, so that publishes and starts are strictly ordered.
async fn tick() {
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
}

both_backends!(
    a_village_without_mentees_fails_the_coverage_item,
    an_inspection_uses_the_version_current_when_it_started_or_a_later_one,
    a_pass_score_outside_0_to_100_is_refused_on_the_draft
);

async fn a_village_without_mentees_fails_the_coverage_item(app: TestApp) {
    let f = field_county(&app).await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s = submission(&app, &f.inspector.token, &d, VILLAGE, 7).await;
    let done = submit(&app, &f.inspector.token, &s).await;
    let item = done["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "followup_coverage")
        .expect("the coverage item");
    assert_eq!(item["value"], 0.0, "{item}");
    assert_eq!(item["pass"], false, "{item}");
    assert_eq!(item["unavailable"], false, "{item}");
    assert_eq!(item["reason"], "no mentees registered", "{item}");
    assert!(
        done["failing_items"]
            .as_array()
            .unwrap()
            .contains(&json!("followup_coverage")),
        "{done}"
    );
    // The other items, answered to pass, carry no reason.
    let board = done["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "board_posted")
        .unwrap();
    assert!(board.get("reason").is_none(), "{board}");
    // Stored that way: the review sees the same.
    let seen = json_of(
        app.get(&format!("/api/v1/inspections/{}", s.id), &f.reviewer.token)
            .await,
    )
    .await;
    assert_eq!(seen["items"], done["items"]);
}

async fn an_inspection_uses_the_version_current_when_it_started_or_a_later_one(app: TestApp) {
    let f = field_county(&app).await;
    app.create_user("field-secretary3", "secretary", "FIELD-V3")
        .await;
    let secretary3 = app.login("field-secretary3").await;
    assert_eq!(
        publish(&app, &f.admin.token, &county_template(None)).await,
        1
    );
    tick().await;
    // The phone starts an inspection with version 1 and goes offline...
    let offline_start = Utc::now();
    tick().await;
    // ...while version 2 is published, with a pass mark of 80.
    assert_eq!(
        publish(&app, &f.admin.token, &county_template(Some(80.0))).await,
        2
    );
    let v2 = json_of(
        app.get(
            "/api/v1/checklists/field-star-1/versions/2",
            &f.inspector.token,
        )
        .await,
    )
    .await;
    assert_eq!(v2["pass_score"], 80);
    tick().await;

    // Back online, version 1 is still accepted: it was current when the visit started.
    let d1 = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let res = put_inspection(&app, &f.inspector.token, &body(&d1, 1, offline_start)).await;
    assert_eq!(res.status(), 201);
    let kept = json_of(res).await;
    assert_eq!(
        (kept["score"].as_f64(), kept["passed"].as_bool()),
        (Some(70.0), Some(true)),
        "{kept}"
    );
    assert_eq!(kept["failing_items"], json!(["b"]));

    // An inspection started after version 2 was published may not use version 1.
    let d3 = declare(&app, &secretary3.token, "FIELD-V3", 1).await;
    let started = Utc::now() - Duration::seconds(1);
    let res = put_inspection(&app, &f.inspector.token, &body(&d3, 1, started)).await;
    let problem = assert_problem(res, 422).await;
    assert_eq!(problem["errors"][0]["field"], "checklist", "{problem}");
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("field-star-1 version 2 was current when this inspection started"),
        "{message}"
    );

    // The declaration stays open: with version 2 the same answers score 70 again, short of
    // its pass mark of 80.
    let res = put_inspection(&app, &f.inspector.token, &body(&d3, 2, started)).await;
    assert_eq!(res.status(), 201);
    let strict = json_of(res).await;
    assert_eq!(
        strict["checklist"],
        json!({"code": "field-star-1", "version": 2})
    );
    assert_eq!(
        (strict["score"].as_f64(), strict["passed"].as_bool()),
        (Some(70.0), Some(false)),
        "{strict}"
    );
}

async fn a_pass_score_outside_0_to_100_is_refused_on_the_draft(app: TestApp) {
    let f = field_county(&app).await;
    for bad in [-1.0, 100.5, 250.0] {
        let res = app
            .post(
                "/api/v1/checklists",
                &f.admin.token,
                &county_template(Some(bad)),
            )
            .await;
        let problem = assert_problem(res, 422).await;
        assert_eq!(
            problem["errors"][0]["field"], "pass_score",
            "{bad}: {problem}"
        );
    }
    let res = app
        .post(
            "/api/v1/checklists",
            &f.admin.token,
            &county_template(Some(100.0)),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(json_of(res).await["pass_score"], 100);
    // The built-in checklists state the default mark.
    let star1 = json_of(
        app.get("/api/v1/checklists/star-1/versions/1", &f.inspector.token)
            .await,
    )
    .await;
    assert_eq!(star1["pass_score"], 60);
}

//! What a village reads of an inspection of itself: under review only where it stands; once
//! decided the decision, its comment and consequence and the checklist result. Never the
//! evidence (answers, notes, positions, flags, photos); members read no inspection at all.

use serde_json::{json, Value};

use crate::both_backends;
use crate::flow::*;
use crate::helpers::*;

const EVIDENCE: [&str; 8] = [
    "answers",
    "items",
    "flags",
    "photos",
    "location",
    "notes",
    "started_at",
    "inspector_name",
];

fn assert_no_evidence(view: &Value) {
    for key in EVIDENCE {
        assert!(view.get(key).is_none(), "the village reads {key}: {view}");
    }
    assert!(
        !view.to_string().contains("photo.") && !view.to_string().contains("location."),
        "{view}"
    );
}

both_backends!(a_secretary_reads_the_outcome_and_a_member_reads_nothing);

async fn a_secretary_reads_the_outcome_and_a_member_reads_nothing(app: TestApp) {
    let f = field_county(&app).await;
    app.create_user("field-member", "member", "FIELD-V1").await;
    let member = app.login("field-member").await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    // Standing outside the village: the inspection carries flags the village must not read.
    let s = submission(
        &app,
        &f.inspector.token,
        &d,
        (VILLAGE.0 + 0.2, VILLAGE.1),
        61,
    )
    .await;
    let full = submit(&app, &f.inspector.token, &s).await;
    assert_eq!(full["status"], "submitted");
    assert!(!full["flags"].as_array().unwrap().is_empty());

    // Under review.
    let path = format!("/api/v1/inspections/{}", s.id);
    let res = app.get(&path, &f.secretary.token).await;
    assert_eq!(res.status(), 200);
    let view = json_of(res).await;
    assert_no_evidence(&view);
    assert_eq!(view["status"], "submitted");
    assert_eq!(view["village_name"], "Field Village One");
    assert!(view["result"].is_null(), "{view}");
    assert_eq!(view["decisions"], json!([]));
    let list = json_of(app.get("/api/v1/inspections", &f.secretary.token).await).await;
    let entry = &list["items"][0];
    assert_eq!(entry["id"], s.id.as_str());
    assert_eq!(entry["flags"], json!([]));
    assert!(
        entry["score"].is_null() && entry["passed"].is_null(),
        "{entry}"
    );
    for size in ["thumb", "display", "original"] {
        let res = app
            .get(
                &format!("/api/v1/photos/{}?size={size}", s.photos[0].id),
                &f.secretary.token,
            )
            .await;
        assert_eq!(assert_problem(res, 403).await["status"], 403);
        let res = app
            .get(
                &format!("/api/v1/photos/{}?size={size}", s.photos[0].id),
                &member.token,
            )
            .await;
        assert_problem(res, 403).await;
    }
    assert_problem(app.get(&path, &member.token).await, 403).await;
    assert_problem(app.get("/api/v1/inspections", &member.token).await, 403).await;

    // Decided: the decision with its comment, and the checklist result.
    let res = decide_claimed(
        &app,
        &f.reviewer.token,
        &s.id,
        json!({"decision": "reject", "comment": "the board was not posted"}),
    )
    .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let view = json_of(app.get(&path, &f.secretary.token).await).await;
    assert_no_evidence(&view);
    assert_eq!(view["status"], "rejected");
    assert_eq!(view["decisions"][0]["decision"], "reject");
    assert_eq!(view["decisions"][0]["comment"], "the board was not posted");
    assert!(view["decisions"][0].get("acknowledged_flags").is_none());
    assert_eq!(view["result"]["score"], full["score"]);
    assert_eq!(view["result"]["passed"], full["passed"]);
    assert_eq!(view["result"]["failing_items"], full["failing_items"]);
    let list = json_of(app.get("/api/v1/inspections", &f.secretary.token).await).await;
    assert_eq!(list["items"][0]["score"], full["score"]);
    assert_eq!(list["items"][0]["flags"], json!([]));
    // The reviewer still reads everything.
    let whole = json_of(app.get(&path, &f.reviewer.token).await).await;
    assert!(whole["answers"].is_object() && !whole["flags"].as_array().unwrap().is_empty());
}

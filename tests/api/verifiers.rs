//! Who verifies (issue 14): joint approval by the county's programme department and its
//! association, reviewers' bodies, township users, and the township's pre-check of
//! declarations. Every test runs on SQLite and PostgreSQL.

use chrono::NaiveDate;
use reqwest::Response;
use serde_json::{json, Value};

use crate::both_backends;
use crate::flow::*;
use crate::helpers::*;

fn county_today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

async fn expect(res: Response, status: u16) -> Value {
    let code = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(code, status, "{body}");
    body
}

async fn decide_as(app: &TestApp, token: &str, id: &str, body: Value) -> Response {
    decide_claimed(app, token, id, body).await
}

async fn level(app: &TestApp, token: &str, code: &str) -> u64 {
    let village = app.unit_id(token, code).await;
    let status = json_of(
        app.get(
            &format!(
                "/api/v1/villages/{village}/star-status?as_of={}",
                county_today()
            ),
            token,
        )
        .await,
    )
    .await;
    status["level"]
        .as_u64()
        .unwrap_or_else(|| panic!("{status}"))
}

/// A declaration of level 1 for `village` by `token` and its complete, passing inspection.
async fn inspected(app: &TestApp, f: &Field, token: &str, village: &str, seed: u64) -> Submission {
    let d = declare(app, token, village, 1).await;
    let s = submission(app, &f.inspector.token, &d, VILLAGE, seed).await;
    assert_eq!(
        submit(app, &f.inspector.token, &s).await["status"],
        "submitted"
    );
    s
}

async fn policy(app: &TestApp, token: &str, change: Value) -> Value {
    expect(app.patch("/api/v1/policy", token, &change).await, 200).await
}

async fn audit_actions(
    app: &TestApp,
    token: &str,
    entity: &str,
    id: &str,
) -> Vec<(String, String)> {
    let audit = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type={entity}&entity_id={id}"),
            token,
        )
        .await,
    )
    .await;
    audit["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{audit}"))
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_string(),
                a["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn worklist_declarations(app: &TestApp, token: &str) -> Vec<String> {
    let list = json_of(app.get("/api/v1/inspections/worklist", token).await).await;
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .map(|i| {
            i["declaration"]["id"]
                .as_str()
                .or(i["id"].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

both_backends!(
    a_rejection_or_a_return_by_either_body_decides_alone,
    one_body_decides_when_the_county_turns_joint_approval_off,
    a_reopened_joint_approval_needs_both_bodies_again,
    reviewers_belong_to_a_body_and_only_reviewers_do,
    a_township_user_sees_her_townships_villages_and_declares_for_them,
    with_the_township_precheck_only_forwarded_declarations_reach_the_worklist
);

async fn a_rejection_or_a_return_by_either_body_decides_alone(app: TestApp) {
    let f = field_county(&app).await;
    // The association rejects after the department approved: rejected, no star.
    let s = inspected(&app, &f, &f.secretary.token, "FIELD-V1", 301).await;
    let first = expect(
        decide_as(
            &app,
            &f.reviewer.token,
            &s.id,
            json!({"decision": "approve"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(first["inspection_status"], "awaiting_second_approval");
    let rejected = expect(
        decide_as(
            &app,
            &f.associate.token,
            &s.id,
            json!({"decision": "reject", "comment": "the roster is another village's"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (
            rejected["inspection_status"].as_str(),
            rejected["star_level"].as_u64()
        ),
        (Some("rejected"), Some(0)),
        "{rejected}"
    );
    assert_eq!(level(&app, &f.admin.token, "FIELD-V1").await, 0);

    // The association alone rejects a fresh one at once; the department alone returns one.
    let s2 = inspected(&app, &f, &f.admin.token, "FIELD-V2", 302).await;
    let rejected = expect(
        decide_as(
            &app,
            &f.associate.token,
            &s2.id,
            json!({"decision": "reject", "comment": "no board"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(rejected["inspection_status"], "rejected");
    let s3 = inspected(&app, &f, &f.admin.token, "FIELD-V3", 303).await;
    expect(
        decide_as(
            &app,
            &f.associate.token,
            &s3.id,
            json!({"decision": "approve"}),
        )
        .await,
        201,
    )
    .await;
    let returned = expect(
        decide_as(
            &app,
            &f.reviewer.token,
            &s3.id,
            json!({"decision": "return", "comment": "photograph the ledger"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(returned["inspection_status"], "returned");
    // The resubmitted revision needs both approvals again: the old one does not count.
    let mut again = s3.body.clone();
    again["answers"]["policy_count"] = json!(3);
    let v2 = expect(
        app.put(
            &format!("/api/v1/inspections/{}", s3.id),
            &f.inspector.token,
            &again,
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (v2["revision"].as_i64(), v2["status"].as_str()),
        (Some(2), Some("submitted"))
    );
    let second_first = expect(
        decide_as(
            &app,
            &f.associate.token,
            &s3.id,
            json!({"decision": "approve"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        second_first["inspection_status"], "awaiting_second_approval",
        "{second_first}"
    );
    let done = expect(
        decide_as(
            &app,
            &f.reviewer.token,
            &s3.id,
            json!({"decision": "approve"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (
            done["inspection_status"].as_str(),
            done["star_level"].as_u64()
        ),
        (Some("approved"), Some(1))
    );
    let view = json_of(
        app.get(&format!("/api/v1/inspections/{}", s3.id), &f.admin.token)
            .await,
    )
    .await;
    let approvals: Vec<(i64, &str)> = view["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["revision"].as_i64().unwrap(), a["body"].as_str().unwrap()))
        .collect();
    assert_eq!(
        approvals,
        [(1, "association"), (2, "association"), (2, "department")]
    );
    let actions = audit_actions(&app, &f.admin.token, "inspection", &s3.id).await;
    assert!(
        actions.contains(&("inspection.approval_given".into(), "field-assoc".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("inspection.approved".into(), "field-reviewer".into())),
        "{actions:?}"
    );
}

async fn one_body_decides_when_the_county_turns_joint_approval_off(app: TestApp) {
    let f = field_county(&app).await;
    let p = json_of(app.get("/api/v1/policy", &f.reviewer.token).await).await;
    assert_eq!(
        (
            p["joint_approval"].as_bool(),
            p["township_precheck"].as_bool()
        ),
        (Some(true), Some(false)),
        "the programme's defaults: {p}"
    );
    let p = policy(&app, &f.admin.token, json!({"joint_approval": false})).await;
    assert_eq!(p["joint_approval"], false);
    assert!(
        p["history"].as_array().unwrap().is_empty(),
        "the procedure is not a star rule: {p}"
    );
    assert_problem(
        app.patch(
            "/api/v1/policy",
            &f.admin.token,
            &json!({"joint_approval": "no"}),
        )
        .await,
        422,
    )
    .await;
    let s = inspected(&app, &f, &f.secretary.token, "FIELD-V1", 311).await;
    let done = expect(
        decide_as(
            &app,
            &f.associate.token,
            &s.id,
            json!({"decision": "approve"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (
            done["inspection_status"].as_str(),
            done["star_level"].as_u64(),
            done["body"].as_str()
        ),
        (Some("approved"), Some(1), Some("association"))
    );
    assert_eq!(level(&app, &f.admin.token, "FIELD-V1").await, 1);
}

async fn a_reopened_joint_approval_needs_both_bodies_again(app: TestApp) {
    let f = field_county(&app).await;
    let s = inspected(&app, &f, &f.secretary.token, "FIELD-V1", 321).await;
    expect(
        approve_jointly(&app, &f, &s.id, json!({"decision": "approve"})).await,
        201,
    )
    .await;
    assert_eq!(level(&app, &f.admin.token, "FIELD-V1").await, 1);
    expect(
        app.post(
            &format!("/api/v1/inspections/{}/reopen", s.id),
            &f.admin.token,
            &json!({"reason": "wrong village's photos"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(level(&app, &f.admin.token, "FIELD-V1").await, 0);
    let view = json_of(
        app.get(&format!("/api/v1/inspections/{}", s.id), &f.admin.token)
            .await,
    )
    .await;
    assert!(
        view["approvals"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["withdrawn_at"].is_string()),
        "{view}"
    );
    let again = expect(
        decide_as(
            &app,
            &f.reviewer.token,
            &s.id,
            json!({"decision": "approve"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        again["inspection_status"], "awaiting_second_approval",
        "{again}"
    );
}

async fn reviewers_belong_to_a_body_and_only_reviewers_do(app: TestApp) {
    let f = field_county(&app).await;
    let field = app.unit_id(&f.admin.token, "FIELD").await;
    let user = |name: &str, role: &str, body: Option<&str>| {
        let mut v =
            json!({"username": name, "password": PASSWORD, "role": role, "org_unit_id": field});
        if let Some(b) = body {
            v["body"] = json!(b);
        }
        v
    };
    let problem = assert_problem(
        app.post(
            "/api/v1/users",
            &f.admin.token,
            &user("r-none", "reviewer", None),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "body", "{problem}");
    let problem = assert_problem(
        app.post(
            "/api/v1/users",
            &f.admin.token,
            &user("r-bad", "reviewer", Some("finance")),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "body", "{problem}");
    let problem = assert_problem(
        app.post(
            "/api/v1/users",
            &f.admin.token,
            &user("i-body", "inspector", Some("association")),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "body", "{problem}");
    let made = expect(
        app.post(
            "/api/v1/users",
            &f.admin.token,
            &user("r-assoc", "reviewer", Some("association")),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (made["body"].as_str(), made["scope_level"].as_str()),
        (Some("association"), Some("county"))
    );
    let id = made["id"].as_str().unwrap();
    let changed = expect(
        app.patch(
            &format!("/api/v1/users/{id}"),
            &f.admin.token,
            &json!({"body": "department"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["body"], "department");
    let inspector_id = json_of(app.get("/api/v1/me", &f.inspector.token).await).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_problem(
        app.patch(
            &format!("/api/v1/users/{inspector_id}"),
            &f.admin.token,
            &json!({"body": "department"}),
        )
        .await,
        422,
    )
    .await;
    let me = json_of(app.get("/api/v1/me", &f.associate.token).await).await;
    assert_eq!(me["body"], "association", "{me}");
}

async fn a_township_user_sees_her_townships_villages_and_declares_for_them(app: TestApp) {
    app.seed_demo().await;
    let admin = app.login("admin").await;
    let township = app.login("township1").await;
    assert_eq!(
        (
            township.user["role"].as_str(),
            township.user["scope_level"].as_str()
        ),
        (Some("township"), Some("township")),
        "{}",
        township.user
    );
    // Only DEMO-T01's villages.
    let units = json_of(
        app.get("/api/v1/org-units?level=village&limit=100", &township.token)
            .await,
    )
    .await;
    let codes: Vec<&str> = units["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect();
    assert!(
        !codes.is_empty() && codes.iter().all(|c| c.starts_with("DEMO-T01-")),
        "{codes:?}"
    );
    let other = app.unit_id(&admin.token, "DEMO-T02-V001").await;
    assert_problem(
        app.get(
            &format!("/api/v1/villages/{other}/star-status"),
            &township.token,
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        app.post(
            "/api/v1/declarations",
            &township.token,
            &json!({"village_id": other, "star_level": 1}),
        )
        .await,
        404,
    )
    .await;
    // Declares for her own village: straight to the county.
    let d = declare(&app, &township.token, "DEMO-T01-V003", 1).await;
    assert_eq!(d["status"], "pending");
    let report = json_of(app.get("/api/v1/reports/stars", &township.token).await).await;
    assert!(
        report.to_string().contains("DEMO-T01") && !report.to_string().contains("DEMO-T02"),
        "{report}"
    );
    // A township cannot decide, manage users or change the policy.
    assert_problem(app.get("/api/v1/review-queue", &township.token).await, 403).await;
    assert_problem(app.get("/api/v1/users", &township.token).await, 403).await;
    // Roles at the wrong level are refused; county staff may be narrowed to a township.
    let t2 = app.unit_id(&admin.token, "DEMO-T02").await;
    let v = app.unit_id(&admin.token, "DEMO-T02-V001").await;
    let mk = |name: &str, role: &str, unit: &str| json!({"username": name, "password": PASSWORD, "role": role, "org_unit_id": unit});
    let problem = assert_problem(
        app.post(
            "/api/v1/users",
            &admin.token,
            &mk("t-village", "township", &v),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "org_unit_id");
    assert_problem(
        app.post(
            "/api/v1/users",
            &admin.token,
            &mk("a-township", "admin", &t2),
        )
        .await,
        422,
    )
    .await;
    let made = expect(
        app.post(
            "/api/v1/users",
            &admin.token,
            &mk("t2-staff", "township", &t2),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(made["scope_level"], "township");
    expect(
        app.post(
            "/api/v1/users",
            &admin.token,
            &mk("t2-inspector", "inspector", &t2),
        )
        .await,
        201,
    )
    .await;
    let narrowed = app.login("t2-inspector").await;
    let t1_village = app.unit_id(&admin.token, "DEMO-T01-V003").await;
    assert_problem(
        app.get(
            &format!("/api/v1/villages/{t1_village}/star-status"),
            &narrowed.token,
        )
        .await,
        404,
    )
    .await;
    let mine = worklist_declarations(&app, &narrowed.token).await;
    assert!(
        !mine.contains(&d["id"].as_str().unwrap().to_string()),
        "a T02 inspector sees no T01 declaration: {mine:?}"
    );
    let county_inspector = app.login("inspector1").await;
    assert!(worklist_declarations(&app, &county_inspector.token)
        .await
        .contains(&d["id"].as_str().unwrap().to_string()));
}

async fn with_the_township_precheck_only_forwarded_declarations_reach_the_worklist(app: TestApp) {
    let f = field_county(&app).await;
    app.create_user("field-township", "township", "FIELD-T1")
        .await;
    let township = app.login("field-township").await;
    policy(&app, &f.admin.token, json!({"township_precheck": true})).await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let id = d["id"].as_str().unwrap().to_string();
    assert_eq!(d["status"], "awaiting_township", "{d}");
    assert!(!worklist_declarations(&app, &f.inspector.token)
        .await
        .contains(&id));
    // An inspector cannot start it before the township forwards it.
    let s = submission(&app, &f.inspector.token, &d, VILLAGE, 331).await;
    let problem = assert_problem(
        app.put(
            &format!("/api/v1/inspections/{}", s.id),
            &f.inspector.token,
            &s.body,
        )
        .await,
        409,
    )
    .await;
    assert_eq!(
        problem["code"], "declaration.awaiting_township",
        "{problem}"
    );
    // Sending back needs a reason; the secretary may then declare again.
    let back = format!("/api/v1/declarations/{id}/send-back");
    let problem = assert_problem(app.post(&back, &township.token, &json!({})).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "comment");
    assert_problem(
        app.post(&back, &f.secretary.token, &json!({"comment": "x"}))
            .await,
        403,
    )
    .await;
    let sent = expect(
        app.post(
            &back,
            &township.token,
            &json!({"comment": "材料不全: the roster is missing"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (sent["status"].as_str(), sent["check_comment"].as_str()),
        (Some("sent_back"), Some("材料不全: the roster is missing"))
    );
    assert_problem(
        app.post(
            &format!("/api/v1/declarations/{id}/forward"),
            &township.token,
            &json!({}),
        )
        .await,
        409,
    )
    .await;
    let d2 = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let id2 = d2["id"].as_str().unwrap().to_string();
    assert_eq!(d2["status"], "awaiting_township");
    let forwarded = expect(
        app.post(
            &format!("/api/v1/declarations/{id2}/forward"),
            &township.token,
            &json!({"comment": "checked on site"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(forwarded["status"], "pending");
    assert!(worklist_declarations(&app, &f.inspector.token)
        .await
        .contains(&id2));
    let problem = assert_problem(
        app.post(
            &format!("/api/v1/declarations/{id2}/forward"),
            &township.token,
            &json!({}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(problem["code"], "declaration.not_awaiting_township");
    let actions = audit_actions(&app, &f.admin.token, "declaration", &id2).await;
    assert!(
        actions.contains(&("declaration.forwarded".into(), "field-township".into())),
        "{actions:?}"
    );
    let actions = audit_actions(&app, &f.admin.token, "declaration", &id).await;
    assert!(
        actions.contains(&("declaration.sent_back".into(), "field-township".into())),
        "{actions:?}"
    );
    // A township's own declaration goes straight to the county.
    let own = declare(&app, &township.token, "FIELD-V2", 1).await;
    assert_eq!(own["status"], "pending");
    // Turning the pre-check off forwards what waited for it.
    let d3 = declare(&app, &f.admin.token, "FIELD-V3", 1).await;
    assert_eq!(
        d3["status"], "pending",
        "a county admin's declaration needs no township check"
    );
    app.create_user("field-secretary3", "secretary", "FIELD-V3")
        .await;
    let _ = app.login("field-secretary3").await;
    policy(&app, &f.admin.token, json!({"township_precheck": false})).await;
    let listed = json_of(
        app.get(
            "/api/v1/declarations?status=awaiting_township",
            &f.admin.token,
        )
        .await,
    )
    .await;
    assert!(listed["items"].as_array().unwrap().is_empty(), "{listed}");
}

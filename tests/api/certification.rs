//! Issue 13: the programme's certification rules, tried over HTTP as a new user would — no
//! failing village approved, alerts answered before approval, real claims, one step a quarter,
//! the quarter's verification window, bans that keep verification, coverage without mentees,
//! policies that are not retroactive, corrections on the record, reasons that reach the people
//! concerned, and nothing that blocks for ever.

use chrono::{Days, Months, NaiveDate};
use diesel::prelude::*;
use fieldstar::db::schema::{declarations, inspections, outbox_events};
use fieldstar::quarter::Quarter;
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::both_backends;
use crate::flow::*;
use crate::helpers::*;

/// FIELD-V2's centre, 10 km north of FIELD-V1 (see `FIELD_COUNTY_CSV`).
const NORTH: (f64, f64) = (43.5575, 11.8840);

/// Today on the county's wall clock.
fn county_today(app: &TestApp) -> NaiveDate {
    fieldstar::clock::today(app.state.config.timezone)
}

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

async fn delete(app: &TestApp, path: &str, token: &str) -> Response {
    app.request(Method::DELETE, path, Some(token))
        .send()
        .await
        .unwrap()
}

/// The body of an answer with `status` (`Null` when it has none); the body is shown otherwise.
async fn expect_json(res: Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let path = res.url().path().to_string();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn inspection(app: &TestApp, token: &str, id: &str) -> Value {
    let res = app.get(&format!("/api/v1/inspections/{id}"), token).await;
    assert_eq!(res.status(), 200, "GET inspection {id}");
    json_of(res).await
}

async fn claim(app: &TestApp, token: &str, id: &str) {
    let res = app
        .post(
            &format!("/api/v1/inspections/{id}/claim"),
            token,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200, "claim: {}", res.text().await.unwrap());
}

async fn decide(app: &TestApp, token: &str, id: &str, body: Value) -> Response {
    app.post(&format!("/api/v1/inspections/{id}/decision"), token, &body)
        .await
}

/// Claims the inspection and takes the decision, which must succeed.
/// Approves as both verifying bodies (the programme's joint approval); the second answer.
async fn approve_both(app: &TestApp, f: &Field, id: &str, body: Value) -> Value {
    expect_json(crate::flow::approve_jointly(app, f, id, body).await, 201).await
}

async fn claim_and_decide(app: &TestApp, token: &str, id: &str, body: Value) -> Value {
    claim(app, token, id).await;
    expect_json(decide(app, token, id, body).await, 201).await
}

/// A declaration of `level` for `village` (by `token`) and its complete, passing inspection
/// taken standing at `at` by the FIELD inspector.
async fn inspected(
    app: &TestApp,
    f: &Field,
    token: &str,
    village: &str,
    level: i32,
    at: (f64, f64),
    seed: u64,
) -> (Value, Submission, Value) {
    let d = declare(app, token, village, level).await;
    let s = submission(app, &f.inspector.token, &d, at, seed).await;
    let done = submit(app, &f.inspector.token, &s).await;
    assert_eq!(done["status"], "submitted", "{done}");
    (d, s, done)
}

async fn star_status(app: &TestApp, token: &str, village_code: &str, as_of: NaiveDate) -> Value {
    let village = app.unit_id(token, village_code).await;
    let res = app
        .get(
            &format!("/api/v1/villages/{village}/star-status?as_of={as_of}"),
            token,
        )
        .await;
    assert_eq!(res.status(), 200);
    json_of(res).await
}

fn events(status: &Value) -> Vec<String> {
    status["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap().to_string())
        .collect()
}

/// The declaration `id` as `token` lists it.
async fn declaration(app: &TestApp, token: &str, id: &str) -> Value {
    let all = json_of(app.get("/api/v1/declarations?limit=100", token).await).await;
    all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("no declaration {id} in {all}"))
        .clone()
}

/// Creates the missing renewal declarations of `quarter`, as the hourly task does.
async fn ensure_renewals(app: &TestApp, quarter: Quarter) -> usize {
    let db = app.state.db.clone();
    let today = county_today(app);
    fieldstar::db::blocking(move || {
        let mut conn = db.get()?;
        fieldstar::declarations::renewals::ensure(&mut conn, quarter, today)
    })
    .await
    .expect("renewals")
}

/// The event types in the outbox, oldest first.
async fn outbox_types(app: &TestApp) -> Vec<String> {
    app.state
        .db
        .read(|conn| {
            Ok(outbox_events::table
                .order(outbox_events::id.asc())
                .select(outbox_events::event_type)
                .load::<String>(conn)?)
        })
        .await
        .unwrap()
}

/// Inserts a declaration row for `quarter` directly (for quarters the API no longer accepts).
async fn declaration_row(
    app: &TestApp,
    village_code: &str,
    quarter: Quarter,
    level: i32,
    kind: &str,
) -> String {
    let db = app.state.db.clone();
    let (code, kind) = (village_code.to_string(), kind.to_string());
    fieldstar::db::blocking(move || {
        let mut conn = db.get()?;
        let v = fieldstar::org::OrgUnit::find_by_code(&mut conn, &code)?.expect("village");
        let id = uuid::Uuid::now_v7().to_string();
        let at = fieldstar::clock::now();
        diesel::insert_into(declarations::table)
            .values((
                declarations::id.eq(&id),
                declarations::village_id.eq(&v.id),
                declarations::township_id.eq(&v.township_id),
                declarations::county_id.eq(&v.county_id),
                declarations::quarter.eq(quarter.to_string()),
                declarations::star_level.eq(level),
                declarations::kind.eq(&kind),
                declarations::status.eq("pending"),
                declarations::created_at.eq(at),
                declarations::updated_at.eq(at),
            ))
            .execute(&mut *conn)?;
        Ok(id)
    })
    .await
    .expect("declaration row")
}

both_backends!(
    approving_a_failed_inspection_is_422_naming_its_failing_items,
    approving_an_inspection_with_alerts_is_422_until_each_alert_is_acknowledged_with_a_comment,
    a_photo_taken_more_than_5_km_away_or_days_before_the_visit_is_an_alert_read_in_km_and_days,
    deciding_without_the_claim_is_409_and_an_admin_cannot_claim,
    a_second_upgrade_declaration_in_the_quarter_is_409_naming_the_first,
    after_the_window_closes_an_open_renewal_is_unverified_keeping_the_level_and_an_open_upgrade_expires,
    an_inspection_started_outside_the_window_is_422,
    a_banned_village_still_gets_its_quarters_renewal,
    a_village_with_no_mentees_fails_the_coverage_item,
    changing_rectify_months_leaves_an_open_windows_deadline_as_it_was,
    a_window_opened_earlier_on_the_day_of_a_policy_change_keeps_its_deadline,
    an_admin_reopens_a_wrong_approval_and_the_level_goes_back_with_both_decisions_on_record,
    the_inspector_and_the_secretary_read_the_rejection_comment,
    a_stuck_inspection_can_be_cancelled_and_the_declaration_inspected_again,
    a_baseline_import_for_a_village_with_fieldstar_decisions_is_refused_naming_it,
);

async fn approving_a_failed_inspection_is_422_naming_its_failing_items(app: TestApp) {
    let f = field_county(&app).await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let mut s = submission(&app, &f.inspector.token, &d, VILLAGE, 101).await;
    s.body["answers"]["policies_honoured"] = json!(false);
    s.body["answers"]["roster_kept"] = json!(false);
    let done = submit(&app, &f.inspector.token, &s).await;
    assert_eq!(
        (done["status"].as_str(), done["passed"].as_bool()),
        (Some("submitted"), Some(false)),
        "{done}"
    );
    let failing = strings(&done["failing_items"]);
    assert!(
        failing.contains(&"policies_honoured".to_string())
            && failing.contains(&"roster_kept".to_string()),
        "{failing:?}"
    );
    // The view says why approve is unavailable.
    assert_eq!(done["approval"]["allowed"], false, "{}", done["approval"]);
    let why = strings(&done["approval"]["failing_items"]);
    assert!(
        why.contains(&"policies_honoured".to_string()) && why.contains(&"roster_kept".to_string()),
        "{why:?}"
    );

    claim(&app, &f.reviewer.token, &s.id).await;
    let problem = assert_problem(
        decide(
            &app,
            &f.reviewer.token,
            &s.id,
            json!({"decision": "approve", "comment": "close enough"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["code"], "decision.checklist_failed", "{problem}");
    let named = strings(&problem["failing_items"]);
    assert!(
        named.contains(&"policies_honoured".to_string())
            && named.contains(&"roster_kept".to_string()),
        "{problem}"
    );
    let error = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "decision")
        .unwrap_or_else(|| panic!("no error on decision: {problem}"));
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("policies_honoured") && message.contains("roster_kept"),
        "{message}"
    );
    // Nothing changed: still in the queue, the village holds no star, and it can be rejected.
    assert_eq!(
        inspection(&app, &f.reviewer.token, &s.id).await["status"],
        "submitted"
    );
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V1", county_today(&app)).await["level"],
        0
    );
    let res = decide(
        &app,
        &f.reviewer.token,
        &s.id,
        json!({"decision": "reject", "comment": "policies not honoured, roster out of date"}),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V1", county_today(&app)).await["level"],
        0
    );
}

async fn approving_an_inspection_with_alerts_is_422_until_each_alert_is_acknowledged_with_a_comment(
    app: TestApp,
) {
    let f = field_county(&app).await;
    app.create_user("field-secretary3", "secretary", "FIELD-V3")
        .await;
    let sec3 = app.login("field-secretary3").await;
    let (_, s1, _) = inspected(&app, &f, &f.secretary.token, "FIELD-V1", 1, VILLAGE, 111).await;
    // FIELD-V3 stands where FIELD-V1 does: one photo reused from FIELD-V1's inspection, and
    // a phone that reports a mock location provider.
    let d3 = declare(&app, &sec3.token, "FIELD-V3", 1).await;
    let mut s3 = submission(&app, &f.inspector.token, &d3, VILLAGE, 112).await;
    s3.photos[0].bytes = s1.photos[0].bytes.clone();
    s3.body["photos"][0]["sha256"] = json!(s3.photos[0].sha256());
    s3.body["location"]["mock"] = json!(true);
    let done = submit(&app, &f.inspector.token, &s3).await;
    assert_eq!(
        (done["status"].as_str(), done["passed"].as_bool()),
        (Some("submitted"), Some(true)),
        "{done}"
    );
    let mut alerts: Vec<String> = done["flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "alert")
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    alerts.sort();
    alerts.dedup();
    assert_eq!(
        alerts,
        ["location.mock_suspected", "photo.duplicate"],
        "{}",
        done["flags"]
    );
    assert_eq!(
        done["approval"]["allowed"], true,
        "the checklist passed: {}",
        done["approval"]
    );
    assert_eq!(strings(&done["approval"]["alerts"]), alerts);

    claim(&app, &f.reviewer.token, &s3.id).await;
    let approve = |ack: Value, comment: &str| json!({"decision": "approve", "comment": comment, "acknowledged_flags": ack});
    // Nothing acknowledged.
    let problem = assert_problem(
        decide(
            &app,
            &f.reviewer.token,
            &s3.id,
            json!({"decision": "approve", "comment": "looks fine"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        problem["code"], "decision.alerts_unacknowledged",
        "{problem}"
    );
    assert_eq!(strings(&problem["alerts"]), alerts, "{problem}");
    let error = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "acknowledged_flags")
        .unwrap_or_else(|| panic!("{problem}"));
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("photo.duplicate"),
        "{error}"
    );
    // One of the two acknowledged: the other is named as missing.
    let problem = assert_problem(
        decide(
            &app,
            &f.reviewer.token,
            &s3.id,
            approve(
                json!(["photo.duplicate"]),
                "the board photo is the same board",
            ),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        problem["code"], "decision.alerts_unacknowledged",
        "{problem}"
    );
    let error = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "acknowledged_flags")
        .unwrap_or_else(|| panic!("{problem}"));
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("location.mock_suspected"),
        "{error}"
    );
    // Both acknowledged, but no comment.
    let problem = assert_problem(
        decide(
            &app,
            &f.reviewer.token,
            &s3.id,
            approve(json!(["photo.duplicate", "location.mock_suspected"]), ""),
        )
        .await,
        422,
    )
    .await;
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "comment"),
        "{problem}"
    );
    let problem = assert_problem(decide(&app, &f.reviewer.token, &s3.id, json!({"decision": "approve", "acknowledged_flags": ["photo.duplicate", "location.mock_suspected"]})).await, 422).await;
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "comment"),
        "{problem}"
    );
    // A code that is not an alert of this inspection.
    let problem = assert_problem(
        decide(
            &app,
            &f.reviewer.token,
            &s3.id,
            approve(
                json!([
                    "photo.duplicate",
                    "location.mock_suspected",
                    "photo.gps_far"
                ]),
                "checked",
            ),
        )
        .await,
        422,
    )
    .await;
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "acknowledged_flags"),
        "{problem}"
    );
    assert_eq!(
        inspection(&app, &f.reviewer.token, &s3.id).await["status"],
        "submitted"
    );
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V3", county_today(&app)).await["level"],
        0
    );

    let comment = "same notice board as FIELD-V1 (one association); the phone's location app was checked on site";
    let first = expect_json(
        decide(
            &app,
            &f.reviewer.token,
            &s3.id,
            approve(
                json!(["location.mock_suspected", "photo.duplicate"]),
                comment,
            ),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (
            first["inspection_status"].as_str(),
            first["star_level"].as_u64()
        ),
        (Some("awaiting_second_approval"), Some(0)),
        "{first}"
    );
    // The association's reviewer answers the same alerts herself.
    claim(&app, &f.associate.token, &s3.id).await;
    let problem = assert_problem(
        decide(
            &app,
            &f.associate.token,
            &s3.id,
            json!({"decision": "approve", "comment": "agreed"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        problem["code"], "decision.alerts_unacknowledged",
        "{problem}"
    );
    let decided = expect_json(
        decide(
            &app,
            &f.associate.token,
            &s3.id,
            approve(
                json!(["location.mock_suspected", "photo.duplicate"]),
                comment,
            ),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(decided["star_level"], 1);
    let view = inspection(&app, &f.reviewer.token, &s3.id).await;
    assert_eq!(view["status"], "approved");
    let approvals = view["approvals"]
        .as_array()
        .unwrap_or_else(|| panic!("no approvals: {view}"));
    assert_eq!(
        approvals
            .iter()
            .map(|a| a["body"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["department", "association"]
    );
    assert!(
        approvals
            .iter()
            .all(|a| strings(&a["acknowledged_flags"]) == alerts),
        "{approvals:?}"
    );
    let decided = view["decisions"]
        .as_array()
        .unwrap_or_else(|| panic!("no decisions: {view}"));
    assert_eq!(decided.len(), 1, "{decided:?}");
    assert_eq!(decided[0]["decision"], "approve");
    assert_eq!(decided[0]["comment"], comment);
    assert_eq!(strings(&decided[0]["acknowledged_flags"]), alerts);
    assert_eq!(decided[0]["decided_by_name"], "field-assoc");
    assert_eq!(decided[0]["reopened_at"], Value::Null);
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V3", county_today(&app)).await["level"],
        1
    );
    let audit = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type=inspection&entity_id={}", s3.id),
            &f.admin.token,
        )
        .await,
    )
    .await;
    let approved = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "inspection.approved")
        .unwrap_or_else(|| panic!("{audit}"));
    assert!(
        approved["summary"]
            .as_str()
            .unwrap()
            .contains("photo.duplicate"),
        "the acknowledgement is audited: {approved}"
    );
}

async fn a_photo_taken_more_than_5_km_away_or_days_before_the_visit_is_an_alert_read_in_km_and_days(
    app: TestApp,
) {
    let f = field_county(&app).await;
    // At FIELD-V2's centre: one photo 10 km south, one 2 km north, one taken three days ago.
    let d = declare(&app, &f.admin.token, "FIELD-V2", 1).await;
    let mut s = submission(&app, &f.inspector.token, &d, NORTH, 115).await;
    let shots = [
        phone_photo(116, VILLAGE.0, VILLAGE.1, 20),
        phone_photo(117, NORTH.0 + 0.018, NORTH.1, 20),
        phone_photo(118, NORTH.0, NORTH.1, 3 * 24 * 60),
    ];
    for (k, bytes) in shots.into_iter().enumerate() {
        s.photos[k].bytes = bytes;
        s.body["photos"][k]["sha256"] = json!(s.photos[k].sha256());
    }
    let done = submit(&app, &f.inspector.token, &s).await;
    let on = |k: usize, code: &str| -> Value {
        done["flags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["photo_id"] == s.photos[k].id.as_str() && f["code"] == code)
            .unwrap_or_else(|| panic!("no {code} on photo {k}: {}", done["flags"]))
            .clone()
    };
    let far = on(0, "photo.gps_far");
    assert_eq!(far["severity"], "alert", "{far}");
    let detail = far["detail"].as_str().unwrap();
    assert!(
        detail.contains(" km") && !detail.contains("10008 m"),
        "{detail}"
    );
    assert_eq!(on(1, "photo.gps_far")["severity"], "warning", "2 km away");
    let old = on(2, "photo.time_outside_visit");
    assert_eq!(old["severity"], "alert", "{old}");
    let detail = old["detail"].as_str().unwrap();
    assert!(
        detail.contains("3 days before") && !detail.contains("minutes before"),
        "{detail}"
    );
}

async fn deciding_without_the_claim_is_409_and_an_admin_cannot_claim(app: TestApp) {
    let f = field_county(&app).await;
    app.create_user("field-reviewer2", "reviewer", "FIELD")
        .await;
    let second = app.login("field-reviewer2").await;
    let (_, s, _) = inspected(&app, &f, &f.secretary.token, "FIELD-V1", 1, VILLAGE, 121).await;
    let path = format!("/api/v1/inspections/{}", s.id);
    let approve = json!({"decision": "approve", "comment": "in order"});

    let problem = assert_problem(
        decide(&app, &f.reviewer.token, &s.id, approve.clone()).await,
        409,
    )
    .await;
    assert_eq!(problem["code"], "claim_required", "{problem}");
    // Admins read; they neither claim nor decide.
    assert_problem(
        app.post(&format!("{path}/claim"), &f.admin.token, &json!({}))
            .await,
        403,
    )
    .await;
    assert_problem(
        decide(&app, &f.admin.token, &s.id, approve.clone()).await,
        403,
    )
    .await;
    assert_eq!(
        inspection(&app, &f.admin.token, &s.id).await["status"],
        "submitted"
    );

    // Another reviewer's claim.
    claim(&app, &second.token, &s.id).await;
    let problem = assert_problem(
        decide(&app, &f.reviewer.token, &s.id, approve.clone()).await,
        409,
    )
    .await;
    assert_eq!(problem["code"], "claimed", "{problem}");
    // An admin may free a stuck claim.
    assert_eq!(
        delete(&app, &format!("{path}/claim"), &f.admin.token)
            .await
            .status(),
        204
    );
    let problem = assert_problem(
        decide(&app, &second.token, &s.id, approve.clone()).await,
        409,
    )
    .await;
    assert_eq!(
        problem["code"], "claim_required",
        "a released claim is no claim: {problem}"
    );

    // An expired claim is no claim either.
    claim(&app, &f.reviewer.token, &s.id).await;
    let db = app.state.db.clone();
    let id = s.id.clone();
    fieldstar::db::blocking(move || {
        let mut conn = db.get()?;
        diesel::update(inspections::table.find(&id))
            .set(
                inspections::claim_expires_at
                    .eq(fieldstar::clock::now() - chrono::Duration::minutes(1)),
            )
            .execute(&mut *conn)?;
        Ok(())
    })
    .await
    .unwrap();
    let problem = assert_problem(
        decide(&app, &f.reviewer.token, &s.id, approve.clone()).await,
        409,
    )
    .await;
    assert_eq!(problem["code"], "claim_required", "{problem}");
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V1", county_today(&app)).await["level"],
        0
    );

    let first = claim_and_decide(&app, &f.reviewer.token, &s.id, approve.clone()).await;
    assert_eq!(
        (
            first["inspection_status"].as_str(),
            first["star_level"].as_u64()
        ),
        (Some("awaiting_second_approval"), Some(0)),
        "{first}"
    );
    // The second approval needs its own claim too.
    let problem = assert_problem(
        decide(&app, &f.associate.token, &s.id, approve.clone()).await,
        409,
    )
    .await;
    assert_eq!(problem["code"], "claim_required", "{problem}");
    let decided = claim_and_decide(&app, &f.associate.token, &s.id, approve).await;
    assert_eq!(decided["star_level"], 1);
}

async fn a_second_upgrade_declaration_in_the_quarter_is_409_naming_the_first(app: TestApp) {
    let f = field_county(&app).await;
    let v1 = app.unit_id(&f.secretary.token, "FIELD-V1").await;
    let again = |level: i32| json!({"village_id": v1, "star_level": level});
    let (first, s, _) = inspected(&app, &f, &f.secretary.token, "FIELD-V1", 1, VILLAGE, 131).await;
    let first_id = first["id"].as_str().unwrap();
    claim_and_decide(
        &app,
        &f.reviewer.token,
        &s.id,
        json!({"decision": "reject", "comment": "no ledgers"}),
    )
    .await;
    assert_eq!(
        declaration(&app, &f.admin.token, first_id).await["status"],
        "rejected"
    );

    let problem = assert_problem(
        app.post("/api/v1/declarations", &f.secretary.token, &again(1))
            .await,
        409,
    )
    .await;
    assert_eq!(problem["code"], "declaration.quarter_used", "{problem}");
    assert_eq!(problem["declaration_id"], first_id, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains(first_id),
        "{problem}"
    );
    let problem = assert_problem(
        app.post("/api/v1/declarations", &f.admin.token, &again(1))
            .await,
        409,
    )
    .await;
    assert_eq!(
        problem["code"], "declaration.quarter_used",
        "an admin neither: {problem}"
    );

    // An approved upgrade: no second step in the same quarter (0 → 1 → 2 on one day).
    let (third, s3, _) = inspected(&app, &f, &f.admin.token, "FIELD-V3", 1, VILLAGE, 132).await;
    let v3 = app.unit_id(&f.admin.token, "FIELD-V3").await;
    let problem = assert_problem(
        app.post(
            "/api/v1/declarations",
            &f.admin.token,
            &json!({"village_id": v3, "star_level": 1}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(
        problem["code"], "declaration.quarter_used",
        "while the first is inspected: {problem}"
    );
    approve_both(
        &app,
        &f,
        &s3.id,
        json!({"decision": "approve", "comment": "in order"}),
    )
    .await;
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V3", county_today(&app)).await["level"],
        1
    );
    let problem = assert_problem(
        app.post(
            "/api/v1/declarations",
            &f.admin.token,
            &json!({"village_id": v3, "star_level": 2}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(problem["code"], "declaration.quarter_used", "{problem}");
    assert_eq!(problem["declaration_id"], third["id"], "{problem}");
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V3", county_today(&app)).await["level"],
        1
    );

    // A pending first declaration counts too.
    let pending = declare(&app, &f.admin.token, "FIELD-V2", 1).await;
    let v2 = app.unit_id(&f.admin.token, "FIELD-V2").await;
    let problem = assert_problem(
        app.post(
            "/api/v1/declarations",
            &f.admin.token,
            &json!({"village_id": v2, "star_level": 1}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(problem["code"], "declaration.quarter_used", "{problem}");
    assert_eq!(problem["declaration_id"], pending["id"], "{problem}");
}

async fn after_the_window_closes_an_open_renewal_is_unverified_keeping_the_level_and_an_open_upgrade_expires(
    app: TestApp,
) {
    let f = field_county(&app).await;
    let today = county_today(&app);
    let current = Quarter::containing(today);
    // The window cannot close before the quarter's first day.
    let quarter = if today == current.first_day() {
        current.prev()
    } else {
        current
    };
    let held_since = Quarter::containing(quarter.first_day() - Days::new(400));
    app.import_stars(&format!(
        "village_code,level,since_quarter\nFIELD-V1,1,{held_since}\n"
    ))
    .await
    .unwrap();
    // The quarter's renewal, as the hourly task creates it, and an upgrade declaration.
    let (renewal_id, upgrade_id) = if quarter == current {
        assert_eq!(ensure_renewals(&app, quarter).await, 1);
        let renewal = json_of(app.get("/api/v1/declarations", &f.secretary.token).await).await
            ["items"][0]
            .clone();
        assert_eq!(
            (
                renewal["kind"].as_str(),
                renewal["star_level"].as_i64(),
                renewal["quarter"].as_str()
            ),
            (Some("renewal"), Some(1), Some(quarter.to_string().as_str()))
        );
        let upgrade = declare(&app, &f.admin.token, "FIELD-V2", 1).await;
        (
            renewal["id"].as_str().unwrap().to_string(),
            upgrade["id"].as_str().unwrap().to_string(),
        )
    } else {
        // Today is the quarter's first day: last quarter's declarations, written directly.
        (
            declaration_row(&app, "FIELD-V1", quarter, 1, "renewal").await,
            declaration_row(&app, "FIELD-V2", quarter, 1, "upgrade").await,
        )
    };

    let path = format!("/api/v1/quarters/{quarter}");
    let yesterday = today - Days::new(1);
    let window =
        json!({"opens_on": quarter.first_day().to_string(), "closes_on": yesterday.to_string()});
    assert_problem(app.put(&path, &f.reviewer.token, &window).await, 403).await;
    let bad = json!({"opens_on": quarter.first_day().to_string(), "closes_on": (quarter.first_day() - Days::new(1)).to_string()});
    let problem = assert_problem(app.put(&path, &f.admin.token, &bad).await, 422).await;
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "closes_on"),
        "{problem}"
    );
    let bad = json!({"opens_on": (quarter.first_day() - Days::new(1)).to_string(), "closes_on": yesterday.to_string()});
    let problem = assert_problem(app.put(&path, &f.admin.token, &bad).await, 422).await;
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "opens_on"),
        "{problem}"
    );
    assert_eq!(
        declaration(&app, &f.admin.token, &upgrade_id).await["status"],
        "pending",
        "refused windows close nothing"
    );

    let set = expect_json(app.put(&path, &f.admin.token, &window).await, 200).await;
    assert_eq!(
        (
            set["quarter"].as_str(),
            set["opens_on"].as_str(),
            set["closes_on"].as_str()
        ),
        (
            Some(quarter.to_string().as_str()),
            Some(quarter.first_day().to_string().as_str()),
            Some(yesterday.to_string().as_str())
        ),
        "{set}"
    );
    assert_eq!(
        (set["customized"].as_bool(), set["closed"].as_bool()),
        (Some(true), Some(true)),
        "{set}"
    );
    let read = json_of(app.get(&path, &f.inspector.token).await).await;
    assert_eq!(read["closed"], true, "{read}");

    assert_eq!(
        declaration(&app, &f.admin.token, &renewal_id).await["status"],
        "unverified"
    );
    assert_eq!(
        declaration(&app, &f.admin.token, &upgrade_id).await["status"],
        "expired"
    );
    // The county missed the visit, not the village: the level is kept and the quarter named.
    let status = star_status(&app, &f.admin.token, "FIELD-V1", today).await;
    assert_eq!(status["level"], 1, "{status}");
    assert_eq!(
        status["unverified_quarters"],
        json!([quarter.to_string()]),
        "{status}"
    );
    assert!(
        events(&status).contains(&"unverified".to_string()),
        "{status}"
    );
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V2", today).await["level"],
        0
    );
    let report = json_of(
        app.get(
            &format!("/api/v1/reports/unverified?quarter={quarter}"),
            &f.admin.token,
        )
        .await,
    )
    .await;
    let listed: Vec<(&str, &str)> = report["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .map(|i| {
            (
                i["village_code"].as_str().unwrap(),
                i["declaration_status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [("FIELD-V1", "unverified")], "{report}");
    assert!(
        outbox_types(&app)
            .await
            .iter()
            .any(|t| t == "declaration.expired"),
        "a declaration.expired event"
    );
}

async fn an_inspection_started_outside_the_window_is_422(app: TestApp) {
    let f = field_county(&app).await;
    let today = county_today(&app);
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let quarter = Quarter::parse(d["quarter"].as_str().unwrap()).unwrap();
    let path = format!("/api/v1/quarters/{quarter}");
    // The default window: the quarter's first day to 15 days after its last.
    let default = json_of(app.get(&path, &f.inspector.token).await).await;
    assert_eq!(
        default["opens_on"],
        quarter.first_day().to_string(),
        "{default}"
    );
    assert_eq!(
        default["closes_on"],
        (quarter.last_day() + Days::new(15)).to_string(),
        "{default}"
    );
    assert_eq!(
        (default["customized"].as_bool(), default["closed"].as_bool()),
        (Some(false), Some(false)),
        "{default}"
    );

    // This quarter's verification opens tomorrow (after the service round).
    let opens = today + Days::new(1);
    let closes = opens + Days::new(30);
    let res = app
        .put(
            &path,
            &f.admin.token,
            &json!({"opens_on": opens.to_string(), "closes_on": closes.to_string()}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let s = submission(&app, &f.inspector.token, &d, VILLAGE, 141).await;
    let at = format!("/api/v1/inspections/{}", s.id);
    let problem = assert_problem(app.put(&at, &f.inspector.token, &s.body).await, 422).await;
    assert_eq!(problem["code"], "inspection.outside_window", "{problem}");
    let error = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "started_at")
        .unwrap_or_else(|| panic!("{problem}"));
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&opens.to_string()) && message.contains(&closes.to_string()),
        "{message}"
    );
    assert_problem(app.get(&at, &f.inspector.token).await, 404).await;
    assert_eq!(
        declaration(&app, &f.admin.token, d["id"].as_str().unwrap()).await["status"],
        "pending"
    );

    // Inside the window, the same inspection is accepted.
    let res = app
        .put(
            &path,
            &f.admin.token,
            &json!({"opens_on": quarter.first_day().to_string(), "closes_on": closes.to_string()}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let done = submit(&app, &f.inspector.token, &s).await;
    assert_eq!(done["status"], "submitted");
}

async fn a_banned_village_still_gets_its_quarters_renewal(app: TestApp) {
    let f = field_county(&app).await;
    let today = county_today(&app);
    let quarter = Quarter::containing(today);
    // Two stars held for years; a renewal failed 18 months ago and the level was not regained
    // within the 12-month window: banned, still holding one star.
    let since = Quarter::containing(today - Days::new(3 * 365));
    app.import_stars(&format!(
        "village_code,level,since_quarter\nFIELD-V1,2,{since}\n"
    ))
    .await
    .unwrap();
    let failed_on = today.checked_sub_months(Months::new(18)).unwrap();
    past_decision(
        &app,
        "FIELD-V1",
        failed_on,
        2,
        "renewal",
        "reject",
        Some("downgrade"),
    )
    .await;
    let before = star_status(&app, &f.admin.token, "FIELD-V1", today).await;
    assert_eq!(before["level"], 1, "{before}");
    assert!(before["banned_until"].is_string(), "banned: {before}");

    // No upgrade during the ban…
    let v1 = app.unit_id(&f.secretary.token, "FIELD-V1").await;
    let problem = assert_problem(
        app.post(
            "/api/v1/declarations",
            &f.secretary.token,
            &json!({"village_id": v1, "star_level": 2}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["code"], "declaration.banned", "{problem}");
    // …but the level it holds is verified this quarter like any other.
    assert_eq!(ensure_renewals(&app, quarter).await, 1);
    let decls = json_of(
        app.get(
            &format!("/api/v1/declarations?quarter={quarter}"),
            &f.secretary.token,
        )
        .await,
    )
    .await;
    let items = decls["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{decls}");
    let renewal = items[0].clone();
    assert_eq!(
        (
            renewal["kind"].as_str(),
            renewal["star_level"].as_i64(),
            renewal["status"].as_str()
        ),
        (Some("renewal"), Some(1), Some("pending")),
        "{renewal}"
    );
    let s = submission(&app, &f.inspector.token, &renewal, VILLAGE, 151).await;
    assert_eq!(
        submit(&app, &f.inspector.token, &s).await["status"],
        "submitted"
    );
    let decided = approve_both(
        &app,
        &f,
        &s.id,
        json!({"decision": "approve", "comment": "renewed"}),
    )
    .await;
    assert_eq!(decided["star_level"], 1);
    let after = star_status(&app, &f.admin.token, "FIELD-V1", today).await;
    assert_eq!(after["level"], 1, "{after}");
    assert_eq!(
        after["banned_until"], before["banned_until"],
        "the ban runs on: {after}"
    );
}

async fn a_village_with_no_mentees_fails_the_coverage_item(app: TestApp) {
    let f = field_county(&app).await;
    let (_, _, done) = inspected(&app, &f, &f.secretary.token, "FIELD-V1", 1, VILLAGE, 161).await;
    let item = done["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "followup_coverage")
        .unwrap_or_else(|| panic!("no coverage item: {}", done["items"]))
        .clone();
    assert_eq!(item["pass"], false, "{item}");
    assert_eq!(item["value"].as_f64(), Some(0.0), "{item}");
    assert_ne!(item["unavailable"], true, "{item}");
    assert!(
        item.to_string().contains("no mentees registered"),
        "the reason: {item}"
    );
    assert!(
        strings(&done["failing_items"]).contains(&"followup_coverage".to_string()),
        "{}",
        done["failing_items"]
    );
    assert!(done["score"].as_f64().unwrap() < 100.0, "{}", done["score"]);
}

async fn changing_rectify_months_leaves_an_open_windows_deadline_as_it_was(app: TestApp) {
    let f = field_county(&app).await;
    let today = county_today(&app);
    let since = Quarter::containing(today - Days::new(2 * 365));
    app.import_stars(&format!(
        "village_code,level,since_quarter\nFIELD-V1,1,{since}\n"
    ))
    .await
    .unwrap();
    // Downgraded two months ago under the default 12-month window.
    let lost_on = today.checked_sub_months(Months::new(2)).unwrap();
    past_decision(
        &app,
        "FIELD-V1",
        lost_on,
        1,
        "renewal",
        "reject",
        Some("downgrade"),
    )
    .await;
    let deadline = lost_on
        .checked_add_months(Months::new(12))
        .unwrap()
        .to_string();
    let before = star_status(&app, &f.admin.token, "FIELD-V1", today).await;
    assert_eq!(
        before["rectification"],
        json!({"from_level": 1, "deadline": deadline}),
        "{before}"
    );

    let policy = expect_json(
        app.patch(
            "/api/v1/policy",
            &f.admin.token,
            &json!({"rectify_months": 6}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(policy["rectify_months"], 6);
    let after = star_status(&app, &f.admin.token, "FIELD-V1", today).await;
    assert_eq!(
        after["rectification"],
        json!({"from_level": 1, "deadline": deadline}),
        "the window keeps its length: {after}"
    );
    assert_eq!(after["banned_until"], Value::Null, "{after}");
    let yesterday = star_status(&app, &f.admin.token, "FIELD-V1", today - Days::new(1)).await;
    assert_eq!(
        yesterday["rectification"]["deadline"],
        deadline.as_str(),
        "{yesterday}"
    );
    // Six months after the loss the old window still runs.
    let later = lost_on.checked_add_months(Months::new(7)).unwrap();
    let then = star_status(&app, &f.admin.token, "FIELD-V1", later).await;
    assert_eq!(
        (
            then["rectification"]["deadline"].as_str(),
            then["banned_until"].clone()
        ),
        (Some(deadline.as_str()), Value::Null),
        "{then}"
    );

    // The change is on the record: who, when, which values.
    let read = json_of(app.get("/api/v1/policy", &f.reviewer.token).await).await;
    let history = read["history"]
        .as_array()
        .unwrap_or_else(|| panic!("no history: {read}"));
    let newest = &history[0];
    assert_eq!(newest["rectify_months"], 6, "{read}");
    assert_eq!(newest["effective_on"], today.to_string(), "{read}");
    assert_eq!(newest["changed_by_name"], "field-admin", "{read}");
    assert_eq!(
        (newest["max_step"].as_i64(), newest["ban_months"].as_i64()),
        (Some(1), Some(36)),
        "{read}"
    );
    assert!(newest["changed_at"].is_string(), "{read}");
}

async fn a_window_opened_earlier_on_the_day_of_a_policy_change_keeps_its_deadline(app: TestApp) {
    let f = field_county(&app).await;
    let today = county_today(&app);
    let since = Quarter::containing(today - Days::new(2 * 365));
    app.import_stars(&format!(
        "village_code,level,since_quarter\nFIELD-V2,1,{since}\n"
    ))
    .await
    .unwrap();
    assert_eq!(ensure_renewals(&app, Quarter::containing(today)).await, 1);
    let renewal =
        json_of(app.get("/api/v1/declarations", &f.admin.token).await).await["items"][0].clone();
    let s = submission(&app, &f.inspector.token, &renewal, NORTH, 171).await;
    submit(&app, &f.inspector.token, &s).await;
    claim_and_decide(
        &app,
        &f.reviewer.token,
        &s.id,
        json!({"decision": "reject", "consequence": "downgrade", "comment": "board missing"}),
    )
    .await;
    let deadline = today
        .checked_add_months(Months::new(12))
        .unwrap()
        .to_string();
    let before = star_status(&app, &f.admin.token, "FIELD-V2", today).await;
    assert_eq!(
        before["rectification"],
        json!({"from_level": 1, "deadline": deadline}),
        "{before}"
    );

    let res = app
        .patch(
            "/api/v1/policy",
            &f.admin.token,
            &json!({"rectify_months": 6}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let after = star_status(&app, &f.admin.token, "FIELD-V2", today).await;
    assert_eq!(
        after["rectification"],
        json!({"from_level": 1, "deadline": deadline}),
        "the window opened before the change keeps its length: {after}"
    );
}

async fn an_admin_reopens_a_wrong_approval_and_the_level_goes_back_with_both_decisions_on_record(
    app: TestApp,
) {
    let f = field_county(&app).await;
    let today = county_today(&app);
    let (d, s, _) = inspected(&app, &f, &f.secretary.token, "FIELD-V1", 1, VILLAGE, 181).await;
    approve_both(
        &app,
        &f,
        &s.id,
        json!({"decision": "approve", "comment": "in order"}),
    )
    .await;
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V1", today).await["level"],
        1
    );
    let reopen = format!("/api/v1/inspections/{}/reopen", s.id);
    let reason = "the ledger photos were of another village's ledgers";

    assert_problem(
        app.post(&reopen, &f.reviewer.token, &json!({"reason": reason}))
            .await,
        403,
    )
    .await;
    assert_problem(
        app.post(&reopen, &f.inspector.token, &json!({"reason": reason}))
            .await,
        403,
    )
    .await;
    let problem = assert_problem(app.post(&reopen, &f.admin.token, &json!({})).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "reason", "{problem}");
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V1", today).await["level"],
        1
    );

    let view = expect_json(
        app.post(&reopen, &f.admin.token, &json!({"reason": reason}))
            .await,
        200,
    )
    .await;
    assert_eq!(view["status"], "submitted", "{view}");
    assert_eq!(view["decisions"][0]["reopen_reason"], reason, "{view}");
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V1", today).await["level"],
        0,
        "the level goes back"
    );
    assert_eq!(
        declaration(&app, &f.admin.token, d["id"].as_str().unwrap()).await["status"],
        "inspecting"
    );
    let queue = json_of(app.get("/api/v1/review-queue", &f.reviewer.token).await).await;
    assert!(
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == s.id.as_str()),
        "back in the queue: {queue}"
    );
    let problem = assert_problem(
        app.post(&reopen, &f.admin.token, &json!({"reason": reason}))
            .await,
        409,
    )
    .await;
    assert_eq!(problem["code"], "reopen.not_decided", "{problem}");

    // Decided again, this time rightly.
    claim_and_decide(
        &app,
        &f.reviewer.token,
        &s.id,
        json!({"decision": "reject", "comment": "the ledgers are not this village's"}),
    )
    .await;
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V1", today).await["level"],
        0
    );
    let view = inspection(&app, &f.admin.token, &s.id).await;
    assert_eq!(view["status"], "rejected");
    let record = view["decisions"]
        .as_array()
        .unwrap_or_else(|| panic!("{view}"));
    assert_eq!(record.len(), 2, "both decisions stay on record: {record:?}");
    assert_eq!(
        (
            record[0]["decision"].as_str(),
            record[0]["comment"].as_str()
        ),
        (Some("approve"), Some("in order"))
    );
    assert!(record[0]["reopened_at"].is_string(), "{}", record[0]);
    assert_eq!(record[0]["reopened_by_name"], "field-admin");
    assert_eq!(record[0]["reopen_reason"], reason);
    assert_eq!(record[1]["decision"], "reject");
    assert_eq!(record[1]["reopened_at"], Value::Null);
    assert_eq!(record[1]["decided_by_name"], "field-reviewer");

    let audit = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type=inspection&entity_id={}", s.id),
            &f.admin.token,
        )
        .await,
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"inspection.reopened")
            && actions.contains(&"inspection.approved")
            && actions.contains(&"inspection.rejected"),
        "{actions:?}"
    );
    let sent = outbox_types(&app).await;
    assert!(sent.iter().any(|t| t == "inspection.reopened"), "{sent:?}");
    assert!(sent.iter().any(|t| t == "star_status.changed"), "{sent:?}");
}

async fn the_inspector_and_the_secretary_read_the_rejection_comment(app: TestApp) {
    let f = field_county(&app).await;
    app.create_user("field-secretary2", "secretary", "FIELD-V2")
        .await;
    let other_secretary = app.login("field-secretary2").await;
    let (_, s, _) = inspected(&app, &f, &f.secretary.token, "FIELD-V1", 1, VILLAGE, 191).await;
    let comment = "the commitment board lists last year's policies; post the current ones";
    claim_and_decide(
        &app,
        &f.reviewer.token,
        &s.id,
        json!({"decision": "reject", "comment": comment}),
    )
    .await;
    for reader in [&f.inspector, &f.secretary] {
        let view = inspection(&app, &reader.token, &s.id).await;
        assert_eq!(view["status"], "rejected");
        assert_eq!(view["village_name"], "Field Village One", "{view}");
        let decided = view["decisions"]
            .as_array()
            .unwrap_or_else(|| panic!("no decisions: {view}"));
        assert_eq!(decided.len(), 1, "{decided:?}");
        assert_eq!(
            (
                decided[0]["decision"].as_str(),
                decided[0]["comment"].as_str()
            ),
            (Some("reject"), Some(comment)),
            "{}",
            reader.user
        );
        assert_eq!(decided[0]["consequence"], Value::Null);
        assert!(decided[0]["decided_at"].is_string());
    }
    // The inspector reads who inspected and decided; the village reads the outcome only.
    let view = inspection(&app, &f.inspector.token, &s.id).await;
    assert_eq!(view["inspector_name"], "field-inspector", "{view}");
    assert_eq!(view["decisions"][0]["decided_by_name"], "field-reviewer");
    let view = inspection(&app, &f.secretary.token, &s.id).await;
    assert!(
        view.get("inspector_name").is_none() && view.get("answers").is_none(),
        "{view}"
    );
    assert!(view["result"]["score"].is_number(), "{view}");
    assert_problem(
        app.get(
            &format!("/api/v1/inspections/{}", s.id),
            &other_secretary.token,
        )
        .await,
        404,
    )
    .await;
}

async fn a_stuck_inspection_can_be_cancelled_and_the_declaration_inspected_again(app: TestApp) {
    let f = field_county(&app).await;
    app.create_user("field-inspector2", "inspector", "FIELD")
        .await;
    let second = app.login("field-inspector2").await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let declaration_id = d["id"].as_str().unwrap();

    // Stuck: the answers arrived, one photo of several.
    let stuck = submission(&app, &f.inspector.token, &d, VILLAGE, 201).await;
    let path = format!("/api/v1/inspections/{}", stuck.id);
    assert_eq!(
        app.put(&path, &f.inspector.token, &stuck.body)
            .await
            .status(),
        201
    );
    let p = &stuck.photos[0];
    assert_eq!(
        put_photo(&app, &f.inspector.token, &stuck.id, &p.id, p.bytes.clone())
            .await
            .status(),
        201
    );
    assert_eq!(
        inspection(&app, &f.inspector.token, &stuck.id).await["status"],
        "awaiting_photos"
    );

    // A second inspection names the live one and its inspector.
    let other = submission(&app, &second.token, &d, VILLAGE, 202).await;
    let other_path = format!("/api/v1/inspections/{}", other.id);
    let problem = assert_problem(app.put(&other_path, &second.token, &other.body).await, 409).await;
    assert_eq!(problem["code"], "declaration_inspected", "{problem}");
    assert_eq!(
        problem["live_inspection_id"],
        stuck.id.as_str(),
        "{problem}"
    );
    assert_eq!(problem["live_inspector"], "field-inspector", "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(&stuck.id) && detail.contains("field-inspector"),
        "{detail}"
    );

    // Only its inspector or an admin may cancel it.
    assert_problem(delete(&app, &path, &second.token).await, 403).await;
    assert_problem(delete(&app, &path, &f.reviewer.token).await, 403).await;
    assert_eq!(delete(&app, &path, &f.inspector.token).await.status(), 204);
    let cancelled = inspection(&app, &f.admin.token, &stuck.id).await;
    assert_eq!(cancelled["status"], "cancelled");
    let kept: Vec<&Value> = cancelled["photos"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|ph| ph["received"] == true)
        .collect();
    assert_eq!(
        kept.len(),
        1,
        "the stored photo is kept: {}",
        cancelled["photos"]
    );
    assert_eq!(
        declaration(&app, &f.admin.token, declaration_id).await["status"],
        "pending"
    );
    let audit = json_of(
        app.get(
            &format!(
                "/api/v1/audit?entity_type=inspection&entity_id={}",
                stuck.id
            ),
            &f.admin.token,
        )
        .await,
    )
    .await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"].as_str().unwrap().contains("cancel")
                && a["actor"] == "field-inspector"),
        "{audit}"
    );

    // Inspected again; an admin frees that one too.
    assert_eq!(
        app.put(&other_path, &second.token, &other.body)
            .await
            .status(),
        201
    );
    assert_eq!(
        delete(&app, &other_path, &f.admin.token).await.status(),
        204
    );
    assert_eq!(
        inspection(&app, &f.admin.token, &other.id).await["status"],
        "cancelled"
    );

    // And inspected to the end: a submitted inspection is no longer cancellable.
    let third = submission(&app, &f.inspector.token, &d, VILLAGE, 203).await;
    let done = submit(&app, &f.inspector.token, &third).await;
    assert_eq!(done["status"], "submitted");
    let problem = assert_problem(
        delete(
            &app,
            &format!("/api/v1/inspections/{}", third.id),
            &f.inspector.token,
        )
        .await,
        409,
    )
    .await;
    assert_eq!(problem["code"], "inspection.not_cancellable", "{problem}");
    assert_eq!(
        declaration(&app, &f.admin.token, declaration_id).await["status"],
        "inspecting"
    );
    approve_both(
        &app,
        &f,
        &third.id,
        json!({"decision": "approve", "comment": "in order"}),
    )
    .await;
}

async fn a_baseline_import_for_a_village_with_fieldstar_decisions_is_refused_naming_it(
    app: TestApp,
) {
    let f = field_county(&app).await;
    let today = county_today(&app);
    let (_, s, _) = inspected(&app, &f, &f.secretary.token, "FIELD-V1", 1, VILLAGE, 211).await;
    approve_both(
        &app,
        &f,
        &s.id,
        json!({"decision": "approve", "comment": "in order"}),
    )
    .await;
    let before = star_status(&app, &f.admin.token, "FIELD-V1", today).await;
    assert_eq!(before["level"], 1);

    let lowering = "village_code,level,since_quarter\nFIELD-V1,0,2025-Q1\n";
    let err = app.import_stars(lowering).await.unwrap_err();
    assert!(err.contains("FIELD-V1"), "{err}");
    let raising = "village_code,level,since_quarter\nFIELD-V2,1,2025-Q1\nFIELD-V1,3,2025-Q1\n";
    let err = app.import_stars(raising).await.unwrap_err();
    assert!(err.contains("FIELD-V1"), "{err}");
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V1", today).await,
        before,
        "nothing changed"
    );
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V2", today).await["level"],
        0,
        "all or nothing"
    );

    // The command line says the same and exits non-zero.
    let file = app.data_dir.path().join("stars.csv");
    std::fs::write(&file, lowering).unwrap();
    let out = crate::cli::fieldstar(&app, &["stars", "import", file.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("FIELD-V1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V1", today).await["level"],
        1
    );

    // A village without decisions still takes its baseline.
    assert_eq!(
        app.import_stars("village_code,level,since_quarter\nFIELD-V2,1,2025-Q1\n")
            .await,
        Ok((1, 0, 0))
    );
    assert_eq!(
        star_status(&app, &f.admin.token, "FIELD-V2", today).await["level"],
        1
    );
}

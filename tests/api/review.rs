use chrono::{Datelike, Duration, Utc};
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::both_backends;
use crate::flow::*;
use crate::helpers::*;

async fn submitted(
    app: &TestApp,
    f: &Field,
    village: &str,
    secretary: &str,
    seed: u64,
) -> (Value, Submission) {
    let sec = app.login(secretary).await;
    let d = declare(app, &sec.token, village, 1).await;
    let s = submission(app, &f.inspector.token, &d, VILLAGE, seed).await;
    let done = submit(app, &f.inspector.token, &s).await;
    assert_eq!(done["status"], "submitted");
    (d, s)
}

/// Claims the inspection (deciding needs the live claim), then decides it.
async fn decide(app: &TestApp, token: &str, id: &str, body: Value) -> reqwest::Response {
    decide_claimed(app, token, id, body).await
}

/// Gives a village a star level held before fieldstar, as `fieldstar stars import` does.
async fn baseline(app: &TestApp, code: &str, level: i32, quarter: &str) {
    let db = app.state.db.clone();
    let (code, quarter) = (code.to_string(), quarter.to_string());
    fieldstar::db::blocking(move || {
        use fieldstar::db::schema::star_baselines as b;
        let mut conn = db.get()?;
        let v = fieldstar::org::OrgUnit::find_by_code(&mut conn, &code)?.unwrap();
        diesel::insert_into(b::table)
            .values((
                b::village_id.eq(&v.id),
                b::county_id.eq(&v.county_id),
                b::level.eq(level),
                b::since_quarter.eq(&quarter),
                b::created_at.eq(fieldstar::clock::now()),
            ))
            .execute(&mut *conn)?;
        Ok(())
    })
    .await
    .unwrap();
}

async fn status_on(
    app: &TestApp,
    code: &str,
    on: chrono::NaiveDate,
) -> fieldstar::stars::engine::StarStatus {
    let db = app.state.db.clone();
    let code = code.to_string();
    fieldstar::db::blocking(move || {
        let mut conn = db.get()?;
        let v = fieldstar::org::OrgUnit::find_by_code(&mut conn, &code)?.unwrap();
        Ok(fieldstar::stars::status_of(&mut conn, &v, on)?)
    })
    .await
    .unwrap()
}

fn today() -> chrono::NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

both_backends!(
    an_upgrade_is_queued_in_its_county_claimed_and_approved_once,
    a_failed_renewal_downgrades_opens_a_window_and_lapses_into_a_ban,
    a_returned_inspection_comes_back_as_revision_2,
    claims_expire_and_can_be_released,
    the_queue_filters_sorts_and_pages
);

async fn an_upgrade_is_queued_in_its_county_claimed_and_approved_once(app: TestApp) {
    seed_two_counties(&app).await;
    let f = field_county(&app).await;
    app.create_user("field-reviewer2", "reviewer", "FIELD")
        .await;
    let started = Utc::now();
    let (_, s) = submitted(&app, &f, "FIELD-V1", "field-secretary", 11).await;
    let queue = json_of(app.get("/api/v1/review-queue", &f.reviewer.token).await).await;
    // Waiting since its submission, which happened during this test.
    let waited = queue["items"][0]["waiting_seconds"].as_i64().unwrap();
    assert!(
        waited <= (Utc::now() - started).num_seconds() + 1,
        "{waited}"
    );
    let entry = &queue["items"][0];
    assert_eq!(entry["id"].as_str(), Some(s.id.as_str()));
    assert_eq!(
        (entry["declared_level"].as_i64(), entry["kind"].as_str()),
        (Some(1), Some("upgrade"))
    );
    assert_eq!(entry["village"]["code"], "FIELD-V1");
    assert_eq!(entry["township"]["code"], "FIELD-T1");
    assert!(entry["flags"].is_array());
    // Nobody else's queue has it; other roles have no queue.
    let demo = app.login("reviewer1").await;
    assert!(
        json_of(app.get("/api/v1/review-queue", &demo.token).await).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_problem(
        app.get("/api/v1/review-queue", &f.inspector.token).await,
        403,
    )
    .await;
    assert_eq!(
        app.get("/api/v1/review-queue", &f.admin.token)
            .await
            .status(),
        200
    );
    let path = format!("/api/v1/inspections/{}", s.id);
    assert_problem(
        app.post(&format!("{path}/claim"), &demo.token, &json!({}))
            .await,
        404,
    )
    .await;
    assert_problem(
        decide(&app, &demo.token, &s.id, json!({"decision": "approve"})).await,
        404,
    )
    .await;
    assert_problem(
        decide(
            &app,
            &f.inspector.token,
            &s.id,
            json!({"decision": "approve"}),
        )
        .await,
        403,
    )
    .await;

    let claim = json_of(
        app.post(&format!("{path}/claim"), &f.reviewer.token, &json!({}))
            .await,
    )
    .await;
    assert!(claim["claim_expires_at"].is_string());
    let second = app.login("field-reviewer2").await;
    assert_problem(
        app.post(&format!("{path}/claim"), &second.token, &json!({}))
            .await,
        409,
    )
    .await;
    assert_problem(
        decide(&app, &second.token, &s.id, json!({"decision": "approve"})).await,
        409,
    )
    .await;
    let queue = json_of(app.get("/api/v1/review-queue", &second.token).await).await;
    assert_eq!(
        queue["items"][0]["claimed_by"]["username"],
        "field-reviewer"
    );

    let body = assert_problem(
        decide(
            &app,
            &f.reviewer.token,
            &s.id,
            json!({"decision": "reject", "consequence": "downgrade", "comment": "no"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "consequence");
    // Joint approval (the programme's default): the department's approval waits for the
    // association's, and changes nothing for the village yet.
    let res = decide(
        &app,
        &f.reviewer.token,
        &s.id,
        json!({"decision": "approve", "comment": "all in order"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let d: Value = res.json().await.unwrap();
    assert_eq!(
        (d["inspection_status"].as_str(), d["star_level"].as_u64()),
        (Some("awaiting_second_approval"), Some(0)),
        "{d}"
    );
    assert_eq!(
        (d["body"].as_str(), d["awaiting_body"].as_str()),
        (Some("department"), Some("association"))
    );
    assert_eq!(status_on(&app, "FIELD-V1", today()).await.level, 0);
    // Neither she nor another department reviewer gives the second approval.
    for token in [&f.reviewer.token, &second.token] {
        let problem = assert_problem(
            app.post(&format!("{path}/claim"), token, &json!({})).await,
            409,
        )
        .await;
        assert_eq!(problem["code"], "approval.body_done", "{problem}");
        let problem = assert_problem(
            decide(&app, token, &s.id, json!({"decision": "approve"})).await,
            409,
        )
        .await;
        assert_eq!(problem["code"], "approval.body_done", "{problem}");
    }
    // It left the department's queue for the association's, which sees what is missing.
    assert!(
        json_of(app.get("/api/v1/review-queue", &second.token).await).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let queue = json_of(app.get("/api/v1/review-queue", &f.associate.token).await).await;
    assert_eq!(
        (
            queue["items"][0]["status"].as_str(),
            queue["items"][0]["awaiting_body"].as_str()
        ),
        (Some("awaiting_second_approval"), Some("association")),
        "{queue}"
    );
    let res = decide_claimed(
        &app,
        &f.associate.token,
        &s.id,
        json!({"decision": "approve", "comment": "agreed"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let d: Value = res.json().await.unwrap();
    assert_eq!(
        (d["inspection_status"].as_str(), d["star_level"].as_u64()),
        (Some("approved"), Some(1)),
        "{d}"
    );
    assert_problem(
        decide(
            &app,
            &f.reviewer.token,
            &s.id,
            json!({"decision": "approve"}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(status_on(&app, "FIELD-V1", today()).await.level, 1);
    let decl = json_of(
        app.get("/api/v1/declarations?status=approved", &f.admin.token)
            .await,
    )
    .await;
    assert_eq!(decl["items"].as_array().unwrap().len(), 1);

    let audit = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type=inspection&entity_id={}", s.id),
            &f.admin.token,
        )
        .await,
    )
    .await;
    let by: Vec<(String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_string(),
                a["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        by.contains(&("inspection.submitted".into(), "field-inspector".into())),
        "{by:?}"
    );
    assert!(
        by.contains(&("inspection.approval_given".into(), "field-reviewer".into())),
        "{by:?}"
    );
    assert!(
        by.contains(&("inspection.approved".into(), "field-assoc".into())),
        "{by:?}"
    );
}

async fn a_failed_renewal_downgrades_opens_a_window_and_lapses_into_a_ban(app: TestApp) {
    let f = field_county(&app).await;
    let last_year = format!("{}-Q1", today().year() - 1);
    baseline(&app, "FIELD-V1", 1, &last_year).await;
    // The quarter's renewal declaration is created for the holder, once.
    let db = app.state.db.clone();
    let made = fieldstar::db::blocking(move || {
        let mut conn = db.get()?;
        let q = fieldstar::quarter::Quarter::containing(today());
        let first = fieldstar::declarations::renewals::ensure(&mut conn, q, today())?;
        let second = fieldstar::declarations::renewals::ensure(&mut conn, q, today())?;
        Ok((first, second))
    })
    .await
    .unwrap();
    assert_eq!(made, (1, 0));
    let decls = json_of(app.get("/api/v1/declarations", &f.secretary.token).await).await;
    let renewal = decls["items"][0].clone();
    assert_eq!(
        (renewal["kind"].as_str(), renewal["star_level"].as_i64()),
        (Some("renewal"), Some(1))
    );

    let s = submission(&app, &f.inspector.token, &renewal, VILLAGE, 21).await;
    submit(&app, &f.inspector.token, &s).await;
    let body = assert_problem(
        decide(
            &app,
            &f.reviewer.token,
            &s.id,
            json!({"decision": "reject", "comment": "board missing"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "consequence");
    let res = decide(
        &app,
        &f.reviewer.token,
        &s.id,
        json!({"decision": "reject", "consequence": "downgrade", "comment": "board missing"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["star_level"], 0);
    let now = status_on(&app, "FIELD-V1", today()).await;
    assert_eq!(now.level, 0);
    let deadline = now.rectification.expect("a rectification window").deadline;
    let months = (deadline - today()).num_days();
    assert!((360..=370).contains(&months), "{months} days");
    let later = status_on(&app, "FIELD-V1", deadline + Duration::days(1)).await;
    let until = later.banned_until.expect("banned after the window lapsed");
    assert!(
        (1095..=1097).contains(&(until - deadline).num_days()),
        "36 months: {deadline} → {until}"
    );
    // Once the ban starts, the village cannot declare.
    let refused = fieldstar::stars::engine::check_declaration(
        &later,
        1,
        &Default::default(),
        fieldstar::quarter::Quarter::containing(deadline),
        false,
    );
    assert!(matches!(
        refused,
        Err(fieldstar::stars::engine::Refusal::Banned { .. })
    ));
    // Within the window it may try to regain its level: an upgrade declaration.
    let v1 = app.unit_id(&f.secretary.token, "FIELD-V1").await;
    let res = app
        .post(
            "/api/v1/declarations",
            &f.secretary.token,
            &json!({"village_id": v1, "star_level": 1}),
        )
        .await;
    assert_eq!(json_of(res).await["kind"], "upgrade");
}

async fn a_returned_inspection_comes_back_as_revision_2(app: TestApp) {
    let f = field_county(&app).await;
    let (_, s) = submitted(&app, &f, "FIELD-V1", "field-secretary", 31).await;
    assert_problem(
        decide(
            &app,
            &f.reviewer.token,
            &s.id,
            json!({"decision": "return"}),
        )
        .await,
        422,
    )
    .await;
    let res = decide(
        &app,
        &f.reviewer.token,
        &s.id,
        json!({"decision": "return", "comment": "photograph the ledger pages"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let path = format!("/api/v1/inspections/{}", s.id);
    let back = json_of(app.get(&path, &f.inspector.token).await).await;
    assert_eq!(
        (back["status"].as_str(), back["return_comment"].as_str()),
        (Some("returned"), Some("photograph the ledger pages"))
    );
    // The same body again is a replay of the returned revision, not a new one.
    assert_eq!(
        app.put(&path, &f.inspector.token, &s.body).await.status(),
        200
    );
    let mut again = s.body.clone();
    again["answers"]["policy_count"] = json!(3);
    let res = app.put(&path, &f.inspector.token, &again).await;
    assert_eq!(res.status(), 201);
    let v2: Value = res.json().await.unwrap();
    assert_eq!(
        (v2["revision"].as_i64(), v2["status"].as_str()),
        (Some(2), Some("submitted")),
        "the photos were already there"
    );
    let queue = json_of(app.get("/api/v1/review-queue", &f.reviewer.token).await).await;
    assert_eq!(queue["items"][0]["revision"], 2);
    assert_eq!(
        approve_jointly(&app, &f, &s.id, json!({"decision": "approve"}))
            .await
            .status(),
        201
    );
}

async fn claims_expire_and_can_be_released(app: TestApp) {
    let f = field_county(&app).await;
    app.create_user("field-reviewer2", "reviewer", "FIELD")
        .await;
    let second = app.login("field-reviewer2").await;
    let (_, s) = submitted(&app, &f, "FIELD-V1", "field-secretary", 41).await;
    let claim = format!("/api/v1/inspections/{}/claim", s.id);
    assert_eq!(
        app.post(&claim, &f.reviewer.token, &json!({}))
            .await
            .status(),
        200
    );
    assert_problem(
        app.request(reqwest::Method::DELETE, &claim, Some(&second.token))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert_eq!(
        app.request(reqwest::Method::DELETE, &claim, Some(&f.reviewer.token))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        app.post(&claim, &second.token, &json!({})).await.status(),
        200
    );
    // Expire the claim: the first reviewer may take it again.
    let db = app.state.db.clone();
    let id = s.id.clone();
    fieldstar::db::blocking(move || {
        use fieldstar::db::schema::inspections as i;
        let mut conn = db.get()?;
        diesel::update(i::table.find(&id))
            .set(i::claim_expires_at.eq(fieldstar::clock::now() - Duration::minutes(1)))
            .execute(&mut *conn)?;
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(
        app.post(&claim, &f.reviewer.token, &json!({}))
            .await
            .status(),
        200
    );
}

async fn the_queue_filters_sorts_and_pages(app: TestApp) {
    let f = field_county(&app).await;
    app.create_user("field-secretary2", "secretary", "FIELD-V2")
        .await;
    app.create_user("field-secretary3", "secretary", "FIELD-V3")
        .await;
    submitted(&app, &f, "FIELD-V1", "field-secretary", 51).await;
    // Standing at V1 while inspecting V2 (10 km away): an alert.
    let (_, flagged) = submitted(&app, &f, "FIELD-V2", "field-secretary2", 52).await;
    submitted(&app, &f, "FIELD-V3", "field-secretary3", 53).await;
    let all = json_of(app.get("/api/v1/review-queue", &f.reviewer.token).await).await;
    let codes: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["village"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        vec!["FIELD-V1", "FIELD-V2", "FIELD-V3"],
        "oldest first"
    );
    let worst = json_of(
        app.get("/api/v1/review-queue?sort=flags", &f.reviewer.token)
            .await,
    )
    .await;
    assert_eq!(worst["items"][0]["id"].as_str(), Some(flagged.id.as_str()));
    let only = json_of(
        app.get("/api/v1/review-queue?flagged=true", &f.reviewer.token)
            .await,
    )
    .await;
    assert_eq!(only["items"].as_array().unwrap().len(), 1);
    let p1 = json_of(
        app.get("/api/v1/review-queue?limit=2", &f.reviewer.token)
            .await,
    )
    .await;
    let next = p1["next_cursor"].as_str().unwrap();
    let p2 = json_of(
        app.get(
            &format!("/api/v1/review-queue?limit=2&cursor={next}"),
            &f.reviewer.token,
        )
        .await,
    )
    .await;
    assert_eq!(p2["items"][0]["village"]["code"], "FIELD-V3");
    assert!(p2["next_cursor"].is_null());
    let t1 = app.unit_id(&f.admin.token, "FIELD-T1").await;
    let by_t = json_of(
        app.get(
            &format!("/api/v1/review-queue?township={t1}&level=1"),
            &f.reviewer.token,
        )
        .await,
    )
    .await;
    assert_eq!(by_t["items"].as_array().unwrap().len(), 3);
    assert!(json_of(
        app.get("/api/v1/review-queue?level=2", &f.reviewer.token)
            .await
    )
    .await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_problem(
        app.get("/api/v1/review-queue?sort=random", &f.reviewer.token)
            .await,
        422,
    )
    .await;
}

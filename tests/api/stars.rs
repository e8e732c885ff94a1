//! Star status over HTTP: baselines from the import, decisions as the review writes them,
//! the county's policy, and scope.

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::both_backends;
use crate::cli::fieldstar;
use crate::helpers::*;

const BASELINE: &str = "village_code,level,since_quarter\nDEMO-T01-V001,1,2025-Q1\n";

/// Writes a decided declaration, its inspection and the decision row, as the review does.
async fn decide(
    app: &TestApp,
    village_code: &str,
    decided_on: &str,
    level: i32,
    kind: &str,
    decision: &str,
    consequence: Option<&str>,
) {
    let on = chrono::NaiveDate::parse_from_str(decided_on, "%Y-%m-%d").unwrap();
    past_decision(app, village_code, on, level, kind, decision, consequence).await;
}

async fn status(app: &TestApp, token: &str, village: &str, as_of: &str) -> Value {
    let res = app
        .get(
            &format!("/api/v1/villages/{village}/star-status?as_of={as_of}"),
            token,
        )
        .await;
    assert_eq!(res.status(), 200);
    json_of(res).await
}

fn events(status: &Value) -> Vec<&str> {
    status["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap())
        .collect()
}

both_backends!(
    an_imported_baseline_gives_the_village_its_star,
    the_import_refuses_bad_rows_by_line_and_writes_nothing,
    a_failed_renewal_opens_a_window_and_a_lapsed_window_bans,
    a_policy_change_applies_from_its_day_and_keeps_open_windows,
    a_policy_change_changes_no_status_and_announces_none,
    star_status_is_read_within_scope_only
);

async fn an_imported_baseline_gives_the_village_its_star(app: TestApp) {
    seed_two_counties(&app).await;
    let admin = app.login("admin").await;
    let village = app.unit_id(&admin.token, "DEMO-T01-V001").await;
    let before = status(&app, &admin.token, &village, "2026-01-15").await;
    assert_eq!(before["level"], 0);
    assert_eq!(before["since_quarter"], Value::Null);

    assert_eq!(app.import_stars(BASELINE).await, Ok((1, 0, 0)));
    assert_eq!(
        app.import_stars(BASELINE).await,
        Ok((0, 0, 1)),
        "the same row again is unchanged"
    );
    let s = status(&app, &admin.token, &village, "2026-01-15").await;
    assert_eq!(s["village_id"], village.as_str());
    assert_eq!(s["level"], 1);
    assert_eq!(s["since_quarter"], "2025-Q1");
    assert_eq!(s["rectification"], Value::Null);
    assert_eq!(s["banned_until"], Value::Null);
    assert_eq!(events(&s), ["baseline"]);
    assert_eq!(s["history"][0]["on"], "2025-01-01");

    let changed =
        "village_code,level,since_quarter\nDEMO-T01-V001,2,2025-Q2\nDEMO-T01-V002,1,2025-Q2\n";
    assert_eq!(app.import_stars(changed).await, Ok((1, 1, 0)));
    assert_eq!(
        status(&app, &admin.token, &village, "2026-01-15").await["level"],
        2
    );

    // Without as_of the answer is for today.
    let today = json_of(
        app.get(
            &format!("/api/v1/villages/{village}/star-status"),
            &admin.token,
        )
        .await,
    )
    .await;
    assert_eq!(today["level"], 2);

    let audit = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type=village&entity_id={village}"),
            &admin.token,
        )
        .await,
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["star_baseline.updated", "star_baseline.imported"]);
    assert_eq!(audit["items"][0]["actor"], "cli");
}

async fn the_import_refuses_bad_rows_by_line_and_writes_nothing(app: TestApp) {
    seed_two_counties(&app).await;
    let csv = "village_code,level,since_quarter\n\
               DEMO-T01-V001,1,2025-Q1\n\
               NOWHERE,1,2025-Q1\n\
               DEMO-T01-V002,4,2025-Q1\n\
               DEMO-T01-V003,1,2025-Q7\n\
               DEMO-T01,1,2025-Q1\n";
    let err = app.import_stars(csv).await.unwrap_err();
    assert!(
        err.contains("line 4: level") && err.contains("line 5: since_quarter"),
        "{err}"
    );
    let unknown = "village_code,level,since_quarter\nDEMO-T01-V001,1,2025-Q1\nNOWHERE,1,2025-Q1\nDEMO-T01,1,2025-Q1\n";
    let err = app.import_stars(unknown).await.unwrap_err();
    assert!(
        err.contains("line 3: village_code: no org unit has code NOWHERE"),
        "{err}"
    );
    assert!(
        err.contains("line 4: village_code: DEMO-T01 is a township"),
        "{err}"
    );
    let admin = app.login("admin").await;
    let village = app.unit_id(&admin.token, "DEMO-T01-V001").await;
    assert_eq!(
        status(&app, &admin.token, &village, "2026-01-15").await["level"],
        0,
        "nothing written"
    );

    // The command line: the same rules, a non-zero exit, then success.
    let file = app.data_dir.path().join("stars.csv");
    std::fs::write(&file, unknown).unwrap();
    let out = fieldstar(&app, &["stars", "import", file.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3: village_code"));
    std::fs::write(&file, BASELINE).unwrap();
    let out = fieldstar(&app, &["stars", "import", file.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 created, 0 updated, 0 unchanged"));
    assert_eq!(
        status(&app, &admin.token, &village, "2026-01-15").await["level"],
        1
    );
}

async fn a_failed_renewal_opens_a_window_and_a_lapsed_window_bans(app: TestApp) {
    seed_two_counties(&app).await;
    app.import_stars(BASELINE).await.unwrap();
    let admin = app.login("admin").await;
    let village = app.unit_id(&admin.token, "DEMO-T01-V001").await;
    decide(
        &app,
        "DEMO-T01-V001",
        "2026-03-10",
        1,
        "renewal",
        "reject",
        Some("downgrade"),
    )
    .await;

    let s = status(&app, &admin.token, &village, "2026-04-01").await;
    assert_eq!(s["level"], 0);
    assert_eq!(s["since_quarter"], Value::Null);
    assert_eq!(
        s["rectification"],
        json!({"from_level": 1, "deadline": "2027-03-10"})
    );
    assert_eq!(s["banned_until"], Value::Null);
    assert_eq!(events(&s), ["baseline", "downgraded"]);

    let banned = status(&app, &admin.token, &village, "2027-03-10").await;
    assert_eq!(banned["rectification"], Value::Null);
    assert_eq!(banned["banned_until"], "2030-03-10");
    assert_eq!(events(&banned), ["baseline", "downgraded", "banned"]);
    let free = status(&app, &admin.token, &village, "2030-03-10").await;
    assert_eq!(free["banned_until"], Value::Null);

    // Before the decision, the baseline stands.
    assert_eq!(
        status(&app, &admin.token, &village, "2026-03-09").await["level"],
        1
    );

    // Regaining the level inside the window closes it; returns move nothing.
    decide(
        &app,
        "DEMO-T01-V002",
        "2026-02-01",
        1,
        "upgrade",
        "approve",
        None,
    )
    .await;
    decide(
        &app,
        "DEMO-T01-V002",
        "2026-05-01",
        1,
        "renewal",
        "reject",
        Some("revoke"),
    )
    .await;
    decide(
        &app,
        "DEMO-T01-V002",
        "2026-06-01",
        1,
        "upgrade",
        "return",
        None,
    )
    .await;
    decide(
        &app,
        "DEMO-T01-V002",
        "2026-08-01",
        1,
        "upgrade",
        "approve",
        None,
    )
    .await;
    let v2 = app.unit_id(&admin.token, "DEMO-T01-V002").await;
    let regained = status(&app, &admin.token, &v2, "2028-01-01").await;
    assert_eq!(regained["level"], 1);
    assert_eq!(regained["since_quarter"], "2026-Q3");
    assert_eq!(regained["rectification"], Value::Null);
    assert_eq!(regained["banned_until"], Value::Null);
    assert_eq!(events(&regained), ["granted", "revoked", "regained"]);
}

async fn a_policy_change_applies_from_its_day_and_keeps_open_windows(app: TestApp) {
    seed_two_counties(&app).await;
    app.import_stars(BASELINE).await.unwrap();
    // A downgrade eight months ago opened a 12-month window still running today.
    let today = chrono::Utc::now().date_naive();
    let eight_months_ago = today.checked_sub_months(chrono::Months::new(8)).unwrap();
    decide(
        &app,
        "DEMO-T01-V001",
        &eight_months_ago.to_string(),
        1,
        "renewal",
        "reject",
        None,
    )
    .await;
    let admin = app.login("admin").await;
    let village = app.unit_id(&admin.token, "DEMO-T01-V001").await;
    let yesterday = (today - chrono::Duration::days(1)).to_string();
    let before = status(&app, &admin.token, &village, &yesterday).await;

    let policy = json_of(app.get("/api/v1/policy", &admin.token).await).await;
    assert_eq!(policy["max_step"], 1);
    assert_eq!(policy["rectify_months"], 12);
    assert_eq!(policy["ban_months"], 36);
    assert_eq!(policy["customized"], false);

    let reviewer = app.login("reviewer1").await;
    assert_eq!(
        json_of(app.get("/api/v1/policy", &reviewer.token).await).await["rectify_months"],
        12
    );
    assert_problem(
        app.patch("/api/v1/policy", &reviewer.token, &json!({"ban_months": 1}))
            .await,
        403,
    )
    .await;
    for (body, field) in [
        (json!({"max_step": 0}), "max_step"),
        (json!({"max_step": 4}), "max_step"),
        (json!({"rectify_months": 61}), "rectify_months"),
        (json!({"ban_months": -1}), "ban_months"),
        (json!({"ban_months": 121}), "ban_months"),
        (json!({"ban_months": "many"}), "ban_months"),
        (json!({"grace_days": 3}), "grace_days"),
    ] {
        let problem =
            assert_problem(app.patch("/api/v1/policy", &admin.token, &body).await, 422).await;
        assert!(problem.to_string().contains(field), "{body}: {problem}");
    }

    let res = app
        .patch(
            "/api/v1/policy",
            &admin.token,
            &json!({"rectify_months": 6, "ban_months": 24}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let changed = json_of(res).await;
    assert_eq!(
        (
            changed["max_step"].clone(),
            changed["rectify_months"].clone(),
            changed["ban_months"].clone()
        ),
        (json!(1), json!(6), json!(24))
    );
    assert_eq!(changed["customized"], true);

    assert_eq!(changed["history"][0]["rectify_months"], 6);
    assert_eq!(changed["history"][0]["ban_months"], 24);
    assert_eq!(changed["history"][0]["changed_by_name"], "admin");

    // The window opened before the change keeps its twelve months; the ban it lapses into
    // opens after the change, with the new 24 months. Yesterday's status is unchanged.
    let deadline = eight_months_ago
        .checked_add_months(chrono::Months::new(12))
        .unwrap();
    let s = status(&app, &admin.token, &village, &today.to_string()).await;
    assert_eq!(s["rectification"]["deadline"], deadline.to_string());
    let banned = status(
        &app,
        &admin.token,
        &village,
        &(deadline + chrono::Duration::days(1)).to_string(),
    )
    .await;
    let until = deadline
        .checked_add_months(chrono::Months::new(24))
        .unwrap();
    assert_eq!(banned["banned_until"], until.to_string());
    assert_eq!(
        status(&app, &admin.token, &village, &yesterday).await,
        before
    );

    let audit = json_of(
        app.get("/api/v1/audit?entity_type=policy", &admin.token)
            .await,
    )
    .await;
    assert_eq!(audit["items"][0]["action"], "policy.updated");
    assert!(audit["items"][0]["summary"]
        .as_str()
        .unwrap()
        .contains("rectify_months 12 → 6"));

    // Another county keeps the programme's defaults.
    let east = app.login("east-admin").await;
    assert_eq!(
        json_of(app.get("/api/v1/policy", &east.token).await).await["rectify_months"],
        12
    );
}

async fn a_policy_change_changes_no_status_and_announces_none(app: TestApp) {
    use fieldstar::db::schema::outbox_events as o;
    seed_two_counties(&app).await;
    app.import_stars(BASELINE).await.unwrap();
    let today = chrono::Utc::now().date_naive();
    let eight_months_ago = today.checked_sub_months(chrono::Months::new(8)).unwrap();
    decide(
        &app,
        "DEMO-T01-V001",
        &eight_months_ago.to_string(),
        1,
        "renewal",
        "reject",
        Some("downgrade"),
    )
    .await;
    let changes = || {
        let db = app.state.db.clone();
        async move {
            db.read(|conn| {
                Ok(o::table
                    .filter(o::event_type.eq(fieldstar::webhooks::outbox::STAR_STATUS_CHANGED))
                    .count()
                    .get_result::<i64>(conn)?)
            })
            .await
            .unwrap()
        }
    };
    let before = changes().await;
    let admin = app.login("admin").await;
    let village = app.unit_id(&admin.token, "DEMO-T01-V001").await;
    let window =
        status(&app, &admin.token, &village, &today.to_string()).await["rectification"].clone();
    // Under a 6-month policy applied backwards the window would have lapsed into a ban.
    assert_eq!(
        app.patch(
            "/api/v1/policy",
            &admin.token,
            &json!({"rectify_months": 6, "ban_months": 24})
        )
        .await
        .status(),
        200
    );
    assert_eq!(changes().await, before, "no status changed");
    let now = status(&app, &admin.token, &village, &today.to_string()).await;
    assert_eq!(now["rectification"], window);
    assert_eq!(now["banned_until"], Value::Null);
    let policy = json_of(app.get("/api/v1/policy", &admin.token).await).await;
    assert_eq!(policy["history"].as_array().unwrap().len(), 1);
}

async fn star_status_is_read_within_scope_only(app: TestApp) {
    seed_two_counties(&app).await;
    app.import_stars(BASELINE).await.unwrap();
    let admin = app.login("admin").await;
    let village = app.unit_id(&admin.token, "DEMO-T01-V001").await;
    let other = app.unit_id(&admin.token, "DEMO-T01-V002").await;
    let township = app.unit_id(&admin.token, "DEMO-T01").await;

    for user in ["reviewer1", "inspector1", "secretary1"] {
        let session = app.login(user).await;
        assert_eq!(
            status(&app, &session.token, &village, "2026-01-15").await["level"],
            1,
            "{user}"
        );
    }
    let secretary = app.login("secretary1").await;
    assert_problem(
        app.get(
            &format!("/api/v1/villages/{other}/star-status"),
            &secretary.token,
        )
        .await,
        404,
    )
    .await;
    let east = app.login("east-admin").await;
    assert_problem(
        app.get(
            &format!("/api/v1/villages/{village}/star-status"),
            &east.token,
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        app.get(
            &format!("/api/v1/villages/{township}/star-status"),
            &admin.token,
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        app.get("/api/v1/villages/nope/star-status", &admin.token)
            .await,
        404,
    )
    .await;
    for bad in ["2026-13-01", "tomorrow", "2026-1-5", "1899-01-01"] {
        let problem = assert_problem(
            app.get(
                &format!("/api/v1/villages/{village}/star-status?as_of={bad}"),
                &admin.token,
            )
            .await,
            422,
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "as_of", "{bad}");
    }
}

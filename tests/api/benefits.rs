//! The benefit catalogue (versioned, validated, audited, per county) and the eligibility report
//! (as of a day in JSON, CSV and XLSX; the change list between two days), and the benefits a
//! `star_status.changed` event carries.

use chrono::{Days, NaiveDate};
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::both_backends;
use crate::flow::*;
use crate::helpers::*;

const LEVEL_1: [&str; 4] = [
    "insurance_premiums",
    "university_grant",
    "illness_disaster_relief",
    "member_medical_5",
];

fn county_today(app: &TestApp) -> NaiveDate {
    fieldstar::clock::today(app.state.config.timezone)
}

fn codes(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

fn benefit(code: &str, min_level: u8) -> Value {
    json!({"code": code, "name": {"zh": "测试", "en": "Test"}, "min_level": min_level,
           "applies_to": "households", "amount": "100 yuan"})
}

/// The `star_status.changed` events written so far, oldest first.
async fn star_events(app: &TestApp) -> Vec<Value> {
    use fieldstar::db::schema::outbox_events as o;
    let db = app.state.db.clone();
    fieldstar::db::blocking(move || {
        let mut conn = db.get()?;
        let rows: Vec<String> = o::table
            .filter(o::event_type.eq("star_status.changed"))
            .order(o::id.asc())
            .select(o::data)
            .load(&mut *conn)?;
        Ok(rows
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect())
    })
    .await
    .unwrap()
}

async fn report(app: &TestApp, token: &str, query: &str) -> Value {
    let res = app
        .get(&format!("/api/v1/reports/benefits{query}"), token)
        .await;
    assert_eq!(res.status(), 200, "{query}");
    json_of(res).await
}

both_backends!(
    the_catalogue_is_seeded_versioned_validated_audited_and_per_county,
    the_report_lists_every_village_with_level_and_benefits_in_json_csv_and_xlsx,
    a_village_granted_a_star_is_in_the_change_list_and_its_event_names_the_benefits
);

async fn the_catalogue_is_seeded_versioned_validated_audited_and_per_county(app: TestApp) {
    seed_two_counties(&app).await;
    let admin = app.login("admin").await;
    let v1 = json_of(app.get("/api/v1/benefits", &admin.token).await).await;
    assert_eq!(v1["version"], 1, "{v1}");
    let seeded = v1["benefits"].as_array().unwrap();
    assert_eq!(seeded.len(), 8);
    assert_eq!(seeded[0]["code"], "insurance_premiums");
    assert!(seeded[0]["name"]["zh"].as_str().unwrap().contains("新农合"));
    assert!(seeded
        .iter()
        .any(|b| b["min_level"] == 3 && b["applies_to"] == "members"));

    // A save is a new version; the old one stays readable.
    let mut list: Vec<Value> = seeded.clone();
    list.push(benefit("village_road", 2));
    list.retain(|b| b["code"] != "university_grant");
    let res = app
        .put(
            "/api/v1/benefits",
            &admin.token,
            &json!({"benefits": list, "base_version": 1}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let v2 = json_of(res).await;
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["saved_by_name"], "admin");
    assert_eq!(v2["effective_on"], county_today(&app).to_string());
    assert_eq!(v2["benefits"].as_array().unwrap().len(), 8);
    assert_eq!(
        json_of(app.get("/api/v1/benefits", &admin.token).await).await,
        v2
    );
    let old = json_of(app.get("/api/v1/benefits/versions/1", &admin.token).await).await;
    assert_eq!(old, v1);
    let versions = json_of(app.get("/api/v1/benefits/versions", &admin.token).await).await;
    let numbers: Vec<i64> = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 1]);
    assert_eq!(versions["items"][0]["benefits"], 8);
    let paged = json_of(
        app.get("/api/v1/benefits/versions?limit=1", &admin.token)
            .await,
    )
    .await;
    assert_eq!(paged["items"].as_array().unwrap().len(), 1);
    let cursor = paged["next_cursor"].as_str().unwrap();
    let rest = json_of(
        app.get(
            &format!("/api/v1/benefits/versions?limit=1&cursor={cursor}"),
            &admin.token,
        )
        .await,
    )
    .await;
    assert_eq!(rest["items"][0]["version"], 1);
    assert_problem(
        app.get("/api/v1/benefits/versions/3", &admin.token).await,
        404,
    )
    .await;
    // Both versions were saved today: a past day reads the first (in force before it was
    // entered), today the newest.
    let yesterday = county_today(&app) - Days::new(1);
    let then = json_of(
        app.get(&format!("/api/v1/benefits?as_of={yesterday}"), &admin.token)
            .await,
    )
    .await;
    assert_eq!(then["version"], 1);
    assert_problem(
        app.get("/api/v1/benefits?as_of=2026-02-30", &admin.token)
            .await,
        422,
    )
    .await;

    // Another save came first: 409, nothing written.
    let stale = app
        .put(
            "/api/v1/benefits",
            &admin.token,
            &json!({"benefits": [], "base_version": 1}),
        )
        .await;
    let problem = assert_problem(stale, 409).await;
    assert_eq!(problem["code"], "catalogue_changed");
    assert_eq!(problem["current_version"], 2);

    // Every bad field is named; nothing is saved.
    let mut bad_name = benefit("ok_code", 1);
    bad_name["name"]["en"] = json!("  ");
    let body = json!({"benefits": [
        benefit("dup", 1), benefit("dup", 2), benefit("Bad Code", 1), benefit("level_six", 6),
        benefit("level_zero", 0), bad_name,
        {"code": "who", "name": {"zh": "谁", "en": "Who"}, "min_level": 1, "applies_to": "villages", "amount": ""},
        {"code": "maxed", "name": {"zh": "上限", "en": "Capped"}, "min_level": 3, "max_level": 2, "applies_to": "members", "amount": "5%"},
    ]});
    let problem = assert_problem(app.put("/api/v1/benefits", &admin.token, &body).await, 422).await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "benefits[1].code",
            "benefits[2].code",
            "benefits[3].min_level",
            "benefits[4].min_level",
            "benefits[5].name.en",
            "benefits[6].applies_to",
            "benefits[6].amount",
            "benefits[7].max_level",
        ],
        "{problem}"
    );
    let long = json!({"benefits": [{"code": "long", "name": {"zh": "长".repeat(101), "en": "x"}, "min_level": 1, "applies_to": "members", "amount": "1"}]});
    let problem = assert_problem(app.put("/api/v1/benefits", &admin.token, &long).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "benefits[0].name.zh");
    let unknown = json!({"benefits": [], "note": "x"});
    assert_problem(
        app.put("/api/v1/benefits", &admin.token, &unknown).await,
        422,
    )
    .await;
    let typed = json!({"benefits": [{"code": "a1", "name": {"zh": "a", "en": "a"}, "min_level": "two", "applies_to": "members", "amount": "1"}]});
    let problem =
        assert_problem(app.put("/api/v1/benefits", &admin.token, &typed).await, 422).await;
    assert!(
        problem["errors"][0]["field"]
            .as_str()
            .unwrap()
            .contains("min_level"),
        "{problem}"
    );
    assert_eq!(
        json_of(app.get("/api/v1/benefits", &admin.token).await).await["version"],
        2
    );

    // Audited.
    let audit = json_of(
        app.get("/api/v1/audit?entity_type=benefit_catalogue", &admin.token)
            .await,
    )
    .await;
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{audit}");
    assert_eq!(entries[0]["action"], "benefits.saved");
    let summary = entries[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("version 2")
            && summary.contains("added village_road")
            && summary.contains("removed university_grant"),
        "{summary}"
    );

    // County roles read; only admins save; village roles and other counties see nothing.
    let reviewer = app.login("reviewer1").await;
    assert_eq!(
        json_of(app.get("/api/v1/benefits", &reviewer.token).await).await["version"],
        2
    );
    assert_problem(
        app.put(
            "/api/v1/benefits",
            &reviewer.token,
            &json!({"benefits": []}),
        )
        .await,
        403,
    )
    .await;
    let secretary = app.login("secretary1").await;
    assert_problem(app.get("/api/v1/benefits", &secretary.token).await, 403).await;
    let east = app.login("east-admin").await;
    let theirs = json_of(app.get("/api/v1/benefits", &east.token).await).await;
    assert_eq!(
        (
            theirs["version"].as_i64(),
            theirs["benefits"].as_array().unwrap().len()
        ),
        (Some(0), 0)
    );
    assert_problem(
        app.get("/api/v1/benefits/versions/1", &east.token).await,
        404,
    )
    .await;
    let res = app
        .put(
            "/api/v1/benefits",
            &east.token,
            &json!({"benefits": [benefit("east_only", 1)], "base_version": 0}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        json_of(app.get("/api/v1/benefits", &admin.token).await).await["version"],
        2,
        "DEMO's untouched"
    );
}

async fn the_report_lists_every_village_with_level_and_benefits_in_json_csv_and_xlsx(app: TestApp) {
    seed_two_counties(&app).await;
    let admin = app.login("admin").await;
    let since = fieldstar::quarter::Quarter::containing(county_today(&app)).prev();
    app.import_stars(&format!(
        "village_code,level,since_quarter\nDEMO-T01-V001,1,{since}\nDEMO-T02-V003,3,{since}\n"
    ))
    .await
    .unwrap();

    let r = report(&app, &admin.token, "").await;
    assert_eq!(r["as_of"], county_today(&app).to_string());
    assert_eq!(r["org_unit"]["code"], "DEMO");
    assert_eq!(r["catalogue"]["version"], 1);
    assert_eq!(r["benefits"].as_array().unwrap().len(), 8);
    let villages = r["villages"].as_array().unwrap();
    assert_eq!(villages.len(), 376);
    assert_eq!(r["totals"]["villages"], 376);
    assert_eq!(
        r["totals"]["levels"],
        json!({"0": 374, "1": 1, "2": 0, "3": 1})
    );
    assert_eq!(r["totals"]["benefits"]["insurance_premiums"], 2);
    assert_eq!(r["totals"]["benefits"]["member_medical_5"], 1);
    let line = |code: &str| {
        villages
            .iter()
            .find(|v| v["village_code"] == code)
            .unwrap()
            .clone()
    };
    let one = line("DEMO-T01-V001");
    assert_eq!(one["level"], 1);
    assert_eq!(one["since_quarter"], since.to_string());
    assert_eq!(one["township_code"], "DEMO-T01");
    assert_eq!(codes(&one["benefits"]), LEVEL_1);
    assert!(one["banned_until"].is_null() && one["rectification"].is_null());
    let three = line("DEMO-T02-V003");
    assert_eq!(
        codes(&three["benefits"]),
        [
            "insurance_premiums",
            "university_grant",
            "illness_disaster_relief",
            "reimbursement_plus_5",
            "pension_plus_10",
            "member_medical_15"
        ]
    );
    assert!(codes(&line("DEMO-T05-V002")["benefits"]).is_empty());

    // A township's scope.
    let t01 = app.unit_id(&admin.token, "DEMO-T01").await;
    let r = report(&app, &admin.token, &format!("?org_unit={t01}")).await;
    assert_eq!(r["villages"].as_array().unwrap().len(), 20);
    assert!(r["villages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["township_code"] == "DEMO-T01"));

    // CSV: the same lines, parsed.
    let res = app
        .get("/api/v1/reports/benefits?format=csv", &admin.token)
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".csv"));
    let text = csv_text(res).await;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "township_code",
            "township_name",
            "village_code",
            "village_name",
            "level",
            "since_quarter",
            "since",
            "banned",
            "banned_until",
            "in_rectification",
            "rectification_deadline",
            "benefits",
            "benefit_names"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 376);
    let row = rows.iter().find(|r| &r[2] == "DEMO-T01-V001").unwrap();
    assert_eq!(&row[4], "1");
    assert_eq!(&row[11], LEVEL_1.join(";"));
    assert!(row[12].contains("新农合"), "{row:?}");
    assert_eq!((&row[7], &row[9]), ("0", "0"));

    // XLSX: a zip holding the worksheet.
    let res = app
        .get("/api/v1/reports/benefits?format=xlsx", &admin.token)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".xlsx"));
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..4], b"PK\x03\x04");
    let raw = String::from_utf8_lossy(&bytes);
    assert!(raw.contains("xl/worksheets/sheet1.xml") && raw.contains("[Content_Types].xml"));
    assert!(
        bytes.len() > 5_000,
        "{} bytes for 376 villages",
        bytes.len()
    );

    // Bad input names the field; scope as the other reports.
    for (query, field) in [
        ("?as_of=2026-02-30", "as_of"),
        ("?as_of=yesterday", "as_of"),
        ("?from=2026-11-30&to=2026-11-01", "from"),
        ("?from=2026-11-01", "to"),
        ("?as_of=2026-11-01&from=2026-11-01&to=2026-11-02", "as_of"),
        ("?format=pdf", "format"),
    ] {
        let problem = assert_problem(
            app.get(&format!("/api/v1/reports/benefits{query}"), &admin.token)
                .await,
            422,
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    let east = app.login("east-admin").await;
    let theirs = report(&app, &east.token, "").await;
    assert_eq!(theirs["villages"].as_array().unwrap().len(), 2);
    assert!(!theirs.to_string().contains("DEMO-"), "{theirs}");
    assert_eq!(theirs["catalogue"]["version"], 0);
    let demo = app.unit_id(&admin.token, "DEMO").await;
    assert_problem(
        app.get(
            &format!("/api/v1/reports/benefits?org_unit={demo}"),
            &east.token,
        )
        .await,
        404,
    )
    .await;
    let secretary = app.login("secretary1").await;
    assert_problem(
        app.get("/api/v1/reports/benefits", &secretary.token).await,
        403,
    )
    .await;
    assert_eq!(
        app.get(
            "/api/v1/reports/benefits",
            &app.login("inspector1").await.token
        )
        .await
        .status(),
        200
    );
}

async fn a_village_granted_a_star_is_in_the_change_list_and_its_event_names_the_benefits(
    app: TestApp,
) {
    let f = field_county(&app).await;
    let catalogue = json!({"benefits": [benefit("premiums", 1), benefit("reimbursement", 2), benefit("pension", 3)], "base_version": 0});
    assert_eq!(
        app.put("/api/v1/benefits", &f.admin.token, &catalogue)
            .await
            .status(),
        200
    );
    let today = county_today(&app);

    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s = submission(&app, &f.inspector.token, &d, VILLAGE, 141).await;
    submit(&app, &f.inspector.token, &s).await;
    let res = approve_jointly(
        &app,
        &f,
        &s.id,
        json!({"decision": "approve", "comment": "fine"}),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    // The event of the review path carries what the village gained.
    let events = star_events(&app).await;
    let granted = events
        .iter()
        .rev()
        .find(|e| e["village_code"] == "FIELD-V1")
        .expect("an event");
    assert_eq!(
        (granted["from_level"].as_u64(), granted["level"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(codes(&granted["benefits_gained"]), ["premiums"]);
    assert!(codes(&granted["benefits_lost"]).is_empty());

    // A village granted earlier (past decision) and one granted today, in the change list.
    past_decision(
        &app,
        "FIELD-V2",
        today - Days::new(10),
        1,
        "upgrade",
        "approve",
        None,
    )
    .await;
    let line = |r: &Value, code: &str| {
        r["villages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["village_code"] == code)
            .unwrap()
            .clone()
    };
    let r = report(
        &app,
        &f.admin.token,
        &format!("?as_of={}", today - Days::new(11)),
    )
    .await;
    assert_eq!(
        line(&r, "FIELD-V2")["level"],
        0,
        "the level on that day, not today's"
    );
    assert!(codes(&line(&r, "FIELD-V2")["benefits"]).is_empty());
    let r = report(
        &app,
        &f.admin.token,
        &format!("?as_of={}", today - Days::new(5)),
    )
    .await;
    let v2 = line(&r, "FIELD-V2");
    assert_eq!(
        (v2["level"].as_u64(), codes(&v2["benefits"])),
        (Some(1), vec!["premiums".to_string()])
    );
    assert_eq!(v2["since"], (today - Days::new(10)).to_string());
    let yesterday = today - Days::new(1);
    let r = report(
        &app,
        &f.admin.token,
        &format!("?from={yesterday}&to={today}"),
    )
    .await;
    assert_eq!(
        (r["from"].as_str(), r["to"].as_str()),
        (
            Some(yesterday.to_string().as_str()),
            Some(today.to_string().as_str())
        )
    );
    assert_eq!(r["catalogue_to"]["version"], 1);
    let changes = r["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{r}");
    assert_eq!(changes[0]["village_code"], "FIELD-V1");
    assert_eq!(
        (
            changes[0]["level_from"].as_u64(),
            changes[0]["level_to"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(codes(&changes[0]["gained"]), ["premiums"]);
    assert!(codes(&changes[0]["lost"]).is_empty());
    let month = today - Days::new(30);
    let r = report(&app, &f.admin.token, &format!("?from={month}&to={today}")).await;
    let names: Vec<&str> = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["village_code"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["FIELD-V1", "FIELD-V2"]);
    let r = report(&app, &f.admin.token, &format!("?from={today}&to={today}")).await;
    assert!(r["changes"].as_array().unwrap().is_empty());

    let res = app
        .get(
            &format!("/api/v1/reports/benefits?from={month}&to={today}&format=csv"),
            &f.admin.token,
        )
        .await;
    let text = csv_text(res).await;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "township_code",
            "township_name",
            "village_code",
            "village_name",
            "level_from",
            "level_to",
            "gained",
            "lost"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(
        (&rows[1][2], &rows[1][5], &rows[1][6]),
        ("FIELD-V2", "1", "premiums")
    );
    let res = app
        .get(
            &format!("/api/v1/reports/benefits?from={month}&to={today}&format=xlsx"),
            &f.admin.token,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(&res.bytes().await.unwrap()[..2], b"PK");

    // A level imported up and then down: the events carry gains, then losses.
    app.import_stars("village_code,level,since_quarter\nFIELD-V3,3,2025-Q1\n")
        .await
        .unwrap();
    let up = star_events(&app)
        .await
        .into_iter()
        .rev()
        .find(|e| e["village_code"] == "FIELD-V3")
        .unwrap();
    assert_eq!(
        codes(&up["benefits_gained"]),
        ["premiums", "reimbursement", "pension"]
    );
    app.import_stars("village_code,level,since_quarter\nFIELD-V3,1,2025-Q1\n")
        .await
        .unwrap();
    let down = star_events(&app)
        .await
        .into_iter()
        .rev()
        .find(|e| e["village_code"] == "FIELD-V3")
        .unwrap();
    assert_eq!(down["level"], 1);
    assert!(codes(&down["benefits_gained"]).is_empty());
    assert_eq!(codes(&down["benefits_lost"]), ["reimbursement", "pension"]);

    // A catalogue change alone moves benefits in the change list (saved today, so it shows
    // between yesterday and today for every starred village).
    let more = json!({"benefits": [benefit("premiums", 1), benefit("reimbursement", 2), benefit("pension", 3), benefit("road", 1)], "base_version": 1});
    assert_eq!(
        app.put("/api/v1/benefits", &f.admin.token, &more)
            .await
            .status(),
        200
    );
    let r = report(
        &app,
        &f.admin.token,
        &format!("?from={yesterday}&to={today}"),
    )
    .await;
    let v2 = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["village_code"] == "FIELD-V2")
        .unwrap();
    assert_eq!(
        (codes(&v2["gained"]), v2["level_from"].as_u64()),
        (vec!["road".to_string()], Some(1))
    );
}

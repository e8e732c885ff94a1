//! The reviewer's desk (issue 18): `?decided_by=me`, bulk approval of clean renewals, the
//! printable record and the inspections export with photos.

use std::io::Read;

use chrono::Utc;
use serde_json::{json, Value};

use crate::flow::*;
use crate::helpers::*;
use crate::{all_stores, both_backends};

async fn submitted(
    app: &TestApp,
    f: &Field,
    village: &str,
    secretary: &str,
    seed: u64,
) -> Submission {
    let sec = app.login(secretary).await;
    let d = declare(app, &sec.token, village, 1).await;
    let s = submission(app, &f.inspector.token, &d, VILLAGE, seed).await;
    let done = submit(app, &f.inspector.token, &s).await;
    assert_eq!(done["status"], "submitted", "{done}");
    s
}

fn today() -> chrono::NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

fn quarter() -> String {
    fieldstar::quarter::Quarter::containing(today()).to_string()
}

/// FIELD-V1 and FIELD-V2 hold one star since last year; the quarter's renewals are created.
async fn renewals(app: &TestApp) {
    let db = app.state.db.clone();
    fieldstar::db::blocking(move || {
        use diesel::prelude::*;
        use fieldstar::db::schema::star_baselines as b;
        let mut conn = db.get()?;
        let last_year = format!("{}-Q1", chrono::Datelike::year(&today()) - 1);
        for code in ["FIELD-V1", "FIELD-V2"] {
            let v = fieldstar::org::OrgUnit::find_by_code(&mut conn, code)?.unwrap();
            diesel::insert_into(b::table)
                .values((
                    b::village_id.eq(&v.id),
                    b::county_id.eq(&v.county_id),
                    b::level.eq(1),
                    b::since_quarter.eq(&last_year),
                    b::created_at.eq(fieldstar::clock::now()),
                ))
                .execute(&mut *conn)?;
        }
        let q = fieldstar::quarter::Quarter::containing(today());
        fieldstar::declarations::renewals::ensure(&mut conn, q, today())?;
        Ok(())
    })
    .await
    .unwrap();
}

async fn renewal_of(app: &TestApp, f: &Field, village: &str) -> Value {
    let id = app.unit_id(&f.admin.token, village).await;
    let decls = json_of(
        app.get(
            &format!("/api/v1/declarations?village={id}"),
            &f.admin.token,
        )
        .await,
    )
    .await;
    decls["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "renewal")
        .cloned()
        .expect("a renewal")
}

async fn secretaries(app: &TestApp) {
    app.create_user("field-secretary2", "secretary", "FIELD-V2")
        .await;
    app.create_user("field-secretary3", "secretary", "FIELD-V3")
        .await;
}

fn ids_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

both_backends!(
    decided_by_me_lists_what_the_caller_decided_approved_or_returned,
    bulk_approval_takes_clean_renewals_one_by_one_and_refuses_the_rest_per_id,
    the_record_prints_the_inspection_with_labels_hash_photos_and_escaped_text,
);

all_stores!(the_export_streams_a_zip_with_the_csv_the_xlsx_and_the_photos);

async fn decided_by_me_lists_what_the_caller_decided_approved_or_returned(app: TestApp) {
    let f = field_county(&app).await;
    secretaries(&app).await;
    let one = submitted(&app, &f, "FIELD-V1", "field-secretary", 71).await;
    let two = submitted(&app, &f, "FIELD-V2", "field-secretary2", 72).await;
    let three = submitted(&app, &f, "FIELD-V3", "field-secretary3", 73).await;
    // Her body's approval (one of two), her return, and the other body's approval.
    assert_eq!(
        decide_claimed(
            &app,
            &f.reviewer.token,
            &one.id,
            json!({"decision": "approve"})
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        decide_claimed(
            &app,
            &f.reviewer.token,
            &two.id,
            json!({"decision": "return", "comment": "photograph the ledger"})
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        decide_claimed(
            &app,
            &f.associate.token,
            &three.id,
            json!({"decision": "approve"})
        )
        .await
        .status(),
        201
    );

    let mine = json_of(
        app.get("/api/v1/inspections?decided_by=me", &f.reviewer.token)
            .await,
    )
    .await;
    let mut ids = ids_of(&mine);
    ids.sort();
    let mut want = vec![one.id.clone(), two.id.clone()];
    want.sort();
    assert_eq!(ids, want, "{mine}");
    for item in mine["items"].as_array().unwrap() {
        let d = &item["my_decision"];
        if item["id"] == one.id.as_str() {
            assert_eq!(
                (
                    item["status"].as_str(),
                    d["decision"].as_str(),
                    d["approval_only"].as_bool()
                ),
                (
                    Some("awaiting_second_approval"),
                    Some("approve"),
                    Some(true)
                ),
                "{item}"
            );
            assert_eq!(d["village_code"], "FIELD-V1");
        } else {
            assert_eq!(
                (
                    item["status"].as_str(),
                    d["decision"].as_str(),
                    d["approval_only"].as_bool()
                ),
                (Some("returned"), Some("return"), Some(false)),
                "{item}"
            );
            assert_eq!(d["comment"], "photograph the ledger");
        }
    }
    // The second approval decides: it is in the associate's list as a decision.
    assert_eq!(
        decide_claimed(
            &app,
            &f.associate.token,
            &one.id,
            json!({"decision": "approve"})
        )
        .await
        .status(),
        201
    );
    let theirs = json_of(
        app.get("/api/v1/inspections?decided_by=me", &f.associate.token)
            .await,
    )
    .await;
    assert_eq!(ids_of(&theirs).len(), 2, "{theirs}");
    // Paged like the list.
    let first = json_of(
        app.get(
            "/api/v1/inspections?decided_by=me&limit=1",
            &f.reviewer.token,
        )
        .await,
    )
    .await;
    assert_eq!(ids_of(&first).len(), 1);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let next = json_of(
        app.get(
            &format!("/api/v1/inspections?decided_by=me&limit=1&cursor={cursor}"),
            &f.reviewer.token,
        )
        .await,
    )
    .await;
    assert_eq!(ids_of(&next).len(), 1);
    assert_ne!(ids_of(&next), ids_of(&first));
    // Only `me`.
    let problem = assert_problem(
        app.get(
            "/api/v1/inspections?decided_by=field-reviewer",
            &f.reviewer.token,
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "decided_by", "{problem}");
    // Nobody else decided anything: empty lists.
    for token in [&f.inspector.token, &f.secretary.token, &f.admin.token] {
        let page = json_of(app.get("/api/v1/inspections?decided_by=me", token).await).await;
        assert!(ids_of(&page).is_empty(), "{page}");
    }
}

async fn bulk_approval_takes_clean_renewals_one_by_one_and_refuses_the_rest_per_id(app: TestApp) {
    let f = field_county(&app).await;
    secretaries(&app).await;
    renewals(&app).await;
    let r1 = renewal_of(&app, &f, "FIELD-V1").await;
    let s1 = submission(&app, &f.inspector.token, &r1, VILLAGE, 81).await;
    assert_eq!(
        submit(&app, &f.inspector.token, &s1).await["flags"],
        json!([])
    );
    let r2 = renewal_of(&app, &f, "FIELD-V2").await;
    // FIELD-V2 lies 10 km north: a submission standing at FIELD-V1 is flagged.
    let s2 = submission(&app, &f.inspector.token, &r2, VILLAGE, 82).await;
    let flagged = submit(&app, &f.inspector.token, &s2).await;
    assert!(!flag_codes(&flagged).is_empty(), "{flagged}");
    let upgrade = submitted(&app, &f, "FIELD-V3", "field-secretary3", 83).await;

    let body = json!({"inspection_ids": [s1.id, s2.id, upgrade.id, "no-such-inspection"], "comment": "quarterly renewals"});
    let res = app
        .post("/api/v1/review/bulk-approve", &f.reviewer.token, &body)
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(
        (
            results[0]["outcome"].as_str(),
            results[0]["decision"]["inspection_status"].as_str()
        ),
        (
            Some("awaiting_other_body"),
            Some("awaiting_second_approval")
        ),
        "{v}"
    );
    for (r, code, status) in [
        (&results[1], "bulk.not_eligible", 422),
        (&results[2], "bulk.not_eligible", 422),
        (&results[3], "not_found", 404),
    ] {
        assert_eq!(
            (
                r["outcome"].as_str(),
                r["code"].as_str(),
                r["status"].as_u64()
            ),
            (Some("refused"), Some(code), Some(status)),
            "{r}"
        );
    }
    assert_eq!(
        (
            v["approved"].as_u64(),
            v["awaiting_other_body"].as_u64(),
            v["refused"].as_u64()
        ),
        (Some(0), Some(1), Some(3))
    );
    // Nothing was written for the refused ones: still submitted and unclaimed.
    for id in [&s2.id, &upgrade.id] {
        let ins = json_of(
            app.get(&format!("/api/v1/inspections/{id}"), &f.admin.token)
                .await,
        )
        .await;
        assert_eq!(ins["status"], "submitted");
        assert_eq!(ins["approvals"], json!([]));
    }
    let queue = json_of(app.get("/api/v1/review-queue", &f.admin.token).await).await;
    assert!(
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["id"] != s1.id.as_str())
            .all(|e| e["claimed_by"].is_null()),
        "{queue}"
    );
    // Her body approved already: refused for her again, taken by the association.
    let again = json_of(
        app.post(
            "/api/v1/review/bulk-approve",
            &f.reviewer.token,
            &json!({"inspection_ids": [s1.id]}),
        )
        .await,
    )
    .await;
    assert_eq!(again["results"][0]["outcome"], "refused", "{again}");
    let done = json_of(
        app.post(
            "/api/v1/review/bulk-approve",
            &f.associate.token,
            &json!({"inspection_ids": [s1.id], "comment": "agreed"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (
            done["results"][0]["outcome"].as_str(),
            done["approved"].as_u64()
        ),
        (Some("approved"), Some(1)),
        "{done}"
    );
    assert_eq!(
        done["results"][0]["decision"]["inspection_status"],
        "approved"
    );
    // Audited one by one, as single decisions are.
    let audit = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type=inspection&entity_id={}", s1.id),
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
    for want in [
        ("inspection.claimed", "field-reviewer"),
        ("inspection.approval_given", "field-reviewer"),
        ("inspection.claimed", "field-assoc"),
        ("inspection.approved", "field-assoc"),
    ] {
        assert!(
            by.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {by:?}"
        );
    }
    let audit = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type=inspection&entity_id={}", s2.id),
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
            .all(|a| a["action"] == "inspection.submitted"
                || a["action"].as_str().unwrap().starts_with("photo")
                || a["action"] == "inspection.created"),
        "{audit}"
    );

    // The list's bounds, each naming the field.
    let many: Vec<String> = (0..101).map(|i| format!("id-{i}")).collect();
    for body in [
        json!({"inspection_ids": []}),
        json!({"inspection_ids": many}),
        json!({"inspection_ids": ["a", "a"]}),
        json!({"inspection_ids": ["a"], "comment": "x".repeat(2001)}),
        json!({"ids": ["a"]}),
    ] {
        let p = assert_problem(
            app.post("/api/v1/review/bulk-approve", &f.reviewer.token, &body)
                .await,
            422,
        )
        .await;
        if body.get("ids").is_none() {
            assert!(
                p["errors"][0]["field"]
                    .as_str()
                    .unwrap()
                    .starts_with("inspection_ids")
                    || p["errors"][0]["field"] == "comment",
                "{p}"
            );
        }
    }
    // Only reviewers.
    for token in [&f.admin.token, &f.inspector.token, &f.secretary.token] {
        assert_problem(
            app.post(
                "/api/v1/review/bulk-approve",
                token,
                &json!({"inspection_ids": ["a"]}),
            )
            .await,
            403,
        )
        .await;
    }
}

async fn the_record_prints_the_inspection_with_labels_hash_photos_and_escaped_text(app: TestApp) {
    let f = field_county(&app).await;
    let s = submitted(&app, &f, "FIELD-V1", "field-secretary", 91).await;
    let hostile = "<script>alert('x')</script> & \"quotes\"";
    assert_eq!(
        decide_claimed(
            &app,
            &f.reviewer.token,
            &s.id,
            json!({"decision": "return", "comment": hostile})
        )
        .await
        .status(),
        201
    );
    let path = format!("/api/v1/inspections/{}/record", s.id);
    let res = app.get(&path, &f.reviewer.token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("img-src data:") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("Field Village One"));
    assert!(html.contains("field-inspector"));
    let t = template(&app, &f.admin.token, "star-1", 1).await;
    let first_label = t["sections"][0]["items"][0]["label"]["zh"]
        .as_str()
        .unwrap();
    assert!(html.contains(first_label), "{first_label}");
    let db = app.state.db.clone();
    let id = s.id.clone();
    let hash = fieldstar::db::blocking(move || {
        let mut conn = db.get()?;
        Ok(
            fieldstar::inspection::model::Inspection::find(&mut conn, &id)?
                .unwrap()
                .body_hash,
        )
    })
    .await
    .unwrap();
    assert!(html.contains(&hash), "the body's SHA-256");
    assert!(!html.contains("<script>"), "escaped");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;")
    );
    assert!(
        html.contains("data:image/jpeg;base64,"),
        "thumbnails inline"
    );
    assert!(
        html.contains("<svg")
            && html.contains("class=\"geofence\"")
            && html.contains("class=\"phone\"")
            && html.contains("class=\"photo-point\"")
    );
    assert!(html.contains("href=\"/app/record.css\""));
    assert_eq!(
        app.get("/app/record.css", &f.reviewer.token).await.status(),
        200
    );
    // County staff and the inspector who submitted it; nobody else.
    assert_eq!(app.get(&path, &f.admin.token).await.status(), 200);
    assert_eq!(app.get(&path, &f.inspector.token).await.status(), 200);
    app.create_user("field-inspector2", "inspector", "FIELD")
        .await;
    let other = app.login("field-inspector2").await;
    assert_problem(app.get(&path, &other.token).await, 404).await;
    assert_problem(app.get(&path, &f.secretary.token).await, 403).await;
    assert_problem(
        app.get("/api/v1/inspections/no-such/record", &f.reviewer.token)
            .await,
        404,
    )
    .await;
}

async fn the_export_streams_a_zip_with_the_csv_the_xlsx_and_the_photos(app: TestApp) {
    let f = field_county(&app).await;
    let s = submitted(&app, &f, "FIELD-V1", "field-secretary", 95).await;
    let q = quarter();
    let res = app
        .get(
            &format!("/api/v1/reports/inspections?quarter={q}&format=zip"),
            &f.admin.token,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(&format!("inspections-FIELD-{q}.zip")));
    let bytes = res.bytes().await.unwrap();
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a readable zip");
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    assert!(
        names.contains(&format!("inspections-FIELD-{q}.csv")),
        "{names:?}"
    );
    assert!(
        names.contains(&format!("inspections-FIELD-{q}.xlsx")),
        "{names:?}"
    );
    let photos: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("photos/FIELD-V1/") && n.ends_with("-1.jpg"))
        .collect();
    assert!(!photos.is_empty(), "{names:?}");
    assert_eq!(
        names.iter().filter(|n| n.starts_with("photos/")).count(),
        s.photos.len(),
        "{names:?}"
    );
    let mut csv = String::new();
    zip.by_name(&format!("inspections-FIELD-{q}.csv"))
        .unwrap()
        .read_to_string(&mut csv)
        .unwrap();
    // A UTF-8 byte-order mark first, for Excel and WPS on a Chinese Windows.
    assert!(
        csv.starts_with("\u{FEFF}inspection_id,village_code"),
        "{csv}"
    );
    assert!(csv.contains(&s.id) && csv.contains("FIELD-V1"), "{csv}");
    let mut jpeg = Vec::new();
    zip.by_name(photos[0])
        .unwrap()
        .read_to_end(&mut jpeg)
        .unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut xlsx = Vec::new();
    zip.by_name(&format!("inspections-FIELD-{q}.xlsx"))
        .unwrap()
        .read_to_end(&mut xlsx)
        .unwrap();
    assert_eq!(&xlsx[..2], b"PK");

    let res = app
        .get(
            &format!("/api/v1/reports/inspections?quarter={q}&format=csv"),
            &f.reviewer.token,
        )
        .await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let text = res.text().await.unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    let res = app
        .get(
            &format!("/api/v1/reports/inspections?quarter={q}&format=xlsx"),
            &f.reviewer.token,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(&res.bytes().await.unwrap()[..2], b"PK");
    let j = json_of(
        app.get(
            &format!("/api/v1/reports/inspections?quarter={q}"),
            &f.reviewer.token,
        )
        .await,
    )
    .await;
    assert_eq!(j["inspections"][0]["inspection_id"], s.id.as_str(), "{j}");
    // Her own for an inspector; nothing for another.
    let mine = json_of(
        app.get(
            &format!("/api/v1/reports/inspections?quarter={q}"),
            &f.inspector.token,
        )
        .await,
    )
    .await;
    assert_eq!(mine["inspections"].as_array().unwrap().len(), 1);
    app.create_user("field-inspector2", "inspector", "FIELD")
        .await;
    let other = app.login("field-inspector2").await;
    let none = json_of(
        app.get(
            &format!("/api/v1/reports/inspections?quarter={q}"),
            &other.token,
        )
        .await,
    )
    .await;
    assert_eq!(none["inspections"], json!([]));
    // Bad input names the field; villagers are kept out.
    let p = assert_problem(
        app.get("/api/v1/reports/inspections?format=pdf", &f.admin.token)
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "format");
    let p = assert_problem(
        app.get(
            "/api/v1/reports/inspections?quarter=2026-Q5",
            &f.admin.token,
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "quarter");
    assert_problem(
        app.get("/api/v1/reports/inspections?org_unit=nope", &f.admin.token)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.get("/api/v1/reports/inspections?format=zip", &f.secretary.token)
            .await,
        403,
    )
    .await;
}

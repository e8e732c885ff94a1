use serde_json::{json, Value};

use crate::both_backends;
use crate::flow::*;
use crate::helpers::*;

both_backends!(
    star_and_review_reports_answer_json_and_csv_for_the_county,
    every_report_is_a_csv_with_a_bom_and_an_xlsx_with_chinese_headers_when_asked,
    exported_names_that_look_like_formulas_are_inert
);

async fn star_and_review_reports_answer_json_and_csv_for_the_county(app: TestApp) {
    seed_two_counties(&app).await;
    let f = field_county(&app).await;
    app.create_user("field-secretary2", "secretary", "FIELD-V2")
        .await;
    let d1 = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s1 = submission(&app, &f.inspector.token, &d1, VILLAGE, 61).await;
    submit(&app, &f.inspector.token, &s1).await;
    let sec2 = app.login("field-secretary2").await;
    let d2 = declare(&app, &sec2.token, "FIELD-V2", 1).await;
    let s2 = submission(&app, &f.inspector.token, &d2, VILLAGE, 62).await;
    submit(&app, &f.inspector.token, &s2).await;
    let approve = approve_jointly(&app, &f, &s1.id, json!({"decision": "approve"})).await;
    assert_eq!(approve.status(), 201);
    let reject = decide_claimed(
        &app,
        &f.reviewer.token,
        &s2.id,
        json!({"decision": "reject", "comment": "wrong place"}),
    )
    .await;
    assert_eq!(reject.status(), 201);

    let stars = json_of(app.get("/api/v1/reports/stars", &f.admin.token).await).await;
    assert_eq!(stars["org_unit"]["code"], "FIELD");
    assert_eq!(stars["totals"]["villages"], 3);
    assert_eq!(
        stars["totals"]["levels"],
        json!({"0": 2, "1": 1, "2": 0, "3": 0})
    );
    assert_eq!(
        (
            stars["totals"]["up"].as_u64(),
            stars["totals"]["down"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(stars["townships"][0]["code"], "FIELD-T1");
    let res = app
        .get("/api/v1/reports/stars?format=csv", &f.reviewer.token)
        .await;
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv_text(res).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "township_code,township_name,village_code,village_name,level,previous_level,change,renewal_unverified");
    assert_eq!(lines.len(), 4);
    assert!(
        lines[1].starts_with("FIELD-T1,Field Township,FIELD-V1,Field Village One,1,0,1"),
        "{csv}"
    );

    let reviews: Value = json_of(app.get("/api/v1/reports/reviews", &f.reviewer.token).await).await;
    assert_eq!(
        (reviews["submitted"].as_u64(), reviews["decided"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        (reviews["approved"].as_u64(), reviews["rejected"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(reviews["approval_rate"], 0.5);
    assert!(reviews["turnaround_hours"]["median"].as_f64().unwrap() >= 0.0);
    assert!(reviews["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "location.outside_geofence"));
    let csv = csv_text(
        app.get("/api/v1/reports/reviews?format=csv", &f.admin.token)
            .await,
    )
    .await;
    assert!(csv.starts_with("inspection_id,revision,township_code,village_code,decision"));
    assert_eq!(csv.lines().count(), 3);

    // Scoped: another county's admin cannot name FIELD; villages' roles get no county report.
    let east = app.login("east-admin").await;
    let field_id = app.unit_id(&f.admin.token, "FIELD").await;
    assert_problem(
        app.get(
            &format!("/api/v1/reports/stars?org_unit={field_id}"),
            &east.token,
        )
        .await,
        404,
    )
    .await;
    assert_problem(
        app.get("/api/v1/reports/reviews", &f.secretary.token).await,
        403,
    )
    .await;
    assert_problem(
        app.get("/api/v1/reports/stars?quarter=2026-Q9", &f.admin.token)
            .await,
        422,
    )
    .await;
    assert_problem(
        app.get("/api/v1/reports/stars?format=xml", &f.admin.token)
            .await,
        422,
    )
    .await;
}
async fn every_report_is_a_csv_with_a_bom_and_an_xlsx_with_chinese_headers_when_asked(
    app: TestApp,
) {
    let f = field_county(&app).await;
    let token = &f.admin.token;
    for report in ["stars", "reviews", "unverified", "mentoring", "benefits"] {
        let res = app
            .get(&format!("/api/v1/reports/{report}?format=csv"), token)
            .await;
        assert_eq!(res.status(), 200, "{report}");
        let bytes = res.bytes().await.unwrap();
        assert_eq!(
            &bytes[..3],
            b"\xEF\xBB\xBF",
            "{report}: a UTF-8 byte-order mark first"
        );
        let english = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert!(
            english.starts_with(|c: char| c.is_ascii_lowercase()),
            "{report}: {english}"
        );
        // Chinese when asked: ?lang=zh, or Accept-Language preferring zh.
        let zh = app
            .get(
                &format!("/api/v1/reports/{report}?format=csv&lang=zh"),
                token,
            )
            .await
            .bytes()
            .await
            .unwrap();
        let zh = String::from_utf8(zh[3..].to_vec()).unwrap();
        let header = zh.lines().next().unwrap().to_string();
        assert!(
            header.contains("村代码") || header.contains("验收编号"),
            "{report}: {header}"
        );
        assert_eq!(
            zh.lines().skip(1).collect::<Vec<_>>(),
            english.lines().skip(1).collect::<Vec<_>>(),
            "{report}: only the header changes"
        );
        let res = app
            .request(
                reqwest::Method::GET,
                &format!("/api/v1/reports/{report}?format=csv"),
                Some(token),
            )
            .header("accept-language", "en;q=0.5, zh-CN")
            .send()
            .await
            .unwrap();
        let by_header = res.bytes().await.unwrap();
        assert_eq!(
            String::from_utf8(by_header[3..].to_vec())
                .unwrap()
                .lines()
                .next()
                .unwrap(),
            header,
            "{report}"
        );
        let res = app
            .get(
                &format!("/api/v1/reports/{report}?format=xlsx&lang=zh"),
                token,
            )
            .await;
        assert_eq!(res.status(), 200, "{report}");
        assert_eq!(
            res.headers()["content-type"],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert!(res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".xlsx"));
        assert_eq!(&res.bytes().await.unwrap()[..2], b"PK", "{report}");
    }
    let body = assert_problem(
        app.get("/api/v1/reports/stars?format=csv&lang=fr", token)
            .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "lang");
}

async fn exported_names_that_look_like_formulas_are_inert(app: TestApp) {
    let f = field_county(&app).await;
    let tz = app.state.config.timezone;
    let quarter = fieldstar::quarter::Quarter::containing(fieldstar::clock::today(tz));
    let (v1, t1) = (
        app.unit_id(&f.admin.token, "FIELD-V1").await,
        app.unit_id(&f.admin.token, "FIELD-T1").await,
    );
    for (id, name) in [(&v1, r#"=HYPERLINK("http://x")"#), (&t1, "@SUM(1+1)")] {
        let res = app
            .patch(
                &format!("/api/v1/org-units/{id}"),
                &f.admin.token,
                &json!({"name": name}),
            )
            .await;
        assert_eq!(res.status(), 200, "{name}");
    }
    // FIELD-V2 loses a star this quarter: its change is a negative number, which stays one.
    let since = quarter.prev().prev().prev();
    app.import_stars(&format!(
        "village_code,level,since_quarter\nFIELD-V2,2,{since}\n"
    ))
    .await
    .unwrap();
    past_decision(
        &app,
        "FIELD-V2",
        quarter.first_day(),
        2,
        "renewal",
        "reject",
        Some("downgrade"),
    )
    .await;

    let res = app
        .get("/api/v1/reports/stars?format=csv", &f.admin.token)
        .await;
    assert_eq!(res.status(), 200);
    let text = csv_text(res).await;
    assert!(text.contains(r#"'=HYPERLINK(""http://x"")"#), "{text}");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let row = |code: &str| {
        rows.iter()
            .find(|r| &r[2] == code)
            .unwrap_or_else(|| panic!("{code}: {text}"))
            .clone()
    };
    let v1_row = row("FIELD-V1");
    assert_eq!(&v1_row[3], r#"'=HYPERLINK("http://x")"#, "{text}");
    assert_eq!(&v1_row[1], "'@SUM(1+1)", "{text}");
    let v2_row = row("FIELD-V2");
    assert_eq!(
        (&v2_row[4], &v2_row[5], &v2_row[6]),
        ("1", "2", "-1"),
        "{text}"
    );
    for r in &rows {
        for cell in r.iter() {
            let starts = cell.chars().next();
            assert!(
                !matches!(starts, Some('=' | '+' | '@' | '\t' | '\r'))
                    && (!cell.starts_with('-') || cell.parse::<i64>().is_ok()),
                "a cell a spreadsheet would run: {cell:?} in {text}"
            );
        }
    }

    // The mentoring report names the same villages through the same encoder.
    let res = app
        .get("/api/v1/reports/mentoring?format=csv", &f.admin.token)
        .await;
    assert_eq!(res.status(), 200);
    let text = csv_text(res).await;
    assert!(text.contains(r#"'=HYPERLINK(""http://x"")"#), "{text}");
    assert!(text.contains(",'@SUM(1+1),"), "{text}");
    assert!(!text.contains(",=") && !text.contains(",@"), "{text}");
}

//! The server's words in the reader's language (issue 17): problems in Chinese when the
//! request's `Accept-Language` prefers zh, in English otherwise, each field error with its rule.

use serde_json::{json, Value};

use crate::both_backends;
use crate::flow::*;
use crate::helpers::*;

both_backends!(
    three_refusals_answer_in_chinese_when_asked_and_in_english_otherwise,
    flags_carry_a_message_in_the_readers_language,
    the_org_import_refuses_lines_in_chinese_when_asked,
    field_errors_of_every_kind_of_request_name_a_rule_and_read_in_chinese
);

fn has_han(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

fn has_latin_word(s: &str) -> bool {
    s.split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| w.len() >= 3)
}

async fn post_in(
    app: &TestApp,
    lang: Option<&str>,
    path: &str,
    token: &str,
    body: &Value,
) -> Value {
    let mut req = app
        .request(reqwest::Method::POST, path, Some(token))
        .json(body);
    if let Some(lang) = lang {
        req = req.header("Accept-Language", lang);
    }
    let res = req.send().await.unwrap();
    assert_problem(res, 422).await
}

async fn three_refusals_answer_in_chinese_when_asked_and_in_english_otherwise(app: TestApp) {
    let f = field_county(&app).await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s = submission(&app, &f.inspector.token, &d, VILLAGE, 91).await;
    let done = submit(&app, &f.inspector.token, &s).await;
    assert_eq!(done["status"], "submitted", "{done}");
    app.post(
        &format!("/api/v1/inspections/{}/claim", s.id),
        &f.reviewer.token,
        &json!({}),
    )
    .await;
    let village = app.unit_id(&f.admin.token, "FIELD-V1").await;
    let cases: [(&str, &str, Value, &str, &str); 3] = [
        (
            "return",
            &f.reviewer.token,
            json!({"decision": "return"}),
            "comment",
            "required_for",
        ),
        (
            "password",
            &f.admin.token,
            json!({"username": "short-pw", "password": "short", "role": "secretary", "org_unit_id": village}),
            "password",
            "too_short",
        ),
        (
            "webhook",
            &f.admin.token,
            json!({"url": "http://10.1.2.3/hook", "events": ["inspection.submitted"]}),
            "url",
            "target_not_allowed",
        ),
    ];
    for (what, token, body, field, rule) in cases {
        let path = match what {
            "return" => format!("/api/v1/inspections/{}/decision", s.id),
            "password" => "/api/v1/users".to_string(),
            _ => "/api/v1/webhooks".to_string(),
        };
        for lang in [
            "zh-CN",
            "en-US,en;q=0.9,zh;q=0.5",
            "zh-Hans;q=0.9, fr;q=0.2",
        ] {
            let p = post_in(&app, Some(lang), &path, token, &body).await;
            let e = &p["errors"][0];
            assert_eq!(e["field"], field, "{what} {lang}: {p}");
            assert_eq!(e["rule"], rule, "{what} {lang}: {p}");
            let chinese = lang.starts_with("zh");
            for text in [&p["title"], &p["detail"], &e["message"]] {
                let text = text.as_str().unwrap();
                if chinese {
                    assert!(has_han(text), "{what} {lang}: {text}");
                    assert!(!has_latin_word(text), "{what} {lang}: {text}");
                } else {
                    assert!(!has_han(text), "{what} {lang}: {text}");
                }
            }
        }
        let p = post_in(&app, None, &path, token, &body).await;
        assert_eq!(p["errors"][0]["rule"], rule, "{p}");
        assert!(!has_han(p["detail"].as_str().unwrap()), "{p}");
        assert_eq!(p["title"], "Unprocessable Entity");
    }
    // The figures travel with the rule, for a client that writes its own words.
    let p = post_in(
        &app,
        Some("zh"),
        "/api/v1/users",
        &f.admin.token,
        &cases_password(&village),
    )
    .await;
    assert_eq!(p["errors"][0]["params"]["min"], 10, "{p}");
    assert_eq!(p["errors"][0]["message"], "至少 10 个字符", "{p}");
    let p = post_in(
        &app,
        Some("zh-CN"),
        &format!("/api/v1/inspections/{}/decision", s.id),
        &f.reviewer.token,
        &json!({"decision": "return"}),
    )
    .await;
    assert_eq!(p["errors"][0]["params"]["decision"], "return", "{p}");
    // A 404 and a 401 come in Chinese too.
    let res = app
        .request(
            reqwest::Method::GET,
            "/api/v1/inspections/00000000-0000-4000-8000-000000000000",
            Some(&f.admin.token),
        )
        .header("Accept-Language", "zh-CN")
        .send()
        .await
        .unwrap();
    let p = assert_problem(res, 404).await;
    assert!(
        has_han(p["title"].as_str().unwrap()) && has_han(p["detail"].as_str().unwrap()),
        "{p}"
    );
    let res = app
        .request(reqwest::Method::GET, "/api/v1/me", None)
        .header("Accept-Language", "zh")
        .send()
        .await
        .unwrap();
    let p = assert_problem(res, 401).await;
    assert!(has_han(p["detail"].as_str().unwrap()), "{p}");
}

fn cases_password(village: &str) -> Value {
    json!({"username": "short-pw", "password": "short", "role": "secretary", "org_unit_id": village})
}

async fn flags_carry_a_message_in_the_readers_language(app: TestApp) {
    let f = field_county(&app).await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    // Stood 10 km north of the village: outside its geofence.
    let s = submission(&app, &f.inspector.token, &d, (43.5575, 11.8840), 92).await;
    submit(&app, &f.inspector.token, &s).await;
    let read = |lang: &'static str| {
        let app = &app;
        let token = f.reviewer.token.clone();
        let id = s.id.clone();
        async move {
            let res = app
                .request(
                    reqwest::Method::GET,
                    &format!("/api/v1/inspections/{id}"),
                    Some(&token),
                )
                .header("Accept-Language", lang)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    let zh = read("zh-CN").await;
    let en = read("en").await;
    let flags = zh["flags"].as_array().expect("flags");
    assert!(!flags.is_empty(), "{zh}");
    for (z, e) in flags.iter().zip(en["flags"].as_array().unwrap()) {
        let zm = z["message"].as_str().unwrap();
        let em = e["message"].as_str().unwrap();
        assert!(has_han(zm), "{z}");
        assert!(!zm.contains(z["code"].as_str().unwrap()), "{zm}");
        assert!(!has_han(em), "{e}");
        assert_eq!(
            z["detail"], e["detail"],
            "the detail stays the reviewer's English record"
        );
    }
    let far = flags
        .iter()
        .find(|f| f["code"] == "location.outside_geofence")
        .expect("outside the geofence");
    let m = far["message"].as_str().unwrap();
    assert!(m.contains("公里") || m.contains("米"), "{m}");
}

async fn the_org_import_refuses_lines_in_chinese_when_asked(app: TestApp) {
    app.seed_demo().await;
    let admin = app.login("admin").await;
    let csv = "code,name,level,parent_code,lat,lon,radius_m\n\
               DEMO-T98,新镇,township,DEMO,,,\n\
               DEMO-T98-V1,王家庄村,village,DEMO-T98,abc,116.4,800\n";
    for (lang, dry_run) in [("zh-CN", true), ("zh-CN", false), ("en", false)] {
        let res = app
            .request(
                reqwest::Method::POST,
                &format!("/api/v1/org-units/import?dry_run={dry_run}"),
                Some(&admin.token),
            )
            .header("Content-Type", "text/csv; charset=utf-8")
            .header("Accept-Language", lang)
            .body(csv)
            .send()
            .await
            .unwrap();
        let body: Value = if dry_run {
            assert_eq!(res.status(), 200);
            res.json().await.unwrap()
        } else {
            assert_problem(res, 422).await
        };
        let message = if dry_run {
            body["lines"][1]["message"].as_str().unwrap().to_string()
        } else {
            assert_eq!(body["errors"][0]["field"], "line 3", "{body}");
            assert_eq!(body["errors"][0]["rule"], "not_a_number", "{body}");
            body["errors"][0]["message"].as_str().unwrap().to_string()
        };
        if lang == "en" {
            assert!(message.starts_with("lat: "), "{message}");
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("1 line(s) refused"),
                "{body}"
            );
        } else {
            // The report names the column; the problem's error carries it in `params`.
            if dry_run {
                assert!(message.starts_with("纬度："), "{message}");
            } else {
                assert_eq!(body["errors"][0]["params"]["column"], "lat", "{body}");
            }
            assert!(has_han(&message) && !message.contains("lat"), "{message}");
            if !dry_run {
                assert!(has_han(body["detail"].as_str().unwrap()), "{body}");
            }
        }
    }
}

/// A query parameter, an upload header, a JSON body's shape and a checklist answer: each field
/// error names a rule of the catalogue (never the generic `invalid`) and reads in Chinese.
async fn field_errors_of_every_kind_of_request_name_a_rule_and_read_in_chinese(app: TestApp) {
    let f = field_county(&app).await;
    let zh = "zh-CN,zh;q=0.9";
    let send = |req: reqwest::RequestBuilder| async move {
        req.header("Accept-Language", zh).send().await.unwrap()
    };
    let mut seen = Vec::new();

    let res = send(app.request(
        reqwest::Method::GET,
        "/api/v1/review-queue?limit=0",
        Some(&f.reviewer.token),
    ))
    .await;
    seen.push(("limit", "between", assert_problem(res, 422).await));

    let res = send(app.request(
        reqwest::Method::GET,
        "/api/v1/reports/stars?quarter=2026-Q9",
        Some(&f.admin.token),
    ))
    .await;
    seen.push(("quarter", "quarter_format", assert_problem(res, 422).await));

    let res = send(
        app.request(
            reqwest::Method::POST,
            "/api/v1/uploads",
            Some(&f.inspector.token),
        )
        .header("Tus-Resumable", "1.0.0"),
    )
    .await;
    seen.push(("Upload-Length", "required", assert_problem(res, 400).await));

    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s = submission(&app, &f.inspector.token, &d, VILLAGE, 91).await;
    // A yes/no answer given as text: refused, nothing written, the same id submits after.
    let mut body = s.body.clone();
    body["answers"]["board_posted"] = json!("yes");
    let res = send(
        app.request(
            reqwest::Method::PUT,
            &format!("/api/v1/inspections/{}", s.id),
            Some(&f.inspector.token),
        )
        .json(&body),
    )
    .await;
    seen.push((
        "answers.board_posted",
        "true_or_false",
        assert_problem(res, 422).await,
    ));
    let done = submit(&app, &f.inspector.token, &s).await;
    assert_eq!(done["status"], "submitted", "{done}");
    app.post(
        &format!("/api/v1/inspections/{}/claim", s.id),
        &f.reviewer.token,
        &json!({}),
    )
    .await;
    let res = send(
        app.request(
            reqwest::Method::POST,
            &format!("/api/v1/inspections/{}/decision", s.id),
            Some(&f.reviewer.token),
        )
        .json(&json!({"decision": "maybe"})),
    )
    .await;
    seen.push((
        "decision",
        "unknown_variant",
        assert_problem(res, 422).await,
    ));

    for (field, rule, problem) in seen {
        let errors = problem["errors"].as_array().cloned().unwrap_or_default();
        let e = errors
            .iter()
            .find(|e| e["field"] == field)
            .unwrap_or_else(|| panic!("no error on {field}: {problem}"));
        assert_eq!(e["rule"], rule, "{problem}");
        let message = e["message"].as_str().unwrap_or("");
        assert!(has_han(message), "{field}: {message}");
        assert_ne!(message, "取值无效", "{field}: {problem}");
        assert!(
            has_han(problem["title"].as_str().unwrap_or("")),
            "{problem}"
        );
    }
}

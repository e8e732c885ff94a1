//! What operators and clients see around the API: one access-log line per request from the
//! real binary, the metrics (process, build, domain gauges; on their own address when asked),
//! `Location` on every 201 and a `WWW-Authenticate` challenge on every 401.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::flow::{declare, field_county, put_photo, submission, VILLAGE};
use crate::helpers::*;

/// The value of the metric line `name{labels}` (exactly those labels).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn created_resources_have_a_location_and_the_domain_gauges_count_them(app: TestApp) {
    let field = field_county(&app).await;
    let c = &app.client;
    let no_redirects = |res: &reqwest::Response| {
        res.headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{} {} has no Location", res.status(), res.url()))
    };

    // A webhook whose deliveries wait: the backlog.
    let res = app
        .post(
            "/api/v1/webhooks",
            &field.admin.token,
            &json!({"url": "http://127.0.0.1:9/hook", "events": ["inspection.submitted"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let location = no_redirects(&res);
    let hook: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap())
    );

    // POST collections: the child named by its id; the answer is readable there.
    let county = app.unit_id(&field.admin.token, "FIELD-T1").await;
    let res = app
        .post(
            "/api/v1/org-units",
            &field.admin.token,
            &json!({"code": "FIELD-V9", "name": "Nine", "level": "village", "parent_id": county,
                    "lat": 43.4, "lon": 11.8}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let location = no_redirects(&res);
    let unit: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/org-units/{}", unit["id"].as_str().unwrap())
    );
    assert_eq!(app.get(&location, &field.admin.token).await.status(), 200);

    let res = app
        .post(
            "/api/v1/users",
            &field.admin.token,
            &json!({"username": "field-inspector-2", "password": PASSWORD, "role": "inspector",
                    "org_unit_id": app.unit_id(&field.admin.token, "FIELD").await}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let location = no_redirects(&res);
    let user: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/users/{}", user["id"].as_str().unwrap())
    );

    // PUT creates what its URL names; a photo is read back at /api/v1/photos/{id}.
    let declaration = declare(&app, &field.secretary.token, "FIELD-V1", 1).await;
    let s = submission(&app, &field.inspector.token, &declaration, VILLAGE, 41).await;
    let res = app
        .put(
            &format!("/api/v1/inspections/{}", s.id),
            &field.inspector.token,
            &s.body,
        )
        .await;
    assert_eq!(res.status(), 201);
    let location = no_redirects(&res);
    assert_eq!(location, format!("/api/v1/inspections/{}", s.id));
    assert_eq!(
        app.get(&location, &field.inspector.token).await.status(),
        200
    );
    for p in &s.photos {
        let res = put_photo(&app, &field.inspector.token, &s.id, &p.id, p.bytes.clone()).await;
        assert_eq!(res.status(), 201);
        let location = no_redirects(&res);
        assert_eq!(location, format!("/api/v1/photos/{}", p.id));
        assert_eq!(
            app.get(&location, &field.inspector.token).await.status(),
            200
        );
    }
    // A replay (200) says nothing new.
    let res = app
        .put(
            &format!("/api/v1/inspections/{}", s.id),
            &field.inspector.token,
            &s.body,
        )
        .await;
    assert_eq!(res.status(), 200);

    // A renewal of this quarter, not verified yet.
    app.import_stars("village_code,level,since_quarter\nFIELD-V2,1,2025-Q3\n")
        .await
        .unwrap();
    let tz = app.state.config.timezone;
    let now = chrono::Utc::now();
    let quarter = fieldstar::quarter::Quarter::of_instant(now, tz);
    let today = now.with_timezone(&tz).date_naive();
    let db = app.state.db.clone();
    let renewals = fieldstar::db::blocking(move || {
        let mut conn = db.get()?;
        fieldstar::declarations::renewals::ensure(&mut conn, quarter, today)
    })
    .await
    .unwrap();
    assert_eq!(renewals, 1);

    // The worker tries once (nobody listens on port 9) and schedules the retry an hour on.
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = c
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metric(&text, "fieldstar_webhook_backlog{county=\"FIELD\"}") == Some(1.0)
            && metric(&text, "fieldstar_outbox_pending{county=\"FIELD\"}") == Some(0.0)
        {
            break text;
        }
        assert!(Instant::now() < deadline, "no pending delivery: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        metric(&text, "fieldstar_review_queue_depth{county=\"FIELD\"}"),
        Some(1.0),
        "{text}"
    );
    let oldest = metric(
        &text,
        "fieldstar_review_queue_oldest_seconds{county=\"FIELD\"}",
    )
    .unwrap();
    assert!((0.0..120.0).contains(&oldest), "{oldest}");
    assert_eq!(
        metric(&text, "fieldstar_renewals_unverified{county=\"FIELD\"}"),
        Some(1.0),
        "{text}"
    );
    assert!(text.contains("fieldstar_build_info{version=\""), "{text}");
    for process in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            metric(&text, process).is_some_and(|v| v > 0.0),
            "{process}: {text}"
        );
    }
    assert!(text.trim_end().ends_with("# EOF") && text.matches("# EOF").count() == 1);

    // The decision belongs to its inspection; the queue is empty again.
    let res = crate::flow::decide_claimed(
        &app,
        &field.reviewer.token,
        &s.id,
        json!({"decision": "approve", "comment": "ok"}),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    assert_eq!(no_redirects(&res), format!("/api/v1/inspections/{}", s.id));
    let text = c
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(&text, "fieldstar_review_queue_depth{county=\"FIELD\"}"),
        Some(0.0),
        "{text}"
    );
}

/// Deliveries fail (nothing listens) and wait an hour for their retry: a backlog of one.
const SLOW_RETRIES: [(&str, &str); 3] = [
    ("FIELDSTAR_WEBHOOK_POLL_MS", "50"),
    ("FIELDSTAR_WEBHOOK_RETRY_BASE_MS", "3600000"),
    ("FIELDSTAR_WEBHOOK_ALLOW_PRIVATE", "1"),
];

#[actix_web::test]
async fn created_resources_have_a_location_and_the_domain_gauges_count_them_sqlite() {
    let app = spawn_app_with(Backend::Sqlite, &SLOW_RETRIES)
        .await
        .unwrap();
    let handle = app.stop_handle();
    created_resources_have_a_location_and_the_domain_gauges_count_them(app).await;
    handle.stop(false).await;
}

#[actix_web::test]
async fn created_resources_have_a_location_and_the_domain_gauges_count_them_postgres() {
    if let Some(app) = spawn_app_with(Backend::Postgres, &SLOW_RETRIES).await {
        let handle = app.stop_handle();
        created_resources_have_a_location_and_the_domain_gauges_count_them(app).await;
        handle.stop(false).await;
    }
}

#[actix_web::test]
async fn every_401_carries_a_bearer_challenge() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let bare = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    assert_eq!(
        bare.headers()["www-authenticate"],
        "Bearer realm=\"fieldstar\""
    );
    let bad = app.get("/api/v1/me", "not-a-token").await;
    assert_eq!(bad.status(), 401);
    assert_eq!(
        bad.headers()["www-authenticate"],
        "Bearer realm=\"fieldstar\", error=\"invalid_token\""
    );
    let login = app.login_raw("nobody", "wrong-password-1").await;
    assert_eq!(login.status(), 401);
    assert!(login.headers().contains_key("www-authenticate"));
    app.stop_handle().stop(false).await;
}

#[actix_web::test]
async fn metrics_move_to_their_own_address_when_asked() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("FIELDSTAR_METRICS_ADDR", "127.0.0.1:0")],
    )
    .await
    .unwrap();
    assert_eq!(
        app.client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let addr = app.state.metrics_address.expect("a metrics address");
    let res = app
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("process_cpu_seconds_total") && text.contains("fieldstar_build_info"),
        "{text}"
    );
    // Only the metrics there.
    let other = app
        .client
        .get(format!("http://{addr}/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    app.stop_handle().stop(false).await;
}

/// The real binary, JSON logs on stderr into a file: N requests leave N access lines, each one
/// line with the route template and no token or query string; a 4xx is INFO.
#[test]
fn each_request_leaves_one_access_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldstar"))
        .args(["serve", "--demo"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FIELDSTAR_DATA_DIR", dir.path().join("data"))
        .env("FIELDSTAR_BIND", format!("127.0.0.1:{port}"))
        .env("FIELDSTAR_DEMO_PASSWORD", PASSWORD)
        .env("FIELDSTAR_LOG_FORMAT", "json")
        .env("FIELDSTAR_RENEWALS", "0")
        .env("FIELDSTAR_HTTP_WORKERS", "2")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sent = rt.block_on(async {
        let c = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(r) = c.get(format!("{base}/healthz")).send().await {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let login: Value = c
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["access_token"].as_str().unwrap().to_string();
        let mut sent = 1;
        for i in 0..6 {
            let r = c
                .get(format!("{base}/api/v1/org-units?limit=2&code=SECRET{i}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap();
            let r = c
                .get(format!("{base}/api/v1/inspections/{i}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404);
            r.bytes().await.unwrap();
            let r = c
                .get(format!("{base}/api/v1/me"))
                .bearer_auth("forged-token")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401);
            r.bytes().await.unwrap();
            sent += 3;
        }
        (sent, token)
    });
    // A graceful stop: every response has been written and logged.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let (sent, token) = sent;
    let text = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not one JSON object: {l}")))
        .collect();
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "fieldstar::access" && l["route"] != "/healthz")
        .collect();
    assert_eq!(access.len(), sent, "{text}");
    assert!(
        !text.contains(&token) && !text.contains("forged-token") && !text.contains("SECRET"),
        "{text}"
    );
    let inspection = access.iter().find(|l| l["status"] == 404).unwrap();
    assert_eq!(inspection["route"], "/api/v1/inspections/{id}");
    assert_eq!(inspection["level"], "INFO");
    assert_eq!(inspection["code"], "not_found");
    assert!(
        inspection["user_id"].is_string() && inspection["request_id"].is_string(),
        "{inspection}"
    );
    assert!(inspection["duration_ms"].is_number() && inspection["bytes"].as_u64().unwrap() > 0);
    let unauthorized = access.iter().find(|l| l["status"] == 401).unwrap();
    assert!(unauthorized.get("user_id").is_none());
    // Nothing but the access line reports a 4xx.
    let warnings = lines
        .iter()
        .filter(|l| l["level"] == "WARN" || l["level"] == "ERROR")
        .count();
    assert_eq!(warnings, 0, "{text}");
}

/// Text logs written to a file (not a terminal) carry no colour codes, and the access line is
/// one plain line.
#[test]
fn text_logs_in_a_file_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldstar"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FIELDSTAR_DATA_DIR", dir.path().join("data"))
        .env("FIELDSTAR_BIND", format!("127.0.0.1:{port}"))
        .env("FIELDSTAR_RENEWALS", "0")
        .env("FIELDSTAR_WORKERS", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let answered = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            use std::io::{Read, Write};
            s.write_all(
                b"GET /api/v1/me?token=SECRET HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
            )?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        });
        if answered.is_ok_and(|a| a.starts_with("HTTP/1.1 401")) {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let text = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(!text.contains('\u{1b}'), "{text}");
    let access: Vec<&str> = text.lines().filter(|l| l.contains(" access ")).collect();
    assert_eq!(access.len(), 1, "{text}");
    assert!(
        access[0].contains("INFO access method=GET route=/api/v1/me status=401")
            && access[0].contains("code=unauthorized")
            && !access[0].contains("SECRET"),
        "{text}"
    );
}

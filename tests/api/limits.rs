//! Headers and limits: security headers on every answer, body size limits, per-user upload
//! quotas (in flight and bytes per hour) and the timeout for clients that never finish headers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::flow::*;
use crate::helpers::*;
use crate::{both_backends, both_backends_with};

fn assert_security_headers(h: &reqwest::header::HeaderMap, what: &str) {
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src"),
        "{what}: {csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
}

both_backends!(every_answer_carries_the_security_headers_and_bodies_are_capped);

async fn every_answer_carries_the_security_headers_and_bodies_are_capped(app: TestApp) {
    app.seed_demo().await;
    let admin = app.login("admin").await;
    for (what, res) in [
        ("a list", app.get("/api/v1/org-units", &admin.token).await),
        ("a 404", app.get("/api/v1/nowhere", &admin.token).await),
        (
            "a 401",
            app.client.get(app.url("/api/v1/me")).send().await.unwrap(),
        ),
        (
            "the spec",
            app.client
                .get(app.url("/api/openapi.yaml"))
                .send()
                .await
                .unwrap(),
        ),
        (
            "health",
            app.client.get(app.url("/healthz")).send().await.unwrap(),
        ),
    ] {
        assert_security_headers(res.headers(), what);
    }
    // A JSON body over 1 MiB is refused before it is parsed.
    let huge = json!({"name": "x".repeat(2 << 20)});
    let id = app.unit_id(&admin.token, "DEMO").await;
    assert_problem(
        app.patch(&format!("/api/v1/org-units/{id}"), &admin.token, &huge)
            .await,
        413,
    )
    .await;
    // A photo declared over 20 MiB is refused before a byte of it is read.
    let f = field_county(&app).await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s = submission(&app, &f.inspector.token, &d, VILLAGE, 70).await;
    assert_eq!(
        app.put(
            &format!("/api/v1/inspections/{}", s.id),
            &f.inspector.token,
            &s.body
        )
        .await
        .status(),
        201
    );
    let res = put_photo(
        &app,
        &f.inspector.token,
        &s.id,
        &s.photos[0].id,
        vec![0xFF; (20 << 20) + 1],
    )
    .await;
    assert_problem(res, 413).await;
}

fn raw(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

both_backends_with!(
    &[("FIELDSTAR_PHOTO_UPLOADS_PER_USER", "2"), ("FIELDSTAR_PHOTO_BYTES_PER_HOUR", "3000000")];
    uploads_over_a_users_quota_answer_429_with_retry_after,
);

async fn uploads_over_a_users_quota_answer_429_with_retry_after(app: TestApp) {
    let f = field_county(&app).await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s = submission(&app, &f.inspector.token, &d, VILLAGE, 71).await;
    assert_eq!(
        app.put(
            &format!("/api/v1/inspections/{}", s.id),
            &f.inspector.token,
            &s.body
        )
        .await
        .status(),
        201
    );
    let addr = app.address.trim_start_matches("http://").to_string();
    // Two uploads in flight (headers sent, body pending) take the user's two slots.
    let mut held = Vec::new();
    for p in &s.photos[..2] {
        let mut c = raw(&addr);
        write!(c, "PUT /api/v1/inspections/{}/photos/{} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", s.id, p.id, f.inspector.token, p.bytes.len()).unwrap();
        c.write_all(&p.bytes[..100]).unwrap();
        held.push(c);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = put_photo(
        &app,
        &f.inspector.token,
        &s.id,
        &s.photos[2].id,
        s.photos[2].bytes.clone(),
    )
    .await;
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(assert_problem(res, 429).await["code"], "upload_quota");
    // Another user is not held back by this one (an admin uploads for the inspector).
    let res = put_photo(
        &app,
        &f.admin.token,
        &s.id,
        &s.photos[2].id,
        s.photos[2].bytes.clone(),
    )
    .await;
    assert_eq!(res.status(), 201);
    // The held uploads finish; their slots come back.
    for (mut c, p) in held.into_iter().zip(&s.photos[..2]) {
        let rest = p.bytes[100..].to_vec();
        let status = tokio::task::spawn_blocking(move || {
            c.write_all(&rest).unwrap();
            let mut buf = [0u8; 64];
            let n = c.read(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..n])
                .split(' ')
                .nth(1)
                .unwrap_or("")
                .to_string()
        })
        .await
        .unwrap();
        assert_eq!(status, "201");
    }
    // The byte budget: 3 MB an hour. A body declaring more than is left waits, and says how long.
    let res = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/inspections/{}/photos/{}", s.id, s.photos[0].id),
            Some(&f.inspector.token),
        )
        .header("content-type", "image/jpeg")
        .body(vec![0xFF; 2_990_000])
        .send()
        .await
        .unwrap();
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 60 && wait <= 3600, "{wait}");
    assert_eq!(assert_problem(res, 429).await["code"], "upload_quota");
}

both_backends!(a_client_that_never_finishes_its_headers_is_dropped);

async fn a_client_that_never_finishes_its_headers_is_dropped(app: TestApp) {
    let addr = app.address.trim_start_matches("http://").to_string();
    let took = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut c = raw(&addr);
        c.write_all(b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        let mut buf = [0u8; 256];
        let _ = c.read(&mut buf);
        started.elapsed()
    })
    .await
    .unwrap();
    assert!(took < Duration::from_secs(15), "held for {took:?}");
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

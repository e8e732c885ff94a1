//! Slow clients over raw TCP: a stalled body and a trickle are answered 408 within the idle
//! time and rate window (set small here), a steady slow body is never cut off, and one
//! address cannot hold more connections than its bound while `/healthz` stays fast.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::both_backends_with;
use crate::flow::*;
use crate::helpers::*;

const PACE: &[(&str, &str)] = &[
    ("FIELDSTAR_BODY_IDLE_SECS", "2"),
    ("FIELDSTAR_BODY_RATE_WINDOW_SECS", "2"),
    ("FIELDSTAR_BODY_MIN_BYTES_PER_SEC", "512"),
    ("FIELDSTAR_CONNECTIONS_PER_ADDRESS", "4"),
];

fn server(app: &TestApp) -> SocketAddr {
    app.address.trim_start_matches("http://").parse().unwrap()
}

/// A connection from `source` (any 127.x.y.z address reaches the server on loopback).
async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

const LOGIN_HEAD: &str = "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n";

/// The status of the answer, or `None` when the connection closed without one.
async fn status_of(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(within, stream.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    String::from_utf8_lossy(&buf[..n])
        .split(' ')
        .nth(1)
        .map(str::to_string)
}

async fn healthz_fast(app: &TestApp) {
    let t = Instant::now();
    let res = app
        .client
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "/healthz took {:?}",
        t.elapsed()
    );
}

both_backends_with!(
    PACE;
    a_stalled_body_is_answered_408_within_the_idle_time,
    a_trickling_body_is_cut_off_by_the_minimum_rate,
    a_steady_slow_photo_longer_than_the_idle_time_is_stored,
    one_address_holds_a_bounded_number_of_connections_and_healthz_stays_fast,
);

async fn a_stalled_body_is_answered_408_within_the_idle_time(app: TestApp) {
    let mut c = connect_from("127.0.0.3", server(&app)).await;
    let started = Instant::now();
    c.write_all(LOGIN_HEAD.as_bytes()).await.unwrap();
    c.write_all(b"{\"username\": \"adm").await.unwrap();
    let status = status_of(&mut c, Duration::from_secs(10)).await;
    let took = started.elapsed();
    assert_eq!(status.as_deref(), Some("408"), "after {took:?}");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(4),
        "{took:?}"
    );
    healthz_fast(&app).await;
}

async fn a_trickling_body_is_cut_off_by_the_minimum_rate(app: TestApp) {
    let mut c = connect_from("127.0.0.3", server(&app)).await;
    let started = Instant::now();
    c.write_all(LOGIN_HEAD.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = c.into_split();
    // One byte every 300 ms: never idle for 2 s, far under 512 bytes/s.
    let trickle = actix_web::rt::spawn(async move {
        for _ in 0..40 {
            if writer.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    let took = started.elapsed();
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 408"), "{head:?} after {took:?}");
    assert!(
        head.contains("body_timeout") && head.contains("minimum"),
        "{head}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    trickle.abort();
    healthz_fast(&app).await;
}

async fn a_steady_slow_photo_longer_than_the_idle_time_is_stored(app: TestApp) {
    let f = field_county(&app).await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s = submission(&app, &f.inspector.token, &d, VILLAGE, 51).await;
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
    let photo = &s.photos[0];
    let mut c = connect_from("127.0.0.3", server(&app)).await;
    let started = Instant::now();
    c.write_all(format!(
        "PUT /api/v1/inspections/{}/photos/{} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        s.id, photo.id, f.inspector.token, photo.bytes.len()
    ).as_bytes()).await.unwrap();
    // About 2 KB every 100 ms (20 KB/s), for longer than the idle time and two windows.
    let chunk = (photo.bytes.len() / 50).max(1);
    for piece in photo.bytes.chunks(chunk) {
        c.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    assert!(took > Duration::from_secs(4), "the body took only {took:?}");
    assert_eq!(
        status_of(&mut c, Duration::from_secs(20)).await.as_deref(),
        Some("201")
    );
}

async fn one_address_holds_a_bounded_number_of_connections_and_healthz_stays_fast(app: TestApp) {
    let addr = server(&app);
    // Four slow-loris logins from one address take its four places.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = connect_from("127.0.0.2", addr).await;
        c.write_all(LOGIN_HEAD.as_bytes()).await.unwrap();
        c.write_all(b"{").await.unwrap();
        held.push(c);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A fifth connection from that address is refused at its first request.
    let mut fifth = connect_from("127.0.0.2", addr).await;
    fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), fifth.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 429"), "{head}");
    assert!(
        head.contains("too_many_connections")
            && head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    // Everyone else is served at once, throughout.
    healthz_fast(&app).await;
    // The held bodies are cut off by the pace; their places come back.
    for c in &mut held {
        assert_eq!(
            status_of(c, Duration::from_secs(10)).await.as_deref(),
            Some("408")
        );
    }
    drop(held);
    drop(fifth);
    let freed = eventually(5, || async {
        let mut c = connect_from("127.0.0.2", addr).await;
        if c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .is_err()
        {
            return false;
        }
        status_of(&mut c, Duration::from_secs(2)).await.as_deref() == Some("200")
    })
    .await;
    assert!(freed, "the address never got its connections back");
}

use crate::both_backends;
use crate::helpers::TestApp;

both_backends!(health_readiness_metrics_and_the_spec_answer);

async fn health_readiness_metrics_and_the_spec_answer(app: TestApp) {
    let c = &app.client;
    let health = c.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");
    let ready: serde_json::Value = c
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    let metrics = c
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("fieldstar_http_requests_total"),
        "{metrics}"
    );
    assert!(metrics.contains("route=\"/healthz\""));
    assert!(metrics.contains("fieldstar_db_pool_connections"));
    let spec = c.get(app.url("/api/openapi.yaml")).send().await.unwrap();
    assert_eq!(spec.status(), 200);
    assert!(spec.text().await.unwrap().starts_with("openapi: 3.1"));
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let moved = bare.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(moved.status(), 308);
    assert_eq!(moved.headers()["location"], "/docs/");
    let docs = c.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(
        !html.contains("https://"),
        "the docs page loads nothing from other origins"
    );
}

both_backends!(the_console_and_the_phone_app_are_served_with_a_strict_policy);

async fn the_console_and_the_phone_app_are_served_with_a_strict_policy(app: TestApp) {
    for path in ["/", "/m/"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        let etag = res.headers()["etag"].to_str().unwrap().to_string();
        let again = app
            .client
            .get(app.url(path))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);
    }
    assert_eq!(
        app.client
            .get(app.url("/app/../Cargo.toml"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        app.client.post(app.url("/")).send().await.unwrap().status(),
        404
    );
}

/// PostgreSQL only: SQLite's connections are files in this process and never go away. The pool
/// hands a connection out without a ping when it came back less than two seconds before
/// (`db::PING_AFTER_IDLE`); one that idled longer is pinged, so backends killed while idle (a
/// database restart) are replaced before any request meets them. One killed in the gap costs
/// the request that meets it a 503, and the pool drops it.
#[actix_web::test]
async fn connections_lost_while_idle_are_replaced_and_one_lost_in_use_costs_one_503() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    // Without the background workers, whose polls would meet the dead connections first.
    let quiet = [("FIELDSTAR_WORKERS", "0"), ("FIELDSTAR_RENEWALS", "0")];
    let Some(app) = crate::helpers::spawn_app_with(crate::helpers::Backend::Postgres, &quiet).await
    else {
        return;
    };
    let handle = app.stop_handle();
    app.seed_demo().await;
    let session = app.login("inspector1").await;
    // Several requests at once, so that the pool holds more than one connection.
    let burst = |n: usize| {
        let (app, token) = (&app, session.token.clone());
        futures_util::future::join_all((0..n).map(move |_| {
            let token = token.clone();
            async move { app.get("/api/v1/me", &token).await.status().as_u16() }
        }))
    };
    assert!(burst(8).await.iter().all(|s| *s == 200));
    let mut admin = PgConnection::establish(&app.database_url).unwrap();
    let kill = |admin: &mut PgConnection| {
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .execute(admin)
        .unwrap()
    };
    assert!(kill(&mut admin) > 0);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        burst(8).await,
        vec![200; 8],
        "every connection that idled was pinged and replaced"
    );

    // Killed in use (no pause): each dead connection fails one request with a 503 and is
    // dropped, so bursts of requests fail at most as often as the pool had connections, and
    // then all succeed.
    kill(&mut admin);
    let pool_size = app.state.config.db_pool_size as usize;
    let (mut failed, mut clean) = (0, false);
    for _ in 0..pool_size + 2 {
        let statuses = burst(8).await;
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 503),
            "a lost connection answered {statuses:?}"
        );
        failed += statuses.iter().filter(|s| **s == 503).count();
        if statuses.iter().all(|s| *s == 200) {
            clean = true;
            break;
        }
    }
    assert!(clean, "requests still fail after {failed} 503s");
    assert!(failed <= pool_size, "{failed} requests failed");
    let res = {
        kill(&mut admin);
        app.get("/api/v1/me", &session.token).await
    };
    if res.status() == 503 {
        let problem: serde_json::Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "unavailable", "{problem}");
    } else {
        assert_eq!(res.status(), 200);
    }
    handle.stop(false).await;
}

crate::both_backends_with!(
    &[("FIELDSTAR_DB_POOL_SIZE", "1")];
    a_request_waits_for_a_database_connection_at_most_ten_seconds
);

/// With every connection busy, a request waits its turn for ten seconds at most, then gets a
/// 503 (never a hang); once a connection is free again, requests go through.
async fn a_request_waits_for_a_database_connection_at_most_ten_seconds(app: TestApp) {
    app.seed_demo().await;
    let session = app.login("inspector1").await;
    // The pool's one connection, busy for 13 s.
    let db = app.state.db.clone();
    let busy = actix_web::rt::spawn(async move {
        db.read(|_| {
            std::thread::sleep(std::time::Duration::from_secs(13));
            Ok(())
        })
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let res = app.get("/api/v1/me", &session.token).await;
    let waited = started.elapsed();
    assert_eq!(res.status(), 503);
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "unavailable", "{problem}");
    assert!(
        waited >= std::time::Duration::from_secs(9) && waited < std::time::Duration::from_secs(30),
        "answered after {waited:?}"
    );
    busy.await.unwrap().unwrap();
    assert_eq!(app.get("/api/v1/me", &session.token).await.status(), 200);
}

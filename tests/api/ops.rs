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
    // dropped; the pool never holds more than its size, so after that many all succeed.
    kill(&mut admin);
    let pool_size = app.state.config.db_pool_size as usize;
    let mut failed = 0;
    for _ in 0..pool_size + 5 {
        let res = app.get("/api/v1/me", &session.token).await;
        match res.status().as_u16() {
            200 => {}
            503 => {
                failed += 1;
                let problem: serde_json::Value = res.json().await.unwrap();
                assert_eq!(problem["code"], "unavailable", "{problem}");
            }
            other => panic!("a lost connection answered {other}"),
        }
    }
    assert!(failed <= pool_size, "{failed} requests failed");
    assert_eq!(burst(8).await, vec![200; 8]);
    handle.stop(false).await;
}

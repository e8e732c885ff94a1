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

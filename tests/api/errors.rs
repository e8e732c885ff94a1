use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

both_backends!(unknown_routes_wrong_methods_and_bad_bodies_are_problems);

async fn unknown_routes_wrong_methods_and_bad_bodies_are_problems(app: TestApp) {
    app.seed_demo().await;
    let admin = app.login("admin").await;
    assert_problem(app.get("/api/v1/nowhere", &admin.token).await, 404).await;
    let res = app
        .request(Method::DELETE, "/api/v1/org-units", Some(&admin.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("allow").unwrap(), "GET, POST");
    assert_problem(res, 405).await;

    let res = app
        .request(Method::POST, "/api/v1/users", Some(&admin.token))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    let body = assert_problem(res, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("line 1"));

    let res = app
        .request(Method::POST, "/api/v1/users", Some(&admin.token))
        .body("username=x")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_problem(res, 415).await;

    let big = "x".repeat(2 << 20);
    let res = app
        .post("/api/v1/users", &admin.token, &json!({"username": big}))
        .await;
    assert_problem(res, 413).await;

    let res = app.post("/api/v1/users", &admin.token, &json!({"username": "a", "password": "p", "role": "r", "org_unit_id": "x", "phone": "123"})).await;
    let body = assert_problem(res, 422).await;
    assert_eq!(body["errors"][0]["field"], "phone");

    let res = app.get("/api/v1/org-units?limit=500", &admin.token).await;
    let body = assert_problem(res, 422).await;
    assert_eq!(body["errors"][0]["field"], "limit");
    let res = app
        .get("/api/v1/org-units?cursor=%21%21", &admin.token)
        .await;
    assert_problem(res, 422).await;
}

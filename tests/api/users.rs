use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    admins_create_users_and_others_may_not,
    an_invalid_user_body_is_422_naming_the_fields,
    users_page_by_username_and_audit_names_the_actor
);

async fn admins_create_users_and_others_may_not(app: TestApp) {
    app.seed_demo().await;
    let admin = app.login("admin").await;
    let v1 = app.unit_id(&admin.token, "DEMO-T01-V002").await;
    let res = app.post("/api/v1/users", &admin.token, &json!({"username": "secretary2", "password": "long-enough-pw", "role": "secretary", "org_unit_id": v1})).await;
    assert_eq!(res.status(), 201);
    let u = json_of(res).await;
    assert_eq!(
        (u["role"].as_str(), u["active"].as_bool()),
        (Some("secretary"), Some(true))
    );
    assert!(u.get("password_hash").is_none());
    assert_eq!(
        app.login_raw("secretary2", "long-enough-pw").await.status(),
        200
    );
    let res = app.post("/api/v1/users", &admin.token, &json!({"username": "secretary2", "password": "long-enough-pw", "role": "secretary", "org_unit_id": v1})).await;
    assert_problem(res, 409).await;
    // A secretary belongs to a village, not to a county.
    let county = app.unit_id(&admin.token, "DEMO").await;
    let res = app.post("/api/v1/users", &admin.token, &json!({"username": "sec3", "password": "long-enough-pw", "role": "secretary", "org_unit_id": county})).await;
    assert_eq!(
        assert_problem(res, 422).await["errors"][0]["field"],
        "org_unit_id"
    );

    let inspector = app.login("inspector1").await;
    let res = app.post("/api/v1/users", &inspector.token, &json!({"username": "x1234", "password": "long-enough-pw", "role": "member", "org_unit_id": v1})).await;
    assert_problem(res, 403).await;
    assert_problem(app.get("/api/v1/users", &inspector.token).await, 403).await;
}

async fn an_invalid_user_body_is_422_naming_the_fields(app: TestApp) {
    app.seed_demo().await;
    let admin = app.login("admin").await;
    let res = app
        .post(
            "/api/v1/users",
            &admin.token,
            &json!({"username": "A", "password": "short", "role": "king", "org_unit_id": "x"}),
        )
        .await;
    let body = assert_problem(res, 422).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["username", "password", "role"]);
    let res = app
        .post("/api/v1/users", &admin.token, &json!({"username": "abc"}))
        .await;
    assert_eq!(
        assert_problem(res, 422).await["errors"][0]["field"],
        "password"
    );
}

async fn users_page_by_username_and_audit_names_the_actor(app: TestApp) {
    app.seed_demo().await;
    let admin = app.login("admin").await;
    let page = json_of(app.get("/api/v1/users?limit=3", &admin.token).await).await;
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["admin", "inspector1", "inspector2"]);
    let next = page["next_cursor"].as_str().unwrap();
    let page2 = json_of(
        app.get(
            &format!("/api/v1/users?limit=3&cursor={next}"),
            &admin.token,
        )
        .await,
    )
    .await;
    assert_eq!(page2["items"][0]["username"], "member1");
    let sec = app.login("secretary1").await;
    let id = sec.user["id"].as_str().unwrap();
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin.token,
        &json!({"active": false}),
    )
    .await;
    let audit = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type=user&entity_id={id}"),
            &admin.token,
        )
        .await,
    )
    .await;
    let entry = &audit["items"][0];
    assert_eq!(
        (entry["action"].as_str(), entry["actor"].as_str()),
        (Some("user.deactivated"), Some("admin"))
    );
    assert!(entry["request_id"].is_string());
}

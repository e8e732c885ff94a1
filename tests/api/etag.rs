//! What the phone revalidates instead of downloading again: the worklist and the county's
//! policy carry an ETag of their bytes and answer 304 to a matching If-None-Match (lists of
//! tags, weak tags and `*` included); the policy's `phone_photo_max_px`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::flow::*;
use crate::helpers::*;

both_backends!(
    the_worklist_answers_304_while_it_has_not_changed,
    the_policy_carries_phone_photo_max_px_with_an_etag
);

async fn get_if(app: &TestApp, path: &str, token: &str, if_none_match: &str) -> reqwest::Response {
    app.request(Method::GET, path, Some(token))
        .header("if-none-match", if_none_match)
        .send()
        .await
        .unwrap()
}

fn etag_of(res: &reqwest::Response) -> String {
    res.headers()["etag"].to_str().unwrap().to_string()
}

async fn the_worklist_answers_304_while_it_has_not_changed(app: TestApp) {
    seed_two_counties(&app).await;
    let f = field_county(&app).await;
    declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let path = "/api/v1/inspections/worklist?limit=200";
    let res = app.get(path, &f.inspector.token).await;
    assert_eq!(res.status(), 200);
    let etag = etag_of(&res);
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(res.headers()["cache-control"], "private, no-cache");
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 1);

    for held in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"stale\", {etag}"),
        "*".to_string(),
    ] {
        let res = get_if(&app, path, &f.inspector.token, &held).await;
        assert_eq!(res.status(), 304, "If-None-Match: {held}");
        assert_eq!(etag_of(&res), etag);
        assert!(res.bytes().await.unwrap().is_empty());
    }
    let res = get_if(&app, path, &f.inspector.token, "\"stale\"").await;
    assert_eq!(res.status(), 200);
    assert_eq!(etag_of(&res), etag);

    // A new declaration changes the worklist, and with it the tag.
    let village_two = app.unit_id(&f.admin.token, "FIELD-V2").await;
    app.create_user("field-secretary-2", "secretary", "FIELD-V2")
        .await;
    let secretary_two = app.login("field-secretary-2").await;
    let res = app
        .post(
            "/api/v1/declarations",
            &secretary_two.token,
            &json!({"village_id": village_two, "star_level": 1}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = get_if(&app, path, &f.inspector.token, &etag).await;
    assert_eq!(res.status(), 200);
    assert_ne!(etag_of(&res), etag);
    let second: Value = res.json().await.unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 2);

    // Another inspector's worklist is another representation: the tag never crosses scopes.
    let demo = app.login("inspector1").await;
    let res = get_if(&app, path, &demo.token, &etag).await;
    assert_eq!(res.status(), 200);
    assert_problem(get_if(&app, path, &f.secretary.token, "*").await, 403).await;
}

async fn the_policy_carries_phone_photo_max_px_with_an_etag(app: TestApp) {
    seed_two_counties(&app).await;
    let f = field_county(&app).await;
    let res = app.get("/api/v1/policy", &f.inspector.token).await;
    assert_eq!(res.status(), 200);
    let etag = etag_of(&res);
    let policy: Value = res.json().await.unwrap();
    assert_eq!(policy["phone_photo_max_px"], 0);
    let res = get_if(&app, "/api/v1/policy", &f.inspector.token, &etag).await;
    assert_eq!(res.status(), 304);

    for bad in [json!(-1), json!(100), json!(639), json!(8193)] {
        let res = app
            .patch(
                "/api/v1/policy",
                &f.admin.token,
                &json!({"phone_photo_max_px": bad}),
            )
            .await;
        let problem = assert_problem(res, 422).await;
        assert_eq!(problem["errors"][0]["field"], "phone_photo_max_px");
    }
    let res = app
        .patch(
            "/api/v1/policy",
            &f.inspector.token,
            &json!({"phone_photo_max_px": 1600}),
        )
        .await;
    assert_problem(res, 403).await;
    // Refusals changed nothing.
    let res = get_if(&app, "/api/v1/policy", &f.inspector.token, &etag).await;
    assert_eq!(res.status(), 304);

    let res = app
        .patch(
            "/api/v1/policy",
            &f.admin.token,
            &json!({"phone_photo_max_px": 1600}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["phone_photo_max_px"], 1600);
    // The star rules did not change: no new entry in their history.
    assert!(changed["history"].as_array().unwrap().is_empty());

    let res = get_if(&app, "/api/v1/policy", &f.inspector.token, &etag).await;
    assert_eq!(res.status(), 200);
    let fresh = etag_of(&res);
    assert_ne!(fresh, etag);
    assert_eq!(
        res.json::<Value>().await.unwrap()["phone_photo_max_px"],
        1600
    );
    let res = get_if(&app, "/api/v1/policy", &f.inspector.token, &fresh).await;
    assert_eq!(res.status(), 304);

    let county = app.unit_id(&f.admin.token, "FIELD").await;
    let audit = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type=policy&entity_id={county}"),
            &f.admin.token,
        )
        .await,
    )
    .await;
    let summary = audit["items"][0]["summary"].as_str().unwrap();
    assert!(summary.contains("phone_photo_max_px 0 → 1600"), "{summary}");

    // Another county's phones keep sending originals.
    let demo = app.login("inspector1").await;
    let other = json_of(app.get("/api/v1/policy", &demo.token).await).await;
    assert_eq!(other["phone_photo_max_px"], 0);
}

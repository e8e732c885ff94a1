use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::*;

async fn collect_all(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/org-units?limit=200&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = json_of(app.get(&path, token).await).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    items
}

both_backends! {
    async fn the_demo_county_pages_through_376_villages_and_19_townships(app: TestApp) {
        app.seed_demo().await;
        // Seeding twice changes nothing.
        app.seed_demo().await;
        let admin = app.login("admin").await;
        let villages = collect_all(&app, &admin.token, "level=village").await;
        assert_eq!(villages.len(), 376);
        let mut codes: Vec<&str> = villages.iter().map(|v| v["code"].as_str().unwrap()).collect();
        codes.dedup();
        assert_eq!(codes.len(), 376, "no village twice across pages");
        for v in &villages {
            assert!((v["lat"].as_f64().unwrap() - 36.37).abs() < 0.5);
            assert!((v["lon"].as_f64().unwrap() - 114.38).abs() < 0.5);
            assert_eq!(v["radius_m"], 1500.0);
        }
        assert_eq!(collect_all(&app, &admin.token, "level=township").await.len(), 19);
        let t1 = app.unit_id(&admin.token, "DEMO-T01").await;
        let children = collect_all(&app, &admin.token, &format!("parent={t1}")).await;
        assert_eq!(children.len(), 20);
    }

    async fn a_second_county_admin_sees_and_changes_nothing_of_demo(app: TestApp) {
        seed_two_counties(&app).await;
        let demo = app.login("admin").await;
        let east = app.login("east-admin").await;
        let east_units = collect_all(&app, &east.token, "").await;
        assert_eq!(east_units.len(), 4);
        assert!(east_units.iter().all(|u| u["code"].as_str().unwrap().starts_with("EAST")));
        let demo_village = app.unit_id(&demo.token, "DEMO-T01-V001").await;
        assert_problem(app.get(&format!("/api/v1/org-units/{demo_village}"), &east.token).await, 404).await;
        assert_problem(app.patch(&format!("/api/v1/org-units/{demo_village}"), &east.token, &json!({"name": "taken"})).await, 404).await;
        let demo_t1 = app.unit_id(&demo.token, "DEMO-T01").await;
        let res = app.post("/api/v1/org-units", &east.token, &json!({"code": "X1", "name": "x", "level": "village", "parent_id": demo_t1, "lat": 1.0, "lon": 1.0})).await;
        assert_problem(res, 404).await;
        let users = json_of(app.get("/api/v1/users", &east.token).await).await;
        assert_eq!(users["items"].as_array().unwrap().len(), 1);
    }

    async fn admins_create_and_update_villages_with_checked_positions(app: TestApp) {
        app.seed_demo().await;
        let admin = app.login("admin").await;
        let t1 = app.unit_id(&admin.token, "DEMO-T01").await;
        let res = app.post("/api/v1/org-units", &admin.token, &json!({"code": "DEMO-NEW", "name": "新村", "level": "village", "parent_id": t1, "lat": 36.4, "lon": 114.4})).await;
        assert_eq!(res.status(), 201);
        let v = json_of(res).await;
        assert_eq!(v["radius_m"], 1500.0);
        let id = v["id"].as_str().unwrap();
        let res = app.post("/api/v1/org-units", &admin.token, &json!({"code": "DEMO-NEW", "name": "again", "level": "village", "parent_id": t1, "lat": 36.4, "lon": 114.4})).await;
        assert_problem(res, 409).await;
        let res = app.post("/api/v1/org-units", &admin.token, &json!({"code": "bad code!", "name": "", "level": "village", "parent_id": t1, "lat": 95.0, "lon": 114.4, "radius_m": 1.0})).await;
        let body = assert_problem(res, 422).await;
        let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["code", "name", "lat", "radius_m"]);
        let res = app.patch(&format!("/api/v1/org-units/{id}"), &admin.token, &json!({"radius_m": 800.0, "name": "新村二"})).await;
        let v = json_of(res).await;
        assert_eq!((v["radius_m"].as_f64(), v["name"].as_str()), (Some(800.0), Some("新村二")));
        let inspector = app.login("inspector1").await;
        assert_problem(app.patch(&format!("/api/v1/org-units/{id}"), &inspector.token, &json!({"name": "x"})).await, 403).await;
        assert_eq!(app.get(&format!("/api/v1/org-units/{id}"), &inspector.token).await.status(), 200);
    }

    async fn a_secretary_sees_only_her_village(app: TestApp) {
        app.seed_demo().await;
        let s = app.login("secretary1").await;
        let units = collect_all(&app, &s.token, "").await;
        assert_eq!(units.len(), 1);
        assert_eq!(units[0]["code"], "DEMO-T01-V001");
    }
}

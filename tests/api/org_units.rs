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

both_backends!(
    the_demo_county_pages_through_376_villages_and_19_townships,
    a_second_county_admin_sees_and_changes_nothing_of_demo,
    admins_create_and_update_villages_with_checked_positions,
    a_secretary_sees_only_her_village
);

async fn the_demo_county_pages_through_376_villages_and_19_townships(app: TestApp) {
    app.seed_demo().await;
    // Seeding twice changes nothing.
    app.seed_demo().await;
    let admin = app.login("admin").await;
    let villages = collect_all(&app, &admin.token, "level=village").await;
    assert_eq!(villages.len(), 376);
    let mut codes: Vec<&str> = villages
        .iter()
        .map(|v| v["code"].as_str().unwrap())
        .collect();
    codes.dedup();
    assert_eq!(codes.len(), 376, "no village twice across pages");
    for v in &villages {
        assert!((v["lat"].as_f64().unwrap() - 36.37).abs() < 0.5);
        assert!((v["lon"].as_f64().unwrap() - 114.38).abs() < 0.5);
        assert_eq!(v["radius_m"], 1500.0);
    }
    assert_eq!(
        collect_all(&app, &admin.token, "level=township")
            .await
            .len(),
        19
    );
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
    assert!(east_units
        .iter()
        .all(|u| u["code"].as_str().unwrap().starts_with("EAST")));
    let demo_village = app.unit_id(&demo.token, "DEMO-T01-V001").await;
    assert_problem(
        app.get(&format!("/api/v1/org-units/{demo_village}"), &east.token)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.patch(
            &format!("/api/v1/org-units/{demo_village}"),
            &east.token,
            &json!({"name": "taken"}),
        )
        .await,
        404,
    )
    .await;
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
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["code", "name", "lat", "radius_m"]);
    let res = app
        .patch(
            &format!("/api/v1/org-units/{id}"),
            &admin.token,
            &json!({"radius_m": 800.0, "name": "新村二"}),
        )
        .await;
    let v = json_of(res).await;
    assert_eq!(
        (v["radius_m"].as_f64(), v["name"].as_str()),
        (Some(800.0), Some("新村二"))
    );
    let inspector = app.login("inspector1").await;
    assert_problem(
        app.patch(
            &format!("/api/v1/org-units/{id}"),
            &inspector.token,
            &json!({"name": "x"}),
        )
        .await,
        403,
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/org-units/{id}"), &inspector.token)
            .await
            .status(),
        200
    );
}

async fn a_secretary_sees_only_her_village(app: TestApp) {
    app.seed_demo().await;
    let s = app.login("secretary1").await;
    let units = collect_all(&app, &s.token, "").await;
    assert_eq!(units.len(), 1);
    assert_eq!(units[0]["code"], "DEMO-T01-V001");
}

async fn post_csv(
    app: &TestApp,
    token: &str,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.request(
        reqwest::Method::POST,
        &format!("/api/v1/org-units/import{query}"),
        Some(token),
    )
    .header("content-type", content_type)
    .body(body)
    .send()
    .await
    .unwrap()
}

const IMPORT_CSV: &str = "code,name,level,parent_code,lat,lon,radius_m\n\
    DEMO-T99,新镇,township,DEMO,,,\n\
    DEMO-T99-V1,王家庄村,village,DEMO-T99,36.4,114.5,\n\
    DEMO-T01-V001,DEMO-T01-V001-RENAMED,village,DEMO-T01,36.4,114.4,\n";

both_backends!(
    the_import_endpoint_answers_a_dry_run_then_imports_all_or_nothing,
    a_county_admin_cannot_import_into_another_county,
    admins_rename_and_move_villages_until_they_have_a_history
);

async fn the_import_endpoint_answers_a_dry_run_then_imports_all_or_nothing(app: TestApp) {
    app.seed_demo().await;
    let admin = app.login("admin").await;
    let gbk = encoding_rs::GB18030.encode(IMPORT_CSV).0.into_owned();
    // The dry run reads GB18030, says what would happen line by line, and writes nothing.
    let res = post_csv(&app, &admin.token, "?dry_run=true", "text/csv", gbk.clone()).await;
    assert_eq!(res.status(), 200);
    let dry = json_of(res).await;
    assert_eq!(
        (
            dry["dry_run"].as_bool(),
            dry["committed"].as_bool(),
            dry["encoding"].as_str()
        ),
        (Some(true), Some(false), Some("gb18030"))
    );
    assert_eq!(
        (
            dry["created"].as_u64(),
            dry["updated"].as_u64(),
            dry["refused"].as_u64()
        ),
        (Some(2), Some(1), Some(0))
    );
    assert_eq!(dry["lines"][1]["name"], "王家庄村");
    assert_eq!(dry["lines"][1]["line"], 3);
    let page = json_of(
        app.get("/api/v1/org-units?code=DEMO-T99", &admin.token)
            .await,
    )
    .await;
    assert!(
        page["items"].as_array().unwrap().is_empty(),
        "a dry run writes nothing"
    );
    // A file with one bad line: the dry run names it, the import refuses the whole file.
    let bad =
        format!("{IMPORT_CSV}DEMO-C2,另一县,county,,,,\nDEMO-T99-V2,村,village,NOPE,36,114,\n");
    let dry = json_of(
        post_csv(
            &app,
            &admin.token,
            "?dry_run=true",
            "text/csv; charset=utf-8",
            bad.clone().into_bytes(),
        )
        .await,
    )
    .await;
    assert_eq!(
        (dry["created"].as_u64(), dry["refused"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(dry["lines"][3]["result"], "refused");
    assert!(
        dry["lines"][3]["message"]
            .as_str()
            .unwrap()
            .contains("command line"),
        "{dry}"
    );
    assert_eq!(dry["lines"][4]["line"], 6);
    let body = assert_problem(
        post_csv(&app, &admin.token, "", "text/csv", bad.into_bytes()).await,
        422,
    )
    .await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["line 5", "line 6"]);
    assert!(json_of(
        app.get("/api/v1/org-units?code=DEMO-T99", &admin.token)
            .await
    )
    .await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    // The good file imports, once; again it changes nothing.
    let done = json_of(post_csv(&app, &admin.token, "", "text/csv", gbk.clone()).await).await;
    assert_eq!(
        (
            done["committed"].as_bool(),
            done["created"].as_u64(),
            done["updated"].as_u64()
        ),
        (Some(true), Some(2), Some(1))
    );
    let page = json_of(
        app.get("/api/v1/org-units?code=DEMO-T99-V1", &admin.token)
            .await,
    )
    .await;
    assert_eq!(page["items"][0]["name"], "王家庄村");
    let again = json_of(post_csv(&app, &admin.token, "", "text/csv", gbk).await).await;
    assert_eq!(again["unchanged"], 3);
    let audit = json_of(app.get("/api/v1/audit?limit=200", &admin.token).await).await;
    let imported = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "org_units.imported")
        .count();
    assert_eq!(imported, 2, "{audit}");
    // Clear errors: not CSV, undecodable, a wrong header, a bad encoding.
    assert_problem(
        post_csv(&app, &admin.token, "", "application/json", b"{}".to_vec()).await,
        415,
    )
    .await;
    let body = assert_problem(
        post_csv(
            &app,
            &admin.token,
            "?encoding=utf-8",
            "text/csv",
            encoding_rs::GB18030.encode(IMPORT_CSV).0.into_owned(),
        )
        .await,
        422,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("line 2: not UTF-8"),
        "{body}"
    );
    let body = assert_problem(
        post_csv(&app, &admin.token, "", "text/csv", b"a,b\n1,2\n".to_vec()).await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "file");
    let body = assert_problem(
        post_csv(
            &app,
            &admin.token,
            "?encoding=latin1",
            "text/csv",
            b"x".to_vec(),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "encoding");
    // Only admins import.
    let township = app.login("township1").await;
    assert_problem(
        post_csv(
            &app,
            &township.token,
            "?dry_run=true",
            "text/csv",
            IMPORT_CSV.as_bytes().to_vec(),
        )
        .await,
        403,
    )
    .await;
}

async fn a_county_admin_cannot_import_into_another_county(app: TestApp) {
    seed_two_counties(&app).await;
    let east = app.login("east-admin").await;
    let dry = json_of(
        post_csv(
            &app,
            &east.token,
            "?dry_run=true",
            "text/csv",
            IMPORT_CSV.as_bytes().to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(dry["refused"], 3, "{dry}");
}

async fn admins_rename_and_move_villages_until_they_have_a_history(app: TestApp) {
    app.seed_demo().await;
    let admin = app.login("admin").await;
    let t2 = app.unit_id(&admin.token, "DEMO-T02").await;
    let v = app.unit_id(&admin.token, "DEMO-T01-V020").await;
    let res = app
        .patch(
            &format!("/api/v1/org-units/{v}"),
            &admin.token,
            &json!({"name": "王家庄村", "parent_id": t2, "lat": 36.5}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let moved = json_of(res).await;
    assert_eq!(
        (
            moved["name"].as_str(),
            moved["parent_id"].as_str(),
            moved["lat"].as_f64()
        ),
        (Some("王家庄村"), Some(t2.as_str()), Some(36.5))
    );
    let children = collect_all(&app, &admin.token, &format!("parent={t2}")).await;
    assert!(children.iter().any(|c| c["id"] == v.as_str()));
    // The township user of DEMO-T01 no longer sees it.
    let township = app.login("township1").await;
    assert_problem(
        app.get(&format!("/api/v1/org-units/{v}"), &township.token)
            .await,
        404,
    )
    .await;
    // Only to a township of the county; a township does not move.
    let county = app.unit_id(&admin.token, "DEMO").await;
    let other = app.unit_id(&admin.token, "DEMO-T01-V001").await;
    for (id, parent) in [(&v, &county), (&v, &other), (&t2, &county)] {
        let res = app
            .patch(
                &format!("/api/v1/org-units/{id}"),
                &admin.token,
                &json!({"parent_id": parent}),
            )
            .await;
        if id == &t2 {
            // A township's parent is its county already: nothing to do.
            assert_eq!(res.status(), 200);
        } else {
            assert_eq!(
                assert_problem(res, 422).await["errors"][0]["field"],
                "parent_id"
            );
        }
    }
    let t1 = app.unit_id(&admin.token, "DEMO-T01").await;
    let res = app
        .patch(
            &format!("/api/v1/org-units/{t2}"),
            &admin.token,
            &json!({"parent_id": t1}),
        )
        .await;
    assert_problem(res, 422).await;
    // A village with a declaration stays where it is.
    let secretary = app.login("secretary1").await;
    let me = json_of(app.get("/api/v1/me", &secretary.token).await).await;
    let home = me["org_unit"]["id"].as_str().unwrap().to_string();
    crate::flow::declare(
        &app,
        &secretary.token,
        me["org_unit"]["code"].as_str().unwrap(),
        1,
    )
    .await;
    let res = app
        .patch(
            &format!("/api/v1/org-units/{home}"),
            &admin.token,
            &json!({"parent_id": t2}),
        )
        .await;
    assert_eq!(
        assert_problem(res, 409).await["code"],
        "village_has_history"
    );
    // Renaming it is fine.
    let res = app
        .patch(
            &format!("/api/v1/org-units/{home}"),
            &admin.token,
            &json!({"name": "新名村"}),
        )
        .await;
    assert_eq!(json_of(res).await["name"], "新名村");
}

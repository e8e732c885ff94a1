use fieldstar::photo::fixtures::{self, FixtureExif};
use reqwest::Method;
use serde_json::{json, Value};

use crate::flow::*;
use crate::helpers::*;
use crate::{all_stores, both_backends};

both_backends!(
    declarations_follow_the_one_step_rule_and_reach_the_worklist,
    templates_carry_both_languages_and_revalidate_with_etags,
    concurrent_puts_of_one_inspection_make_one_row
);

all_stores!(
    an_inspection_with_fresh_photos_is_stored_replayed_and_submitted,
    orientation_6_is_applied_to_the_derivatives,
    standing_10_km_away_and_reused_photos_are_flagged,
    bad_inspections_and_bad_photos_get_clear_errors,
);

async fn declarations_follow_the_one_step_rule_and_reach_the_worklist(app: TestApp) {
    seed_two_counties(&app).await;
    let f = field_county(&app).await;
    let v1 = app.unit_id(&f.secretary.token, "FIELD-V1").await;
    let res = app
        .post(
            "/api/v1/declarations",
            &f.secretary.token,
            &json!({"village_id": v1, "star_level": 3}),
        )
        .await;
    let body = assert_problem(res, 422).await;
    assert_eq!(body["code"], "declaration.step_too_large");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("one step at a time"));
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    assert_eq!(
        (d["kind"].as_str(), d["status"].as_str()),
        (Some("upgrade"), Some("pending"))
    );
    let res = app
        .post(
            "/api/v1/declarations",
            &f.secretary.token,
            &json!({"village_id": v1, "star_level": 1}),
        )
        .await;
    assert_problem(res, 409).await;
    // Another village's declaration is refused to this secretary (not in her scope).
    let v2 = app.unit_id(&f.admin.token, "FIELD-V2").await;
    let res = app
        .post(
            "/api/v1/declarations",
            &f.secretary.token,
            &json!({"village_id": v2, "star_level": 1}),
        )
        .await;
    assert_problem(res, 404).await;
    let res = app
        .post(
            "/api/v1/declarations",
            &f.secretary.token,
            &json!({"village_id": v1, "star_level": 1, "quarter": "1999-Q1"}),
        )
        .await;
    assert_eq!(
        assert_problem(res, 422).await["errors"][0]["field"],
        "quarter"
    );
    let work = json_of(
        app.get("/api/v1/inspections/worklist", &f.inspector.token)
            .await,
    )
    .await;
    let entry = &work["items"][0];
    assert_eq!(entry["declaration"]["id"], d["id"]);
    assert_eq!(entry["village"]["lat"], 43.4675);
    assert_eq!(entry["checklist"], json!({"code": "star-1", "version": 1}));
    // DEMO's inspector sees none of FIELD's work.
    let demo = app.login("inspector1").await;
    let work = json_of(app.get("/api/v1/inspections/worklist", &demo.token).await).await;
    assert!(work["items"].as_array().unwrap().is_empty());
    assert_problem(
        app.get("/api/v1/inspections/worklist", &f.secretary.token)
            .await,
        403,
    )
    .await;
}

async fn templates_carry_both_languages_and_revalidate_with_etags(app: TestApp) {
    let f = field_county(&app).await;
    let res = app
        .get("/api/v1/checklists/star-1/versions/1", &f.inspector.token)
        .await;
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let t: Value = res.json().await.unwrap();
    assert_eq!(
        (t["status"].as_str(), t["version"].as_i64()),
        (Some("published"), Some(1))
    );
    assert!(t["title"]["zh"].as_str().unwrap().contains("星"));
    assert!(!t["sections"][0]["items"][0]["label"]["en"]
        .as_str()
        .unwrap()
        .is_empty());
    let res = app
        .request(
            Method::GET,
            "/api/v1/checklists/star-1/versions/1",
            Some(&f.inspector.token),
        )
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    let list = json_of(app.get("/api/v1/checklists", &f.inspector.token).await).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    assert_problem(
        app.get("/api/v1/checklists/star-9/versions/1", &f.inspector.token)
            .await,
        404,
    )
    .await;
}

async fn an_inspection_with_fresh_photos_is_stored_replayed_and_submitted(app: TestApp) {
    seed_two_counties(&app).await;
    let f = field_county(&app).await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s = submission(&app, &f.inspector.token, &d, VILLAGE, 1).await;
    assert!(s.photos.len() >= 3);
    let path = format!("/api/v1/inspections/{}", s.id);
    let res = app.put(&path, &f.inspector.token, &s.body).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(
        (created["status"].as_str(), created["revision"].as_i64()),
        (Some("awaiting_photos"), Some(1))
    );
    assert_eq!(created["passed"], true, "{created}");
    let res = app.put(&path, &f.inspector.token, &s.body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        created,
        "a replay answers the same representation"
    );
    let mut other = s.body.clone();
    other["answers"]["policy_count"] = json!(3);
    assert_problem(app.put(&path, &f.inspector.token, &other).await, 409).await;

    let first = &s.photos[0];
    let res = put_photo(
        &app,
        &f.inspector.token,
        &s.id,
        &first.id,
        first.bytes.clone(),
    )
    .await;
    assert_eq!(res.status(), 201);
    let res = put_photo(
        &app,
        &f.inspector.token,
        &s.id,
        &first.id,
        first.bytes.clone(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = put_photo(
        &app,
        &f.inspector.token,
        &s.id,
        &first.id,
        phone_photo(999, VILLAGE.0, VILLAGE.1, 5),
    )
    .await;
    assert_problem(res, 409).await;
    let res = put_photo(
        &app,
        &f.inspector.token,
        &s.id,
        &uuid::Uuid::new_v4().to_string(),
        first.bytes.clone(),
    )
    .await;
    assert_problem(res, 404).await;
    for p in &s.photos[1..] {
        assert_eq!(
            put_photo(&app, &f.inspector.token, &s.id, &p.id, p.bytes.clone())
                .await
                .status(),
            201
        );
    }
    let done = json_of(app.get(&path, &f.inspector.token).await).await;
    assert_eq!(done["status"], "submitted");
    assert!(
        done["flags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "alert"),
        "{}",
        done["flags"]
    );
    for p in done["photos"].as_array().unwrap() {
        assert_eq!(p["received"], true);
        assert!((p["lat"].as_f64().unwrap() - VILLAGE.0).abs() < 1e-4);
        assert!(p["taken_at"].is_string());
    }

    // Derivatives carry no metadata; the thumbnail is at most 320 px.
    let photo = &s.photos[0].id;
    let display = app
        .get(
            &format!("/api/v1/photos/{photo}?size=display"),
            &f.inspector.token,
        )
        .await;
    assert_eq!(display.headers()["content-type"], "image/jpeg");
    assert!(display.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let bytes = display.bytes().await.unwrap();
    assert!(!bytes.windows(4).any(|w| w == b"Exif"));
    let thumb = app
        .get(
            &format!("/api/v1/photos/{photo}?size=thumb"),
            &f.inspector.token,
        )
        .await
        .bytes()
        .await
        .unwrap();
    let img = image::load_from_memory(&thumb).unwrap();
    assert!(img.width().max(img.height()) <= 320);
    // Originals: not for secretaries; byte for byte for reviewers; nothing for another county.
    assert_problem(
        app.get(
            &format!("/api/v1/photos/{photo}?size=original"),
            &f.secretary.token,
        )
        .await,
        403,
    )
    .await;
    let original = app
        .get(
            &format!("/api/v1/photos/{photo}?size=original"),
            &f.reviewer.token,
        )
        .await;
    assert!(original.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(original.bytes().await.unwrap().to_vec(), s.photos[0].bytes);
    let demo = app.login("inspector1").await;
    assert_problem(
        app.get(&format!("/api/v1/photos/{photo}?size=thumb"), &demo.token)
            .await,
        404,
    )
    .await;
    assert_problem(app.get(&path, &demo.token).await, 404).await;
    let audit = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type=inspection&entity_id={}", s.id),
            &f.admin.token,
        )
        .await,
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"inspection.submitted") && actions.contains(&"photo.original_read"),
        "{actions:?}"
    );
    assert!(audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["actor"] == "field-inspector"));
}

async fn orientation_6_is_applied_to_the_derivatives(app: TestApp) {
    let f = field_county(&app).await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let mut s = submission(&app, &f.inspector.token, &d, VILLAGE, 2).await;
    let exif = FixtureExif {
        orientation: Some(6),
        lat: Some(VILLAGE.0),
        lon: Some(VILLAGE.1),
        ..Default::default()
    };
    s.photos[0].bytes = fixtures::jpeg(800, 600, 77, Some(&exif));
    s.body["photos"][0]["sha256"] = json!(s.photos[0].sha256());
    submit(&app, &f.inspector.token, &s).await;
    let thumb = app
        .get(
            &format!("/api/v1/photos/{}?size=thumb", s.photos[0].id),
            &f.inspector.token,
        )
        .await
        .bytes()
        .await
        .unwrap();
    let img = image::load_from_memory(&thumb).unwrap();
    assert!(
        img.height() > img.width(),
        "rotated to portrait: {}x{}",
        img.width(),
        img.height()
    );
}

async fn standing_10_km_away_and_reused_photos_are_flagged(app: TestApp) {
    let f = field_county(&app).await;
    app.create_user("field-secretary2", "secretary", "FIELD-V2")
        .await;
    app.create_user("field-secretary3", "secretary", "FIELD-V3")
        .await;
    let d1 = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s1 = submission(&app, &f.inspector.token, &d1, VILLAGE, 3).await;
    submit(&app, &f.inspector.token, &s1).await;

    // At FIELD-V2's declaration but standing at FIELD-V1, 10 km south, reusing a photo.
    let sec2 = app.login("field-secretary2").await;
    let d2 = declare(&app, &sec2.token, "FIELD-V2", 1).await;
    let mut s2 = submission(&app, &f.inspector.token, &d2, VILLAGE, 4).await;
    s2.photos[0].bytes = s1.photos[0].bytes.clone();
    s2.body["photos"][0]["sha256"] = json!(s2.photos[0].sha256());
    let done = submit(&app, &f.inspector.token, &s2).await;
    let codes = flag_codes(&done);
    assert!(
        codes.contains(&"location.outside_geofence".to_string()),
        "{codes:?}"
    );
    assert!(codes.contains(&"photo.duplicate".to_string()), "{codes:?}");
    let dup = done["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "photo.duplicate")
        .unwrap();
    assert!(dup["detail"].as_str().unwrap().contains(&s1.id), "{dup}");
    assert_eq!(done["flags"][0]["severity"], "alert", "worst first");

    // A lightly edited copy (brighter, re-encoded) of another inspection's photo.
    let sec3 = app.login("field-secretary3").await;
    let d3 = declare(&app, &sec3.token, "FIELD-V3", 1).await;
    let mut s3 = submission(&app, &f.inspector.token, &d3, VILLAGE, 5).await;
    let original = image::load_from_memory(&s1.photos[1].bytes)
        .unwrap()
        .to_rgb8();
    let brighter = image::ImageBuffer::from_fn(original.width(), original.height(), |x, y| {
        let p = original.get_pixel(x, y);
        image::Rgb([
            p[0].saturating_add(20),
            p[1].saturating_add(20),
            p[2].saturating_add(20),
        ])
    });
    s3.photos[0].bytes = fixtures::encode_jpeg(&brighter, 70);
    s3.body["photos"][0]["sha256"] = json!(s3.photos[0].sha256());
    let done = submit(&app, &f.inspector.token, &s3).await;
    let codes = flag_codes(&done);
    assert!(
        codes.contains(&"photo.near_duplicate".to_string()),
        "{codes:?}"
    );
    assert!(!codes.contains(&"photo.duplicate".to_string()));
}

async fn bad_inspections_and_bad_photos_get_clear_errors(app: TestApp) {
    let f = field_county(&app).await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s = submission(&app, &f.inspector.token, &d, VILLAGE, 6).await;
    let path = format!("/api/v1/inspections/{}", s.id);
    let mut b = s.body.clone();
    b["answers"].as_object_mut().unwrap().remove("board_posted");
    let body = assert_problem(app.put(&path, &f.inspector.token, &b).await, 422).await;
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "answers.board_posted"),
        "{body}"
    );
    let mut b = s.body.clone();
    b["answers"]["followup_coverage"] = json!(1.0);
    let body = assert_problem(app.put(&path, &f.inspector.token, &b).await, 422).await;
    assert_eq!(body["errors"][0]["field"], "answers.followup_coverage");
    let mut b = s.body.clone();
    b["weather"] = json!("sunny");
    assert_eq!(
        assert_problem(app.put(&path, &f.inspector.token, &b).await, 422).await["errors"][0]
            ["field"],
        "weather"
    );
    assert_problem(
        app.put(
            "/api/v1/inspections/not-a-uuid",
            &f.inspector.token,
            &s.body,
        )
        .await,
        422,
    )
    .await;
    // Backdated visits: a start years ago is outside the quarter's window; a start more than
    // a day before the submission is refused whatever the window.
    for started in ["2019-01-01T02:00:00Z", "0001-01-01T00:00:00Z"] {
        let mut b = s.body.clone();
        b["started_at"] = json!(started);
        let body = assert_problem(app.put(&path, &f.inspector.token, &b).await, 422).await;
        assert!(
            body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == "started_at"),
            "{started}: {body}"
        );
    }
    let mut b = s.body.clone();
    let submitted =
        chrono::DateTime::parse_from_rfc3339(b["submitted_at"].as_str().unwrap()).unwrap();
    b["started_at"] = json!((submitted - chrono::Duration::hours(25)).to_rfc3339());
    let body = assert_problem(app.put(&path, &f.inspector.token, &b).await, 422).await;
    assert_eq!(body["errors"][0]["field"], "started_at", "{body}");
    let mut b = s.body.clone();
    b["started_at"] = json!("-0001-01-01T00:00:00Z");
    assert_problem(app.put(&path, &f.inspector.token, &b).await, 422).await;
    assert_problem(app.put(&path, &f.secretary.token, &s.body).await, 403).await;
    // Nothing was written by the refused PUTs.
    assert_problem(app.get(&path, &f.inspector.token).await, 404).await;

    // Photos: each bad file is refused with its own status; nothing half-stored.
    let mut bodies = s.body.clone();
    let heic: Vec<u8> = [
        &[0, 0, 0, 24][..],
        b"ftypheic",
        &[0, 0, 0, 0],
        b"mif1heic",
        &[0u8; 64][..],
    ]
    .concat();
    let corrupt = {
        let mut j = s.photos[1].bytes.clone();
        j.truncate(j.len() / 3);
        for b in j.iter_mut().skip(700).step_by(7) {
            *b = 0xAA;
        }
        j
    };
    let files = [heic.clone(), corrupt.clone()];
    for (i, bytes) in files.iter().enumerate() {
        use sha2::Digest;
        bodies["photos"][i]["sha256"] = json!(hex::encode(sha2::Sha256::digest(bytes)));
    }
    assert_eq!(
        app.put(&path, &f.inspector.token, &bodies).await.status(),
        201
    );
    let ids: Vec<String> = bodies["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    let res = put_photo(&app, &f.inspector.token, &s.id, &ids[0], heic).await;
    let body = assert_problem(res, 415).await;
    assert!(body["detail"].as_str().unwrap().contains("HEIC"));
    assert_problem(
        put_photo(&app, &f.inspector.token, &s.id, &ids[1], corrupt).await,
        422,
    )
    .await;
    let body = assert_problem(
        put_photo(
            &app,
            &f.inspector.token,
            &s.id,
            &ids[2],
            s.photos[0].bytes.clone(),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["code"], "sha256_mismatch");
    let big = vec![0xFFu8; 21 << 20];
    assert_problem(
        put_photo(&app, &f.inspector.token, &s.id, &ids[2], big).await,
        413,
    )
    .await;
    let ins = json_of(app.get(&path, &f.inspector.token).await).await;
    assert_eq!(ins["status"], "awaiting_photos");
    assert!(ins["photos"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["received"] == false));
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn concurrent_puts_of_one_inspection_make_one_row(app: TestApp) {
    let f = field_county(&app).await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s = submission(&app, &f.inspector.token, &d, VILLAGE, 7).await;
    let path = format!("/api/v1/inspections/{}", s.id);
    let puts = (0..6).map(|_| app.put(&path, &f.inspector.token, &s.body));
    let statuses: Vec<u16> = futures_util::future::join_all(puts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 200),
        "{statuses:?}"
    );
    // A second inspection of the same declaration is refused while this one lives.
    let other = submission(&app, &f.inspector.token, &d, VILLAGE, 8).await;
    assert_problem(
        app.put(
            &format!("/api/v1/inspections/{}", other.id),
            &f.inspector.token,
            &other.body,
        )
        .await,
        409,
    )
    .await;
    let list = json_of(app.get("/api/v1/inspections", &f.admin.token).await).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

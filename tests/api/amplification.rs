//! Amplification: what one client can multiply (photos per manifest and per item, EXIF
//! problems per photo, flag details, list entries) stays bounded, with hostile files made here.

use fieldstar::photo::fixtures;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::both_backends;
use crate::flow::*;
use crate::helpers::*;

both_backends!(
    oversized_manifests_are_422_naming_the_field,
    an_exif_flood_keeps_flags_lists_and_the_queue_small
);

async fn oversized_manifests_are_422_naming_the_field(app: TestApp) {
    let f = field_county(&app).await;
    let d = declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s = submission(&app, &f.inspector.token, &d, VILLAGE, 7).await;
    let item = s.photos[0].item.clone();
    let sha = hex::encode(Sha256::digest(b"x"));
    let extra = |n: usize| -> Vec<serde_json::Value> {
        (0..n)
            .map(|_| json!({"id": uuid::Uuid::new_v4().to_string(), "item": item, "sha256": sha}))
            .collect()
    };
    // 200 photo ids of one file: the manifest of the adversarial pass.
    let mut body = s.body.clone();
    body["photos"].as_array_mut().unwrap().extend(extra(200));
    let problem = assert_problem(
        app.put(
            &format!("/api/v1/inspections/{}", s.id),
            &f.inspector.token,
            &body,
        )
        .await,
        422,
    )
    .await;
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "photos"),
        "{problem}"
    );
    // 41 photos for one item, under the inspection's bound.
    let mut body = s.body.clone();
    let already = s.photos.iter().filter(|p| p.item == item).count();
    body["photos"]
        .as_array_mut()
        .unwrap()
        .extend(extra(41 - already));
    let problem = assert_problem(
        app.put(
            &format!("/api/v1/inspections/{}", s.id),
            &f.inspector.token,
            &body,
        )
        .await,
        422,
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields
            .iter()
            .any(|f| f.starts_with("photos[") && f.ends_with("].item")),
        "{problem}"
    );
    // Nothing was written: the same id still takes the honest body.
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
}

async fn an_exif_flood_keeps_flags_lists_and_the_queue_small(app: TestApp) {
    let f = field_county(&app).await;
    let flood = fixtures::exif_flood_jpeg(5);
    assert!(flood.len() > 65_000);
    let sha = hex::encode(Sha256::digest(&flood));
    let mut ids = Vec::new();
    for (n, village) in ["FIELD-V1", "FIELD-V2", "FIELD-V3"].into_iter().enumerate() {
        let secretary = format!("sec-{village}").to_lowercase();
        app.create_user(&secretary, "secretary", village).await;
        let d = declare(&app, &app.login(&secretary).await.token, village, 1).await;
        let mut s = submission(&app, &f.inspector.token, &d, VILLAGE, 20 + n as u64).await;
        let item = s.photos[0].item.clone();
        let already = s.photos.iter().filter(|p| p.item == item).count();
        let flood_ids: Vec<String> = (already..40)
            .map(|_| uuid::Uuid::new_v4().to_string())
            .collect();
        for id in &flood_ids {
            s.body["photos"]
                .as_array_mut()
                .unwrap()
                .push(json!({"id": id, "item": item, "sha256": sha}));
        }
        let res = app
            .put(
                &format!("/api/v1/inspections/{}", s.id),
                &f.inspector.token,
                &s.body,
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        for p in &s.photos {
            assert_eq!(
                put_photo(&app, &f.inspector.token, &s.id, &p.id, p.bytes.clone())
                    .await
                    .status(),
                201
            );
        }
        for id in &flood_ids {
            let res = put_photo(&app, &f.inspector.token, &s.id, id, flood.clone()).await;
            assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        }
        ids.push(s.id);
    }
    // The inspection's own page has the details, each bounded.
    let res = app
        .get(
            &format!("/api/v1/inspections/{}", ids[0]),
            &f.reviewer.token,
        )
        .await;
    let page = res.bytes().await.unwrap();
    let ins: serde_json::Value = serde_json::from_slice(&page).unwrap();
    assert_eq!(ins["status"], "submitted");
    let exif_flags: Vec<&serde_json::Value> = ins["flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "photo.no_exif")
        .collect();
    assert!(exif_flags.len() >= 38, "{}", exif_flags.len());
    for flag in &exif_flags {
        let detail = flag["detail"].as_str().unwrap();
        assert!(
            detail.chars().count() <= 1_000 && detail.contains("more problems"),
            "{detail}"
        );
    }
    assert!(
        page.len() < 120_000,
        "the inspection's page is {} bytes",
        page.len()
    );
    // What is stored per photo is bounded too.
    let db = app.state.db.clone();
    let longest: usize = fieldstar::db::blocking(move || {
        use diesel::prelude::*;
        use fieldstar::db::schema::photos;
        let mut conn = db.get()?;
        let rows: Vec<(Option<String>, String)> = photos::table
            .select((photos::exif, photos::flags))
            .load(&mut *conn)?;
        Ok(rows
            .iter()
            .map(|(e, f)| e.as_deref().map_or(0, str::len) + f.len())
            .max()
            .unwrap_or(0))
    })
    .await
    .unwrap();
    assert!(
        longest < 4_000,
        "a photo stores {longest} bytes of EXIF and flags"
    );
    // Lists and the queue carry counts by code, not details.
    for path in [
        "/api/v1/review-queue?limit=200",
        "/api/v1/inspections?limit=200",
    ] {
        let res = app.get(path, &f.reviewer.token).await;
        assert_eq!(res.status(), 200);
        let bytes = res.bytes().await.unwrap();
        let list: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 3, "{path}");
        assert!(bytes.len() < 3 * 2_000, "{path} is {} bytes", bytes.len());
        let entry = &list["items"][0];
        let no_exif = entry["flags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "photo.no_exif")
            .expect("counted");
        assert!(no_exif["count"].as_u64().unwrap() >= 38, "{no_exif}");
        assert!(no_exif.get("detail").is_none());
    }
}

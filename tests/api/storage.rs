//! The photo store on local files and on a real S3-compatible server (s3s-fs under CI, named by
//! `FIELDSTAR_TEST_S3`): whole writes, streamed reads, multipart uploads of large bodies,
//! listings, readiness, and the start-up sweep of blobs no committed row references.

use actix_web::web::Bytes;
use fieldstar::storage::{Storage, StorageError, MULTIPART_PART};
use futures_util::TryStreamExt;
use serde_json::Value;

use crate::all_stores_with;
use crate::flow::*;
use crate::helpers::*;
use crate::hostile::{inspection_with, upload};

fn file_store() -> (Storage, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Storage::from_url(&format!("file://{}", dir.path().display()), &[]).unwrap();
    (store, dir)
}

/// A fresh prefix of the test bucket, or `None` (skipped loudly) without an S3 server.
fn s3_store() -> Option<Storage> {
    let vars = s3_vars()?;
    let url = vars[0].1.clone();
    Some(Storage::from_url(&url, &vars[1..]).unwrap())
}

fn noise(len: usize, seed: u32) -> Bytes {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2654435761) >> 13) as u8)
        .collect::<Vec<u8>>()
        .into()
}

async fn blobs_round_trip_whole_and_large_ones_go_in_parts(store: Storage) {
    let small = noise(1000, 1);
    // Three parts on S3: two whole ones and a short last one.
    let large = noise(2 * MULTIPART_PART + 4321, 2);
    store
        .put_atomic("original/aa/small", small.clone())
        .await
        .unwrap();
    store
        .put_atomic("original/bb/large", large.clone())
        .await
        .unwrap();
    for (key, want) in [("original/aa/small", &small), ("original/bb/large", &large)] {
        assert!(store.exists(key).await.unwrap(), "{key}");
        assert_eq!(&store.get(key).await.unwrap(), want, "{key}");
        let blob = store.get_stream(key).await.unwrap();
        assert_eq!(blob.size, want.len() as u64);
        let chunks: Vec<Bytes> = blob.bytes.try_collect().await.unwrap();
        assert_eq!(chunks.concat(), want.to_vec(), "{key} streamed");
    }
    // Writing the same key again replaces it whole.
    store
        .put_atomic("original/aa/small", large.clone())
        .await
        .unwrap();
    assert_eq!(store.get("original/aa/small").await.unwrap(), large);

    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    let mut listed = store.list_older_than("original", later).await.unwrap();
    listed.sort();
    assert_eq!(listed, ["original/aa/small", "original/bb/large"]);
    let earlier = chrono::Utc::now() - chrono::Duration::minutes(1);
    assert!(store
        .list_older_than("original", earlier)
        .await
        .unwrap()
        .is_empty());
    assert!(
        store
            .list_older_than("tmp", later)
            .await
            .unwrap()
            .is_empty(),
        "nothing staged is left"
    );

    store.delete("original/aa/small").await.unwrap();
    store.delete("original/aa/small").await.unwrap();
    assert!(!store.exists("original/aa/small").await.unwrap());
    assert!(matches!(
        store.get("original/aa/small").await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(
        store.get_stream("original/aa/small").await,
        Err(StorageError::NotFound)
    ));
    store.check().await.unwrap();
}

#[actix_web::test]
async fn file_blobs_round_trip_whole_and_large_ones_go_in_parts() {
    let (store, _dir) = file_store();
    blobs_round_trip_whole_and_large_ones_go_in_parts(store).await;
}

#[actix_web::test]
async fn s3_blobs_round_trip_whole_and_large_ones_go_in_parts() {
    if let Some(store) = s3_store() {
        blobs_round_trip_whole_and_large_ones_go_in_parts(store).await;
    }
}

#[actix_web::test]
async fn a_missing_bucket_or_wrong_keys_make_the_s3_store_unready() {
    let Some(vars) = s3_vars() else { return };
    let settings = &vars[1..];
    let missing = Storage::from_url("s3://no-such-bucket-here/p", settings).unwrap();
    assert!(missing.check().await.is_err(), "a missing bucket");
    let url = &vars[0].1;
    let mut wrong: Vec<(String, String)> = settings.to_vec();
    for (k, v) in wrong.iter_mut() {
        if k == "AWS_SECRET_ACCESS_KEY" {
            *v = "not-the-secret".into();
        }
    }
    let refused = Storage::from_url(url, &wrong).unwrap();
    assert!(refused.check().await.is_err(), "a wrong secret");
    assert!(
        refused
            .put_atomic("original/cc/x", Bytes::from_static(b"x"))
            .await
            .is_err(),
        "a write with a wrong secret"
    );
    Storage::from_url(url, settings)
        .unwrap()
        .check()
        .await
        .unwrap();
}

#[actix_web::test]
async fn s3_settings_errors_name_the_variable() {
    let err = |url: &str, vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Storage::from_url(url, &vars).err().unwrap_or_default()
    };
    assert!(err("s3:///prefix", &[]).starts_with("FIELDSTAR_STORAGE_URL"));
    assert!(
        err("s3://b/p", &[("AWS_ENDPOINT_URL", "localhost:9000")]).starts_with("AWS_ENDPOINT_URL")
    );
    assert!(err("s3://b/p", &[("AWS_ALLOW_HTTP", "yes")]).starts_with("AWS_ALLOW_HTTP"));
    assert!(err("s3://b/p", &[("AWS_ACCESS_KEY_ID", "k")]).starts_with("AWS_SECRET_ACCESS_KEY"));
    assert!(err("s3://b/p", &[("AWS_SECRET_ACCESS_KEY", "s")]).starts_with("AWS_ACCESS_KEY_ID"));
    assert!(err("gs://b/p", &[]).starts_with("FIELDSTAR_STORAGE_URL"));
    let config = |vars: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let mut map: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.insert(
            "FIELDSTAR_DATA_DIR".into(),
            dir.path().display().to_string(),
        );
        fieldstar::Config::from_vars(&map)
    };
    let c = config(&[
        ("FIELDSTAR_STORAGE_URL", "s3://photos/county"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
        ("AWS_REGION", "cn-north-1"),
    ])
    .unwrap();
    assert_eq!(c.s3.len(), 2);
    let e = config(&[("FIELDSTAR_STORAGE_URL", "ftp://x")]).unwrap_err();
    assert!(e.to_string().contains("FIELDSTAR_STORAGE_URL"), "{e}");
}

all_stores_with!(
    &[("FIELDSTAR_ORPHAN_MIN_AGE_SECS", "0")];
    orphan_blobs_are_swept_at_start_up_and_referenced_ones_kept,
);

/// A crash between a blob's write and its row's commit leaves an unreferenced blob; the
/// start-up sweep removes it (and its derivatives) and keeps every photo a row points to.
async fn orphan_blobs_are_swept_at_start_up_and_referenced_ones_kept(app: TestApp) {
    let f = field_county(&app).await;
    let bytes = phone_photo(42, VILLAGE.0, VILLAGE.1, 10);
    let (s, ids) = inspection_with(&app, &f, std::slice::from_ref(&bytes)).await;
    let (status, body, _) = upload(
        &app,
        &f.inspector.token,
        &s.id,
        &ids[0],
        bytes.clone(),
        "image/jpeg",
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let orphan = "f".repeat(64);
    let storage = app.state.storage.clone();
    for key in [
        format!("original/ff/{orphan}"),
        format!("display/ff/{orphan}.jpg"),
        format!("thumb/ff/{orphan}.jpg"),
        "tmp/left-by-a-crash".to_string(),
    ] {
        storage
            .put_atomic(&key, Bytes::from_static(b"half"))
            .await
            .unwrap();
    }
    assert_eq!(app.blobs("original").await, 2);
    let app = app.restart(&[("FIELDSTAR_ORPHAN_MIN_AGE_SECS", "0")]).await;
    let swept = eventually(20, || async {
        app.blobs("original").await == 1 && app.blobs("tmp").await == 0
    })
    .await;
    assert!(
        swept,
        "{} originals, {} tmp",
        app.blobs("original").await,
        app.blobs("tmp").await
    );
    assert_eq!(app.blobs("display").await, 1);
    assert_eq!(app.blobs("thumb").await, 1);
    // The kept photo is served whole by the restarted server.
    let reviewer = app.login("field-reviewer").await;
    let res = app
        .get(
            &format!("/api/v1/photos/{}?size=original", ids[0]),
            &reviewer.token,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);
    let ready: Value = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["storage"], "ok", "{ready}");
}

//! A village's link in the test harness: a TCP proxy (`bench::link::Link`, which the bench
//! uses too) that holds every connection to 64 kbit/s and cuts it every 200 KB. A 4 MB phone
//! photo goes through it with the suite's tus client, resuming with HEAD after every cut, and
//! arrives byte-identical, once, submitting its inspection. At 64 kbit/s that takes about nine
//! minutes, so both backends run at once, in one test.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use fieldstar::bench::link::Link;

use crate::flow::*;
use crate::helpers::*;
use crate::uploads::*;

/// Sends `bytes` with tus through `base`, resuming from HEAD's offset after every failure,
/// until the upload is finished; the photo's status (201/200) and how many PATCHes it took.
pub async fn deliver_by_tus(tus: &Tus, inspection: &str, photo: &Photo) -> (String, u32) {
    let mut patches = 0;
    let upload = loop {
        if let Ok(res) = tus
            .try_create(photo.bytes.len(), &Tus::metadata(inspection, photo, &[]))
            .await
        {
            if res.status() == 201 {
                break res.headers()["location"].to_str().unwrap().to_owned();
            }
            panic!("creating the upload: {}", res.status());
        }
    };
    loop {
        let Ok(head) = tus.try_head(&upload).await else {
            continue;
        };
        assert_eq!(head.status(), 200, "HEAD {upload}");
        if let Some(status) = head.headers().get("fieldstar-photo-status") {
            return (status.to_str().unwrap().to_owned(), patches);
        }
        let offset = header_u64(&head, "upload-offset").unwrap();
        patches += 1;
        match tus
            .try_patch(
                &upload,
                offset,
                photo.bytes[offset as usize..].to_vec(),
                false,
            )
            .await
        {
            Ok(res) if res.status() == 204 => {
                if let Some(status) = res.headers().get("fieldstar-photo-status") {
                    return (status.to_str().unwrap().to_owned(), patches);
                }
            }
            // A cut connection, or an answer the cut made (400 incomplete body): resume.
            Ok(res) => assert!(
                matches!(res.status().as_u16(), 400 | 408 | 423),
                "PATCH at {offset}: {}",
                res.status()
            ),
            Err(_) => {}
        }
    }
}

/// Through a 64 kbit/s link cut every 200 KB: the photo arrives byte-identical, once.
async fn a_4mb_photo_through_a_cutting_64_kbit_link(app: TestApp) {
    let f = field_county(&app).await;
    let big = photo_of_size(81, 4 << 20);
    let s = inspection_with_big_photo(&app, &f, 81, big.clone()).await;
    let photo = s.photos.last().unwrap();
    let upstream: SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    let link = Link::start(upstream, 64_000 / 8, 200 * 1024).await.unwrap();
    let tus = Tus::new(&link.url(), &f.inspector.token);
    let started = Instant::now();
    let (status, patches) = deliver_by_tus(&tus, &s.id, photo).await;
    loud(&format!(
        "link test ({:?}): 4 MiB through 64 kbit/s cut every 200 KB in {:.0} s, {} cuts, \
         {patches} PATCHes, {} bytes sent up",
        app.backend,
        started.elapsed().as_secs_f64(),
        link.cuts.load(Ordering::SeqCst),
        link.up.load(Ordering::SeqCst)
    ));
    assert_eq!(status, "201");
    assert!(link.cuts.load(Ordering::SeqCst) >= 20, "the link was cut");
    assert_eq!(original(&app, &f.reviewer.token, &photo.id).await, big);
    let inspection = json_of(
        app.get(&format!("/api/v1/inspections/{}", s.id), &f.inspector.token)
            .await,
    )
    .await;
    assert_eq!(inspection["status"], "submitted");
    let audit = json_of(
        app.get(
            &format!(
                "/api/v1/audit?entity_type=inspection&entity_id={}&limit=200",
                s.id
            ),
            &f.admin.token,
        )
        .await,
    )
    .await;
    let received = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "photo.received")
        .count();
    assert_eq!(
        received,
        s.photos.len(),
        "each photo is received exactly once"
    );
}

/// Both backends at once, in one test: the suite waits for one nine-minute link, not two.
#[actix_web::test]
async fn a_4mb_photo_through_a_cutting_64_kbit_link_arrives_once_on_both_backends() {
    let sqlite = spawn_app(Backend::Sqlite).await.unwrap();
    let postgres = spawn_app(Backend::Postgres).await;
    let handles: Vec<_> = std::iter::once(sqlite.stop_handle())
        .chain(postgres.as_ref().map(TestApp::stop_handle))
        .collect();
    let pg = async {
        if let Some(app) = postgres {
            a_4mb_photo_through_a_cutting_64_kbit_link(app).await;
        }
    };
    futures_util::join!(a_4mb_photo_through_a_cutting_64_kbit_link(sqlite), pg);
    for h in handles {
        h.stop(false).await;
    }
}

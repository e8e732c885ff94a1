//! A village's link in the test harness: a TCP proxy that holds every connection to 64 kbit/s
//! and cuts it every 200 KB. A 4 MB phone photo goes through it with the suite's tus client,
//! resuming with HEAD after every cut, and arrives byte-identical, once, submitting its
//! inspection. At 64 kbit/s that takes about nine minutes, so both backends run at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::flow::*;
use crate::helpers::*;
use crate::uploads::*;

/// A slow link that drops: every connection through it is held to `bytes_per_sec` each way,
/// and cut (both sides closed) each time another `cut_every` bytes have gone up through it.
pub struct Link {
    pub address: SocketAddr,
    /// Bytes sent up (client to server) through the link, over all connections.
    pub up: Arc<AtomicU64>,
    pub cuts: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Link {
    pub async fn start(upstream: SocketAddr, bytes_per_sec: u64, cut_every: u64) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicU64::new(0));
        let cuts = Arc::new(AtomicU64::new(0));
        let (up2, cuts2) = (up.clone(), cuts.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (up, cuts) = (up2.clone(), cuts2.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let rate = bytes_per_sec;
                    // Whichever way ends first (a cut, or a side closing) ends the connection.
                    tokio::select! {
                        _ = pipe(cr, sw, rate, Some((up, cuts, cut_every))) => {}
                        _ = pipe(sr, cw, rate, None) => {}
                    }
                });
            }
        });
        Link {
            address,
            up,
            cuts,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

type Cutter = (Arc<AtomicU64>, Arc<AtomicU64>, u64);

/// Copies `from` to `to` at `rate` bytes a second; going up, stops at the next cut.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    rate: u64,
    cutter: Option<Cutter>,
) {
    let started = tokio::time::Instant::now();
    let mut sent = 0u64;
    // A tenth of a second's worth at a time: the rate holds within 100 ms.
    let mut buf = vec![0u8; (rate / 10).max(64) as usize];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n as u64,
        };
        let mut take = n;
        let mut cut = false;
        if let Some((up, cuts, every)) = &cutter {
            let before = up.load(Ordering::SeqCst);
            let boundary = (before / every + 1) * every;
            if before + n >= boundary {
                take = boundary - before;
                cut = true;
                cuts.fetch_add(1, Ordering::SeqCst);
            }
            up.fetch_add(take, Ordering::SeqCst);
        }
        if to.write_all(&buf[..take as usize]).await.is_err() {
            return;
        }
        sent += take;
        if cut {
            // Both sockets close when the connection's task ends: the link is down.
            return;
        }
        let due = started + Duration::from_secs_f64(sent as f64 / rate as f64);
        tokio::time::sleep_until(due).await;
    }
}

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
    let link = Link::start(upstream, 64_000 / 8, 200 * 1024).await;
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

//! Webhooks: subscriptions and their checks, and delivery to a real receiver on this machine:
//! signatures, retries, the delivery log, restarts and two servers sharing one database.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use fieldstar::webhooks::outbox;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::both_backends;
use crate::helpers::*;

/// What the receiver saw of one request.
#[derive(Clone, Debug)]
struct Received {
    event: String,
    delivery: String,
    signature: String,
    content_type: String,
    body: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    got: Mutex<Vec<Received>>,
    /// Statuses to answer, in order; 200 once they run out.
    script: Mutex<VecDeque<u16>>,
}

struct Receiver {
    url: String,
    shared: Arc<Shared>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Receiver {
        let shared = Arc::new(Shared {
            got: Mutex::new(Vec::new()),
            script: Mutex::new(script.iter().copied().collect()),
        });
        let data = web::Data::from(shared.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks/fieldstar"),
            shared,
        }
    }

    fn got(&self) -> Vec<Received> {
        self.shared.got.lock().unwrap().clone()
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    shared.got.lock().unwrap().push(Received {
        event: header("x-fieldstar-event"),
        delivery: header("x-fieldstar-delivery"),
        signature: header("x-fieldstar-signature"),
        content_type: header("content-type"),
        body: body.to_vec(),
    });
    let status = shared.script.lock().unwrap().pop_front().unwrap_or(200);
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

/// What a subscriber does: recompute the HMAC of the raw body and compare in constant time.
fn signature_is_valid(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

async fn enqueue(
    app: &TestApp,
    county_code: &str,
    event_type: &'static str,
    data: Value,
) -> String {
    let db = app.state.db.clone();
    let code = county_code.to_string();
    db.write(move |conn| {
        let county = fieldstar::org::OrgUnit::find_by_code(conn, &code)?.expect("county");
        Ok(outbox::enqueue(conn, &county.id, event_type, data)?)
    })
    .await
    .expect("enqueue")
}

async fn subscribe(app: &TestApp, token: &str, url: &str, events: &[&str]) -> Value {
    let res = app
        .post(
            "/api/v1/webhooks",
            token,
            &json!({"url": url, "events": events}),
        )
        .await;
    assert_eq!(res.status(), 201);
    json_of(res).await
}

async fn deliveries(app: &TestApp, token: &str, hook: &str) -> Vec<Value> {
    let page = json_of(
        app.get(&format!("/api/v1/webhooks/{hook}/deliveries"), token)
            .await,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

/// Receivers live on 127.0.0.1: these servers allow private targets and poll often.
const FAST: [(&str, &str); 3] = [
    ("FIELDSTAR_WEBHOOK_ALLOW_PRIVATE", "1"),
    ("FIELDSTAR_WEBHOOK_POLL_MS", "50"),
    ("FIELDSTAR_WEBHOOK_RETRY_BASE_MS", "200"),
];

/// Declares each test once and runs it on both databases with extra configuration. Each test
/// stops the servers it ends with (restarts replace the first one).
macro_rules! both_backends_with {
    ($vars:expr; $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[actix_web::test]
                async fn sqlite() {
                    let app = spawn_app_with(Backend::Sqlite, &$vars).await.unwrap();
                    super::$name(app).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    if let Some(app) = spawn_app_with(Backend::Postgres, &$vars).await {
                        super::$name(app).await;
                    }
                }
            }
        )+
    };
}

both_backends!(admins_subscribe_checked_urls_and_see_the_secret_once);

async fn admins_subscribe_checked_urls_and_see_the_secret_once(app: TestApp) {
    seed_two_counties(&app).await;
    let admin = app.login("admin").await;
    for (body, field) in [
        (
            json!({"url": "ftp://93.184.216.34/x", "events": ["inspection.submitted"]}),
            "url",
        ),
        (
            json!({"url": "not a url", "events": ["inspection.submitted"]}),
            "url",
        ),
        (
            json!({"url": "https://93.184.216.34/x", "events": []}),
            "events",
        ),
        (
            json!({"url": "https://93.184.216.34/x", "events": ["inspection.eaten"]}),
            "events[0]",
        ),
        (json!({"url": "https://93.184.216.34/x"}), "events"),
        (
            json!({"url": "https://93.184.216.34/x", "events": ["inspection.submitted"], "x": 1}),
            "x",
        ),
    ] {
        let problem =
            assert_problem(app.post("/api/v1/webhooks", &admin.token, &body).await, 422).await;
        assert!(problem.to_string().contains(field), "{body}: {problem}");
    }
    for private in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://172.16.3.4/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        // Forms the IANA special-purpose registries hold, as an attacker writes them.
        "http://[::127.0.0.1]/hook",
        "http://[64:ff9b::7f00:1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "http://[2002:7f00:1::]/hook",
        "http://[2002:a9fe:a9fe::1]/hook",
        "http://[::ffff:0:7f00:1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://198.18.0.1/hook",
        "http://198.19.255.254/hook",
        "http://240.0.0.1/hook",
        "http://255.255.255.255/hook",
        "http://192.0.0.1/hook",
        "http://192.0.0.170/hook",
        "http://192.0.2.10/hook",
        "http://198.51.100.7/hook",
        "http://203.0.113.9/hook",
        "http://100.64.0.1/hook",
        "http://[fec0::1]/hook",
        "http://[100::1]/hook",
        "http://[2001:db8::1]/hook",
        "http://[2001::1]/hook",
        "http://[ff02::1]/hook",
        "http://2130706433/hook",
        "http://0x7f.0.0.1/hook",
    ] {
        let body = json!({"url": private, "events": ["inspection.submitted"]});
        let problem =
            assert_problem(app.post("/api/v1/webhooks", &admin.token, &body).await, 422).await;
        assert_eq!(problem["errors"][0]["field"], "url", "{private}");
        assert!(
            problem["detail"].as_str().unwrap().contains("not allowed"),
            "{private}: {problem}"
        );
    }
    let reviewer = app.login("reviewer1").await;
    let body = json!({"url": "https://93.184.216.34/hook", "events": ["inspection.decided"]});
    assert_problem(
        app.post("/api/v1/webhooks", &reviewer.token, &body).await,
        403,
    )
    .await;
    assert_problem(app.get("/api/v1/webhooks", &reviewer.token).await, 403).await;

    let created = subscribe(
        &app,
        &admin.token,
        "https://93.184.216.34/hook",
        &["inspection.decided", "star_status.changed"],
    )
    .await;
    let secret = created["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 64);
    assert!(secret.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(created["url"], "https://93.184.216.34/hook");
    assert_eq!(
        created["events"],
        json!(["inspection.decided", "star_status.changed"])
    );
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    let id = created["id"].as_str().unwrap();

    let list = json_of(app.get("/api/v1/webhooks", &admin.token).await).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], id);
    assert!(
        list["items"][0].get("secret").is_none(),
        "the secret is shown once"
    );
    assert!(!list.to_string().contains(secret));
    assert!(deliveries(&app, &admin.token, id).await.is_empty());

    let east = app.login("east-admin").await;
    assert!(
        json_of(app.get("/api/v1/webhooks", &east.token).await).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_problem(
        app.get(&format!("/api/v1/webhooks/{id}/deliveries"), &east.token)
            .await,
        404,
    )
    .await;
    let res = app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/webhooks/{id}"),
            Some(&east.token),
        )
        .send()
        .await
        .unwrap();
    assert_problem(res, 404).await;

    let audit = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type=webhook&entity_id={id}"),
            &admin.token,
        )
        .await,
    )
    .await;
    assert_eq!(audit["items"][0]["action"], "webhook.created");
    assert!(
        !audit.to_string().contains(secret),
        "the audit log never holds the secret"
    );

    let res = app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/webhooks/{id}"),
            Some(&admin.token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(
        json_of(app.get("/api/v1/webhooks", &admin.token).await).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_problem(
        app.get(&format!("/api/v1/webhooks/{id}/deliveries"), &admin.token)
            .await,
        404,
    )
    .await;
    let audit = json_of(
        app.get(
            &format!("/api/v1/audit?entity_type=webhook&entity_id={id}"),
            &admin.token,
        )
        .await,
    )
    .await;
    assert_eq!(audit["items"][0]["action"], "webhook.deleted");
}

both_backends_with!(
    FAST;
    every_event_type_reaches_the_receiver_signed,
    a_failed_delivery_is_retried_and_logged,
    an_unreachable_or_refused_target_is_a_failed_attempt,
    a_name_that_now_resolves_to_a_refused_address_is_not_sent,
    a_restart_in_the_middle_of_deliveries_loses_nothing,
    a_job_locked_by_a_crashed_process_is_retried_after_the_lock_lapses,
    old_webhook_records_are_pruned_and_pending_ones_kept,
    two_servers_on_one_database_deliver_each_event_once,
);

async fn every_event_type_reaches_the_receiver_signed(app: TestApp) {
    seed_two_counties(&app).await;
    let receiver = Receiver::start(&[]).await;
    let admin = app.login("admin").await;
    let hook = subscribe(&app, &admin.token, &receiver.url, &outbox::EVENT_TYPES).await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    // A subscription to one type only, and another county's event, get nothing else.
    let narrow = subscribe(&app, &admin.token, &receiver.url, &["star_status.changed"]).await;

    let mut ids = Vec::new();
    for (i, event_type) in outbox::EVENT_TYPES.into_iter().enumerate() {
        ids.push(enqueue(&app, "DEMO", event_type, json!({"n": i, "name": "村"})).await);
    }
    enqueue(&app, "EAST", outbox::INSPECTION_SUBMITTED, json!({})).await;

    let all = outbox::EVENT_TYPES.len() + 1;
    assert!(
        eventually(15, || async { receiver.got().len() >= all }).await,
        "{:?}",
        receiver.got()
    );
    let got = receiver.got();
    assert_eq!(
        got.len(),
        all,
        "each type to the full subscription, one to the narrow one"
    );
    for r in got.iter() {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(r.content_type, "application/json");
        assert_eq!(r.event, body["type"].as_str().unwrap());
        assert!(!r.delivery.is_empty());
        assert!(ids.contains(&body["id"].as_str().unwrap().to_string()));
        assert!(body["occurred_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(body["data"]["name"], "村");
        assert_eq!(body.as_object().unwrap().len(), 4, "{body}");
    }
    let full: Vec<&Received> = got
        .iter()
        .filter(|r| signature_is_valid(&secret, &r.body, &r.signature))
        .collect();
    assert_eq!(
        full.len(),
        outbox::EVENT_TYPES.len(),
        "each event of the full subscription carries its valid signature"
    );
    let mut types: Vec<&str> = full.iter().map(|r| r.event.as_str()).collect();
    types.sort();
    let mut expected = outbox::EVENT_TYPES.to_vec();
    expected.sort();
    assert_eq!(types, expected);
    assert!(!signature_is_valid(
        "another secret",
        &full[0].body,
        &full[0].signature
    ));

    // The receiver answers before the worker records the attempt.
    let hook_id = hook["id"].as_str().unwrap();
    let narrow_id = narrow["id"].as_str().unwrap();
    assert!(
        eventually(5, || async {
            deliveries(&app, &admin.token, hook_id).await.len() == outbox::EVENT_TYPES.len()
                && deliveries(&app, &admin.token, narrow_id).await.len() == 1
        })
        .await
    );
    let log = deliveries(&app, &admin.token, hook_id).await;
    for d in &log {
        assert_eq!(d["attempt"], 1);
        assert_eq!(d["status_code"], 200);
        assert!(d.get("error").is_none());
    }
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("fieldstar_webhook_deliveries_total"),
        "{metrics}"
    );
    app.stop_handle().stop(false).await;
}

async fn a_failed_delivery_is_retried_and_logged(app: TestApp) {
    seed_two_counties(&app).await;
    let receiver = Receiver::start(&[500]).await;
    let admin = app.login("admin").await;
    let hook = subscribe(&app, &admin.token, &receiver.url, &["inspection.decided"]).await;
    let hook_id = hook["id"].as_str().unwrap().to_string();
    let event = enqueue(
        &app,
        "DEMO",
        outbox::INSPECTION_DECIDED,
        json!({"decision": "approve"}),
    )
    .await;

    assert!(eventually(15, || async { receiver.got().len() >= 2 }).await);
    let got = receiver.got();
    assert_eq!(got[0].delivery, got[1].delivery, "one job, retried");
    assert_eq!(got[0].body, got[1].body, "the same event, byte for byte");
    assert!(
        eventually(5, || async {
            deliveries(&app, &admin.token, &hook_id).await.len() == 2
        })
        .await
    );
    let log = deliveries(&app, &admin.token, &hook_id).await;
    assert_eq!(
        (log[0]["attempt"].clone(), log[0]["status_code"].clone()),
        (json!(2), json!(200))
    );
    assert_eq!(
        (log[1]["attempt"].clone(), log[1]["status_code"].clone()),
        (json!(1), json!(500))
    );
    assert!(log.iter().all(|d| d["event_id"] == event.as_str()));
    // Delivered: nothing more comes.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(receiver.got().len(), 2);
    app.stop_handle().stop(false).await;
}

async fn an_unreachable_or_refused_target_is_a_failed_attempt(app: TestApp) {
    seed_two_counties(&app).await;
    let admin = app.login("admin").await;
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hook = subscribe(
        &app,
        &admin.token,
        &format!("http://127.0.0.1:{closed}/x"),
        &["inspection.submitted"],
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap().to_string();
    enqueue(&app, "DEMO", outbox::INSPECTION_SUBMITTED, json!({})).await;
    assert!(
        eventually(10, || async {
            !deliveries(&app, &admin.token, &hook_id).await.is_empty()
        })
        .await
    );
    let log = deliveries(&app, &admin.token, &hook_id).await;
    assert!(log[0].get("status_code").is_none());
    assert!(
        log[0]["error"].as_str().unwrap().contains("connect"),
        "{}",
        log[0]
    );

    // The same database under a server that refuses private targets: checked at delivery.
    let strict = app
        .restart(&[
            ("FIELDSTAR_WEBHOOK_POLL_MS", "50"),
            ("FIELDSTAR_WEBHOOK_RETRY_BASE_MS", "100"),
        ])
        .await;
    let admin = strict.login("admin").await;
    assert!(
        eventually(10, || async {
            deliveries(&strict, &admin.token, &hook_id)
                .await
                .iter()
                .any(|d| d["error"] == "target address not allowed")
        })
        .await
    );
    strict.stop_handle().stop(false).await;
}

async fn a_name_that_now_resolves_to_a_refused_address_is_not_sent(app: TestApp) {
    seed_two_counties(&app).await;
    let receiver = Receiver::start(&[]).await;
    let admin = app.login("admin").await;
    // Subscribed by name while private targets were allowed; the name resolves to loopback.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let hook = subscribe(&app, &admin.token, &by_name, &["inspection.submitted"]).await;
    let hook_id = hook["id"].as_str().unwrap().to_string();
    enqueue(&app, "DEMO", outbox::INSPECTION_SUBMITTED, json!({"n": 1})).await;
    assert!(
        eventually(15, || async { receiver.got().len() == 1 }).await,
        "allowed: delivered by name"
    );

    // Private targets no longer allowed: the name is resolved and checked at delivery.
    let strict = app
        .restart(&[
            ("FIELDSTAR_WEBHOOK_POLL_MS", "50"),
            ("FIELDSTAR_WEBHOOK_RETRY_BASE_MS", "100"),
        ])
        .await;
    let admin = strict.login("admin").await;
    enqueue(
        &strict,
        "DEMO",
        outbox::INSPECTION_SUBMITTED,
        json!({"n": 2}),
    )
    .await;
    assert!(
        eventually(10, || async {
            deliveries(&strict, &admin.token, &hook_id)
                .await
                .iter()
                .filter(|d| d["error"] == "target address not allowed")
                .count()
                >= 2
        })
        .await,
        "{:?}",
        deliveries(&strict, &admin.token, &hook_id).await
    );
    let log = deliveries(&strict, &admin.token, &hook_id).await;
    let refused: Vec<&Value> = log
        .iter()
        .filter(|d| d.get("status_code").is_none())
        .collect();
    assert!(
        refused
            .iter()
            .all(|d| d["error"] == "target address not allowed"),
        "{log:?}"
    );
    assert_eq!(
        receiver.got().len(),
        1,
        "nothing was sent to the refused address, retries included"
    );
    strict.stop_handle().stop(false).await;
}

async fn a_restart_in_the_middle_of_deliveries_loses_nothing(app: TestApp) {
    seed_two_counties(&app).await;
    let receiver = Receiver::start(&[503]).await;
    let admin = app.login("admin").await;
    let hook = subscribe(&app, &admin.token, &receiver.url, &["inspection.returned"]).await;
    let hook_id = hook["id"].as_str().unwrap().to_string();
    let slow = [
        ("FIELDSTAR_WEBHOOK_ALLOW_PRIVATE", "1"),
        ("FIELDSTAR_WEBHOOK_POLL_MS", "50"),
        ("FIELDSTAR_WEBHOOK_RETRY_BASE_MS", "1500"),
    ];
    // First a server that retries slowly: it fails once, then stops before retrying.
    let app = app.restart(&slow).await;
    let event = enqueue(
        &app,
        "DEMO",
        outbox::INSPECTION_RETURNED,
        json!({"comment": "photo missing"}),
    )
    .await;
    assert!(eventually(10, || async { receiver.got().len() == 1 }).await);
    let app = app.restart(&FAST).await;
    let admin = app.login("admin").await;
    assert!(
        eventually(15, || async { receiver.got().len() == 2 }).await,
        "the pending retry survives the restart"
    );
    let body: Value = serde_json::from_slice(&receiver.got()[1].body).unwrap();
    assert_eq!(body["id"], event.as_str());
    assert!(
        eventually(5, || async {
            deliveries(&app, &admin.token, &hook_id).await.len() == 2
        })
        .await
    );
    let log = deliveries(&app, &admin.token, &hook_id).await;
    assert_eq!(log[0]["status_code"], 200);
    assert_eq!(log[1]["status_code"], 503);

    // An event written while no worker runs is delivered by the next server to start.
    let app = app.restart(&[("FIELDSTAR_WORKERS", "0")]).await;
    enqueue(
        &app,
        "DEMO",
        outbox::INSPECTION_RETURNED,
        json!({"comment": "later"}),
    )
    .await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(receiver.got().len(), 2);
    let app = app.restart(&FAST).await;
    assert!(eventually(15, || async { receiver.got().len() == 3 }).await);
    app.stop_handle().stop(false).await;
}

async fn a_job_locked_by_a_crashed_process_is_retried_after_the_lock_lapses(app: TestApp) {
    use diesel::prelude::*;
    use fieldstar::db::schema::webhook_jobs;
    seed_two_counties(&app).await;
    let receiver = Receiver::start(&[]).await;
    let admin = app.login("admin").await;
    subscribe(&app, &admin.token, &receiver.url, &["inspection.submitted"]).await;
    // Fan out with no worker running, then pretend a process claimed the job and died.
    let app = app
        .restart(&[
            ("FIELDSTAR_WORKERS", "0"),
            ("FIELDSTAR_WEBHOOK_ALLOW_PRIVATE", "1"),
        ])
        .await;
    enqueue(&app, "DEMO", outbox::INSPECTION_SUBMITTED, json!({})).await;
    let lock = |seconds: i64| {
        let db = app.state.db.clone();
        async move {
            db.write(move |conn| {
                Ok(diesel::update(webhook_jobs::table)
                    .set(
                        webhook_jobs::locked_until
                            .eq(fieldstar::clock::now() + chrono::TimeDelta::seconds(seconds)),
                    )
                    .execute(conn)?)
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(
        fieldstar::webhooks::run_once(&app.state).await,
        1,
        "fan-out and delivery in one pass"
    );
    assert_eq!(receiver.got().len(), 1);
    enqueue(&app, "DEMO", outbox::INSPECTION_SUBMITTED, json!({})).await;
    let _ = app
        .state
        .db
        .write(|conn| {
            // Fan out only: mark dispatched and create the job, as a crashed process did.
            Ok(fieldstar::webhooks::worker::dispatch_events(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(lock(60).await, 2);
    assert_eq!(
        fieldstar::webhooks::run_once(&app.state).await,
        0,
        "a live lock is respected"
    );
    assert_eq!(lock(-1).await, 2);
    assert_eq!(
        fieldstar::webhooks::run_once(&app.state).await,
        1,
        "a lapsed lock is taken over"
    );
    assert_eq!(receiver.got().len(), 2);
    app.stop_handle().stop(false).await;
}

async fn old_webhook_records_are_pruned_and_pending_ones_kept(app: TestApp) {
    use diesel::prelude::*;
    use fieldstar::db::schema::{outbox_events, webhook_deliveries, webhook_jobs};
    use fieldstar::webhooks::worker::{dispatch_events, prune, Pruned};
    seed_two_counties(&app).await;
    let receiver = Receiver::start(&[]).await;
    let admin = app.login("admin").await;
    subscribe(&app, &admin.token, &receiver.url, &["inspection.submitted"]).await;
    let app = app
        .restart(&[
            ("FIELDSTAR_WORKERS", "0"),
            ("FIELDSTAR_WEBHOOK_ALLOW_PRIVATE", "1"),
        ])
        .await;
    // Two events delivered (a job and a log entry each), a third fanned out and pending.
    enqueue(&app, "DEMO", outbox::INSPECTION_SUBMITTED, json!({"n": 1})).await;
    enqueue(&app, "DEMO", outbox::INSPECTION_SUBMITTED, json!({"n": 2})).await;
    assert_eq!(fieldstar::webhooks::run_once(&app.state).await, 2);
    let pending = enqueue(&app, "DEMO", outbox::INSPECTION_SUBMITTED, json!({"n": 3})).await;
    app.state
        .db
        .write(|conn| Ok(dispatch_events(conn)?))
        .await
        .unwrap();
    let counts = || {
        let db = app.state.db.clone();
        async move {
            db.read(|conn| {
                Ok((
                    webhook_deliveries::table.count().get_result::<i64>(conn)?,
                    webhook_jobs::table.count().get_result::<i64>(conn)?,
                    outbox_events::table
                        .select(outbox_events::id)
                        .load::<String>(conn)?,
                ))
            })
            .await
            .unwrap()
        }
    };
    let cutoff = fieldstar::clock::now() - chrono::TimeDelta::days(30);
    assert_eq!(
        prune(&app.state, cutoff).await.unwrap(),
        Pruned::default(),
        "nothing is old yet"
    );

    // Forty days later.
    let old = fieldstar::clock::now() - chrono::TimeDelta::days(40);
    app.state
        .db
        .write(move |conn| {
            diesel::update(webhook_deliveries::table)
                .set(webhook_deliveries::at.eq(old))
                .execute(conn)?;
            diesel::update(webhook_jobs::table)
                .set(webhook_jobs::created_at.eq(old))
                .execute(conn)?;
            diesel::update(outbox_events::table)
                .set(outbox_events::occurred_at.eq(old))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let (_, _, events_before) = counts().await;
    let pruned = prune(&app.state, cutoff).await.unwrap();
    assert_eq!((pruned.deliveries, pruned.jobs), (2, 2));
    assert_eq!(
        pruned.events,
        events_before.len() - 1,
        "every dispatched event but the pending one"
    );
    assert_eq!(counts().await, (0, 1, vec![pending]));
    assert_eq!(
        prune(&app.state, cutoff).await.unwrap().total(),
        0,
        "pruning again deletes nothing"
    );

    // The pending job is still delivered.
    assert_eq!(fieldstar::webhooks::run_once(&app.state).await, 1);
    assert_eq!(receiver.got().len(), 3);
    app.stop_handle().stop(false).await;
}

async fn two_servers_on_one_database_deliver_each_event_once(app: TestApp) {
    seed_two_counties(&app).await;
    let receiver = Receiver::start(&[]).await;
    let admin = app.login("admin").await;
    subscribe(&app, &admin.token, &receiver.url, &["inspection.submitted"]).await;
    let other = app.sibling(&FAST).await;
    let third = app.sibling(&FAST).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(enqueue(&app, "DEMO", outbox::INSPECTION_SUBMITTED, json!({"n": i})).await);
    }
    assert!(
        eventually(20, || async { receiver.got().len() >= 30 }).await,
        "{}",
        receiver.got().len()
    );
    actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
    let got = receiver.got();
    assert_eq!(got.len(), 30, "no event delivered twice");
    let mut seen: Vec<String> = got
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
    app.stop_handle().stop(false).await;
    other.stop_handle().stop(false).await;
    third.stop_handle().stop(false).await;
}

both_backends_with!(
    FAST;
    the_review_flow_announces_each_event_signed,
);

async fn the_review_flow_announces_each_event_signed(app: TestApp) {
    let f = crate::flow::field_county(&app).await;
    let receiver = Receiver::start(&[]).await;
    let hook = subscribe(&app, &f.admin.token, &receiver.url, &outbox::EVENT_TYPES).await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    let d = crate::flow::declare(&app, &f.secretary.token, "FIELD-V1", 1).await;
    let s = crate::flow::submission(&app, &f.inspector.token, &d, crate::flow::VILLAGE, 71).await;
    crate::flow::submit(&app, &f.inspector.token, &s).await;
    let returned = crate::flow::decide_claimed(
        &app,
        &f.reviewer.token,
        &s.id,
        json!({"decision": "return", "comment": "sharper photos"}),
    )
    .await;
    assert_eq!(returned.status(), 201);
    let mut again = s.body.clone();
    again["answers"]["policy_count"] = json!(4);
    assert_eq!(
        app.put(
            &format!("/api/v1/inspections/{}", s.id),
            &f.inspector.token,
            &again
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        crate::flow::approve_jointly(&app, &f, &s.id, json!({"decision": "approve"}))
            .await
            .status(),
        201
    );
    let want = [
        "inspection.submitted",
        "inspection.returned",
        "inspection.decided",
        "star_status.changed",
    ];
    let all_arrived = eventually(20, || async {
        let got: Vec<String> = receiver.got().iter().map(|r| r.event.clone()).collect();
        want.iter().all(|w| got.iter().any(|g| g == w))
    })
    .await;
    assert!(
        all_arrived,
        "{:?}",
        receiver.got().iter().map(|r| &r.event).collect::<Vec<_>>()
    );
    for r in receiver.got() {
        assert!(
            signature_is_valid(&secret, &r.body, &r.signature),
            "{}",
            r.event
        );
        let event: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(event["type"].as_str(), Some(r.event.as_str()));
    }
    let submitted = receiver
        .got()
        .iter()
        .filter(|r| r.event == "inspection.submitted")
        .count();
    assert_eq!(submitted, 2, "revision 1 and revision 2");
}

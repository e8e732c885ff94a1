//! Leases: webhook delivery and the quarter's renewals run in one process at a time. Two
//! servers on one PostgreSQL database: one holds each lease, and when it stops the other
//! takes it over. On SQLite the one process always holds what it runs.

use std::time::Duration;

use serde_json::Value;

use crate::both_backends;
use crate::helpers::*;

async fn leases(app: &TestApp) -> Value {
    let res = app
        .client
        .get(app.url("/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["leases"].clone()
}

async fn holds(app: &TestApp, work: &str) -> bool {
    leases(app).await[work] == true
}

both_backends!(one_process_holds_each_lease_and_another_takes_over_when_it_stops);

async fn one_process_holds_each_lease_and_another_takes_over_when_it_stops(app: TestApp) {
    const FAST: (&str, &str) = ("FIELDSTAR_LEASE_RETRY_SECS", "1");
    // The harness starts servers without renewals; this one runs both kinds of work.
    let first = app.restart(&[FAST, ("FIELDSTAR_RENEWALS", "1")]).await;
    assert!(
        eventually(20, || async {
            holds(&first, "webhooks").await && holds(&first, "renewals").await
        })
        .await,
        "{}",
        leases(&first).await
    );
    if first.backend == Backend::Sqlite {
        // One process: it holds what it runs, and nothing it does not run.
        let app = first.restart(&[FAST, ("FIELDSTAR_WORKERS", "0")]).await;
        let l = leases(&app).await;
        assert_eq!(l["webhooks"], false, "{l}");
        assert_eq!(l["renewals"], false, "{l}");
        return;
    }
    let second = first.sibling(&[FAST, ("FIELDSTAR_RENEWALS", "1")]).await;
    // Several tries of the second: it never gets a lease the first holds.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let l = leases(&second).await;
    assert_eq!(l["webhooks"], false, "{l}");
    assert_eq!(l["renewals"], false, "{l}");
    assert!(holds(&first, "webhooks").await);

    // The first stops: the second takes both leases at its next try.
    first.state.webhooks.stop().await;
    first.stop_handle().stop(true).await;
    let gone = first.state.leases.clone();
    tokio::task::spawn_blocking(move || gone.stop())
        .await
        .unwrap();
    assert!(
        eventually(20, || async {
            holds(&second, "webhooks").await && holds(&second, "renewals").await
        })
        .await,
        "{}",
        leases(&second).await
    );
    // The first comes back: the leases stay where they are.
    let first = first.restart(&[FAST, ("FIELDSTAR_RENEWALS", "1")]).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let l = leases(&first).await;
    assert_eq!(l["webhooks"], false, "{l}");
    assert!(holds(&second, "webhooks").await);
}

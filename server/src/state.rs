//! What every handler shares: configuration, database, keys, storage, metrics and the
//! process's workers. Built once by `app::Application`; the modules below the handlers
//! (http, audit, auth, workers) take it from here, never from `app`.

use std::sync::Arc;

use crate::auth::token::TokenKeys;
use crate::config::Config;
use crate::db::Db;
use crate::http::middleware::Metrics;
use crate::storage::Storage;

pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub tokens: TokenKeys,
    pub storage: Storage,
    pub metrics: Metrics,
    /// The photo decoding threads, one per core, so uploads cannot exhaust CPU or memory.
    pub photo_decoders: crate::photo::decoders::Decoders,
    /// Per-user photo upload limits (in flight, bytes per hour).
    pub upload_quota: crate::photo::quota::UploadQuota,
    /// The webhook delivery worker of this process (running when `config.run_workers`).
    pub webhooks: crate::webhooks::WorkerHandle,
    /// The leases of work that runs in one process at a time (webhooks, renewals).
    pub leases: Arc<crate::lease::Leases>,
    /// Where `/metrics` is served when `FIELDSTAR_METRICS_ADDR` is set (the bound address).
    pub metrics_address: Option<std::net::SocketAddr>,
}

//! Start-up: the shared state, the route table (which is also the OpenAPI document), and the
//! `Application` that binds a listener (port 0 picks a free one, as the tests do).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Compress};
use actix_web::{web, App, HttpRequest, HttpResponse};
use tracing_actix_web::TracingLogger;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::AppExt;

use crate::auth::token::TokenKeys;
use crate::config::Config;
use crate::db::Db;
use crate::error::ApiError;
use crate::http::middleware::{created_location, observe, security_headers, Metrics};
use crate::state::AppState;
use crate::storage::Storage;
use crate::telemetry::RequestSpan;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "fieldstar",
        description = "Quarterly on-site verification of star-rated villages: inspections with photo evidence, review, star status and mentoring.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth"), (name = "org"), (name = "users"), (name = "checklists"),
        (name = "declarations"), (name = "inspections"), (name = "photos"), (name = "uploads"), (name = "review"),
        (name = "stars"), (name = "mentoring"), (name = "benefits"), (name = "reports"), (name = "webhooks"),
        (name = "audit"), (name = "ops")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every route of the API. Registered as services so that each lands in the OpenAPI document.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(crate::ops::healthz)
        .service(crate::ops::readyz)
        .service(crate::ops::metrics)
        .service(crate::ops::openapi_yaml)
        .service(crate::ops::docs_redirect)
        .service(crate::auth::routes::login)
        .service(crate::auth::routes::refresh)
        .service(crate::auth::routes::logout)
        .service(crate::auth::routes::me)
        .service(crate::org::routes::list_org_units)
        .service(crate::org::routes::create_org_unit)
        .service(crate::org::routes::import_org_units)
        .service(crate::org::routes::get_org_unit)
        .service(crate::org::routes::update_org_unit)
        .service(crate::users::routes::list_users)
        .service(crate::users::routes::create_user)
        .service(crate::users::routes::update_user)
        .service(crate::audit::list_audit)
        .service(crate::checklist::routes::list_checklists)
        .service(crate::checklist::routes::create_checklist)
        .service(crate::checklist::routes::get_checklist_version)
        .service(crate::checklist::routes::publish_checklist_version)
        .service(crate::declarations::routes::create_declaration)
        .service(crate::declarations::routes::list_declarations)
        .service(crate::declarations::precheck::forward)
        .service(crate::declarations::precheck::send_back)
        .service(crate::declarations::routes::get_quarter_window)
        .service(crate::declarations::routes::put_quarter_window)
        // The worklist before `{id}`, which would otherwise match it.
        .service(crate::inspection::routes::worklist)
        .service(crate::inspection::routes::list_inspections)
        .service(crate::inspection::routes::put_inspection)
        .service(crate::review::routes::review_queue)
        .service(crate::review::routes::claim)
        .service(crate::review::routes::release)
        .service(crate::review::routes::decision)
        .service(crate::review::routes::reopen)
        .service(crate::review::routes::bulk_approve)
        .service(crate::inspection::routes::cancel_inspection)
        .service(crate::inspection::record::record)
        .service(crate::inspection::routes::get_inspection)
        .service(crate::photo::routes::put_photo)
        .service(crate::photo::routes::get_photo)
        .service(crate::photo::tus::options_uploads)
        .service(crate::photo::tus::create_upload)
        .service(crate::photo::tus::head_upload)
        .service(crate::photo::tus::patch_upload)
        .service(crate::photo::tus::delete_upload)
        .service(crate::mentoring::routes::list_members)
        .service(crate::mentoring::routes::create_member)
        .service(crate::mentoring::routes::update_member)
        .service(crate::mentoring::routes::list_mentees)
        .service(crate::mentoring::routes::create_mentee)
        .service(crate::mentoring::routes::update_mentee)
        .service(crate::mentoring::routes::put_visit)
        .service(crate::mentoring::routes::list_visits)
        .service(crate::mentoring::routes::village_mentoring)
        .service(crate::mentoring::routes::mentoring_report)
        .service(crate::reports::routes::stars_report)
        .service(crate::reports::routes::reviews_report)
        .service(crate::reports::routes::unverified_report)
        .service(crate::reports::routes::benefits_report)
        .service(crate::reports::routes::inspections_report)
        .service(crate::benefits::routes::get_catalogue)
        .service(crate::benefits::routes::save_catalogue)
        .service(crate::benefits::routes::list_versions)
        .service(crate::benefits::routes::get_version)
        .service(crate::stars::routes::get_star_status)
        .service(crate::stars::routes::get_policy)
        .service(crate::stars::routes::update_policy)
        .service(crate::webhooks::routes::list_webhooks)
        .service(crate::webhooks::routes::create_webhook)
        .service(crate::webhooks::routes::delete_webhook)
        .service(crate::webhooks::routes::list_deliveries);
}

/// The OpenAPI document, built from the same route table the server runs.
pub fn openapi() -> OpenApiDoc {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    crate::spec::complete(problems_as_problem_json(api))
}

/// Error answers are `application/problem+json`: say so in the spec for every `Problem` body.
fn problems_as_problem_json(mut api: OpenApiDoc) -> OpenApiDoc {
    use utoipa::openapi::RefOr;
    for item in api.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            for response in op.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let is_problem = response.content.get("application/json").is_some_and(|c| {
                    matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
                });
                if is_problem {
                    if let Some(c) = response.content.shift_remove("application/json") {
                        response
                            .content
                            .insert("application/problem+json".to_string(), c);
                    }
                }
            }
        }
    }
    api
}

pub fn openapi_yaml() -> String {
    quote_yaml11_booleans(&openapi().to_yaml().unwrap_or_default())
}

/// YAML 1.1 parsers (PyYAML, openapi-spec-validator) read a bare `on`, `off`, `yes`, `no`, `y`
/// or `n` as a boolean: quote those words where they stand as a key or a list item, so the
/// property `on` of a history entry stays a string for every reader.
fn quote_yaml11_booleans(yaml: &str) -> String {
    const WORDS: [&str; 6] = ["on", "off", "yes", "no", "y", "n"];
    let quote = |line: &str| -> Option<String> {
        let rest = line.trim_start();
        let indent = &line[..line.len() - rest.len()];
        if let Some(item) = rest.strip_prefix("- ") {
            return WORDS.contains(&item).then(|| format!("{indent}- '{item}'"));
        }
        let (key, after) = rest.split_once(':')?;
        WORDS
            .contains(&key)
            .then(|| format!("{indent}'{key}':{after}"))
    };
    yaml.lines()
        .map(|line| quote(line).unwrap_or_else(|| line.to_string()) + "\n")
        .collect()
}

pub struct Application {
    port: u16,
    server: Server,
    /// The metrics listener's server (`FIELDSTAR_METRICS_ADDR`), running on its own task.
    metrics_server: Option<actix_web::dev::ServerHandle>,
    pub state: web::Data<AppState>,
}

impl Application {
    /// Connects, migrates, binds and builds the server; `run` serves until stopped.
    pub async fn build(config: Config) -> Result<Self, String> {
        let listener = TcpListener::bind(config.bind)
            .map_err(|e| format!("FIELDSTAR_BIND: cannot listen on {}: {e}", config.bind))?;
        Self::build_with_listener(config, listener).await
    }

    pub async fn build_with_listener(
        config: Config,
        listener: TcpListener,
    ) -> Result<Self, String> {
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let db_url = config.database_url.clone();
        let pool_size = config.db_pool_size;
        let db = crate::db::blocking(move || {
            let db = Db::connect(&db_url, pool_size).map_err(ApiError::unavailable)?;
            db.migrate().map_err(ApiError::unavailable)?;
            let mut conn = db.get()?;
            crate::db::write_tx(&mut conn, crate::checklist::store::ensure_defaults)?;
            drop(conn);
            Ok(db)
        })
        .await
        .map_err(|e| format!("FIELDSTAR_DATABASE_URL: {}", e.detail))?;
        let storage = Storage::from_url(&config.storage_url, &config.s3)?;
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .map_err(|e| format!("FIELDSTAR_METRICS_ADDR: cannot listen on {addr}: {e}"))?,
            ),
            None => None,
        };
        let metrics_address = match &metrics_listener {
            Some(l) => Some(l.local_addr().map_err(|e| e.to_string())?),
            None => None,
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let upload_quota = crate::photo::quota::UploadQuota::new(
            config.photo_uploads_per_user,
            config.photo_bytes_per_hour,
        );
        let decoders = crate::photo::decoders::Decoders::start(cores, config.decode_budget_mib)?;
        let state = web::Data::new(AppState {
            tokens: TokenKeys::new(&config.jwt_secret),
            config: Arc::new(config),
            db,
            storage,
            metrics: Metrics::default(),
            photo_decoders: decoders,
            upload_quota,
            webhooks: crate::webhooks::WorkerHandle::default(),
            leases: Arc::default(),
            metrics_address,
        });
        // Blobs a crash left between their write and the row's commit. In the background: it
        // lists the whole store, which must not hold up readiness.
        let sweeper = state.clone();
        actix_web::rt::spawn(async move {
            match crate::photo::store::sweep_orphans(&sweeper).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "removed orphan photo blobs"),
                Err(e) => tracing::warn!(error = %e, "the orphan photo sweep failed"),
            }
            // Resumable uploads expire after a day: at start-up, then hourly.
            loop {
                match crate::photo::tus::sweep_expired(&sweeper).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "removed expired uploads"),
                    Err(e) => tracing::warn!(error = %e, "the expired upload sweep failed"),
                }
                actix_web::rt::time::sleep(std::time::Duration::from_secs(3600)).await;
            }
        });
        let wanted: Vec<crate::lease::Work> = [
            (state.config.run_workers, crate::lease::Work::Webhooks),
            (state.config.run_renewals, crate::lease::Work::Renewals),
        ]
        .into_iter()
        .filter_map(|(on, work)| on.then_some(work))
        .collect();
        state.leases.start(
            &state.config.database_url,
            &wanted,
            state.config.lease_retry,
        );
        if state.config.run_workers {
            state.webhooks.start(state.clone());
        }
        if state.config.run_renewals {
            crate::declarations::renewals::spawn(state.clone());
        }
        let api = web::Data::new(AllowedMethods::from(&openapi()));
        let data = state.clone();
        let workers = state.config.http_workers;
        let handle_signals = state.config.handle_signals;
        let hsts = state.config.tls.is_some();
        let connections = crate::http::pace::on_connect(
            crate::http::pace::Connections::new(state.config.connections_per_address),
            state.config.trusted_proxies.clone(),
        );
        let mut server = actix_web::HttpServer::new(move || {
            let (app, _) =
                App::new()
                    .into_utoipa_app()
                    .app_data(data.clone())
                    .app_data(api.clone())
                    .app_data(web::QueryConfig::default().error_handler(|e, _| {
                        ApiError::validation(vec![crate::error::FieldError::new(
                            "query",
                            crate::i18n::Rule::Malformed.with("why", e.to_string()),
                        )])
                        .into()
                    }))
                    .app_data(web::PathConfig::default().error_handler(|e, _| {
                        ApiError::bad_request("bad_path", e.to_string()).into()
                    }))
                    .configure(routes)
                    .split_for_parts();
            app.service(crate::ops::swagger_ui())
                .default_service(web::to(not_found))
                .wrap(from_fn(created_location))
                .wrap(from_fn(crate::i18n::localize))
                .wrap(Compress::default())
                .wrap(security_headers(hsts))
                .wrap(from_fn(observe))
                .wrap(from_fn(crate::http::pace::pace))
                .wrap(TracingLogger::<RequestSpan>::new())
        })
        .on_connect(connections)
        .shutdown_timeout(20)
        // Slow clients hold a connection only so long: headers within 10 s, an idle
        // keep-alive connection 30 s, a closing one 5 s; bodies keep a pace (`http::pace`).
        .client_request_timeout(std::time::Duration::from_secs(10))
        .client_disconnect_timeout(std::time::Duration::from_secs(5))
        .keep_alive(std::time::Duration::from_secs(30));
        if let Some(n) = workers {
            server = server.workers(n);
        }
        if !handle_signals {
            server = server.disable_signals();
        }
        let server = match &state.config.tls {
            Some(files) => server.listen_rustls_0_23(
                listener,
                crate::http::tls::server_config(files).map_err(|e| e.to_string())?,
            ),
            None => server.listen(listener),
        }
        .map_err(|e| e.to_string())?
        .run();
        let metrics_server = match metrics_listener {
            Some(l) => Some(metrics_server(state.clone(), l, handle_signals)?),
            None => None,
        };
        Ok(Self {
            port,
            server,
            metrics_server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server stops (SIGTERM or SIGINT stop it gracefully).
    pub async fn run(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Some(metrics) = self.metrics_server {
            metrics.stop(true).await;
        }
        served
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn into_server(self) -> Server {
        self.server
    }
}

/// `/metrics` alone on its own listener (one worker), so that it need not be exposed where the
/// API is. Runs on a task of its own; `Application::run` stops it after the main server.
fn metrics_server(
    state: web::Data<AppState>,
    listener: TcpListener,
    handle_signals: bool,
) -> Result<actix_web::dev::ServerHandle, String> {
    let mut server = actix_web::HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(crate::ops::metrics_text))
    })
    .workers(1)
    .shutdown_timeout(5);
    if !handle_signals {
        server = server.disable_signals();
    }
    let server = server.listen(listener).map_err(|e| e.to_string())?.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Ok(handle)
}

/// The path templates of the API and their methods, to answer 405 rather than 404.
struct AllowedMethods(Vec<(actix_web::dev::ResourceDef, String)>);

impl From<&OpenApiDoc> for AllowedMethods {
    fn from(api: &OpenApiDoc) -> Self {
        let list = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let mut methods: Vec<&str> = Vec::new();
                for (m, present) in [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ] {
                    if present {
                        methods.push(m);
                    }
                }
                (
                    actix_web::dev::ResourceDef::new(path.as_str()),
                    methods.join(", "),
                )
            })
            .collect();
        AllowedMethods(list)
    }
}

async fn not_found(
    req: HttpRequest,
    api: web::Data<AllowedMethods>,
) -> Result<HttpResponse, ApiError> {
    if let Some(page) = crate::web::serve(&req) {
        return Ok(page);
    }
    let path = req.path();
    match api.0.iter().find(|(def, _)| def.is_match(path)) {
        Some((_, allow)) => Err(ApiError::method_not_allowed(allow.clone())),
        None => Err(ApiError::not_found("route")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn yaml_1_1_booleans_are_quoted_as_keys_and_list_items() {
        let yaml = "properties:\n  on:\n    type: string\n  online: x\nrequired:\n- on\n- no_way\nenum:\n- 'on'\n";
        assert_eq!(
            super::quote_yaml11_booleans(yaml),
            "properties:\n  'on':\n    type: string\n  online: x\nrequired:\n- 'on'\n- no_way\nenum:\n- 'on'\n"
        );
    }
}

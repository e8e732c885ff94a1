//! Middleware: the request id header, Prometheus metrics per route and status, and the
//! security headers every response carries.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::web::Data;
use actix_web::HttpMessage;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tracing_actix_web::RequestId;

use crate::app::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CountyLabels {
    /// The county's code.
    pub county: String,
}

/// The server's metrics, rendered at `/metrics` in the Prometheus text format.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub pool_connections: Gauge,
    pub pool_idle: Gauge,
    pub photos_processed: Counter,
    pub webhook_deliveries: Family<RequestLabels, Counter>,
    /// Set at scrape time (`ops::metrics`) from the database.
    pub review_queue_depth: Family<CountyLabels, Gauge>,
    pub review_queue_oldest_seconds: Family<CountyLabels, Gauge>,
    pub webhook_backlog: Family<CountyLabels, Gauge>,
    pub outbox_pending: Family<CountyLabels, Gauge>,
    pub renewals_unverified: Family<CountyLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("fieldstar");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ])
        });
        let pool_connections = Gauge::default();
        let pool_idle = Gauge::default();
        let photos_processed = Counter::default();
        let webhook_deliveries = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Open database connections",
            pool_connections.clone(),
        );
        registry.register(
            "db_pool_idle",
            "Idle database connections",
            pool_idle.clone(),
        );
        registry.register(
            "photos_processed",
            "Photos decoded and stored",
            photos_processed.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by status",
            webhook_deliveries.clone(),
        );
        let review_queue_depth = Family::<CountyLabels, Gauge>::default();
        let review_queue_oldest_seconds = Family::<CountyLabels, Gauge>::default();
        let webhook_backlog = Family::<CountyLabels, Gauge>::default();
        let outbox_pending = Family::<CountyLabels, Gauge>::default();
        let renewals_unverified = Family::<CountyLabels, Gauge>::default();
        registry.register(
            "review_queue_depth",
            "Submitted inspections waiting for a decision, by county",
            review_queue_depth.clone(),
        );
        registry.register(
            "review_queue_oldest_seconds",
            "Age of the oldest submitted inspection waiting for a decision, by county",
            review_queue_oldest_seconds.clone(),
        );
        registry.register(
            "webhook_backlog",
            "Webhook deliveries not yet made (pending jobs, retries included), by county",
            webhook_backlog.clone(),
        );
        registry.register(
            "outbox_pending",
            "Events not yet handed to the webhook worker, by county",
            outbox_pending.clone(),
        );
        registry.register(
            "renewals_unverified",
            "Renewal declarations of the current quarter not verified yet, by county",
            renewals_unverified.clone(),
        );
        registry.register(
            "build",
            "The running build",
            prometheus_client::metrics::info::Info::new(crate::metrics::build_labels()),
        );
        Self {
            registry: Mutex::new(registry),
            review_queue_depth,
            review_queue_oldest_seconds,
            webhook_backlog,
            outbox_pending,
            renewals_unverified,
            requests,
            latency,
            pool_connections,
            pool_idle,
            photos_processed,
            webhook_deliveries,
        }
    }
}

impl Metrics {
    /// The OpenMetrics text: the server's own metrics, then the process's.
    pub fn render(&self) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = encode_registry(&mut out, &registry);
        }
        let _ = encode_registry(&mut out, &crate::metrics::process_registry());
        let _ = encode_eof(&mut out);
        out
    }

    /// Replaces the domain gauges with a fresh reading (a county with nothing left disappears).
    pub fn set_domain(
        &self,
        gauges: &std::collections::HashMap<String, crate::metrics::CountyGauges>,
    ) {
        for family in [
            &self.review_queue_depth,
            &self.review_queue_oldest_seconds,
            &self.webhook_backlog,
            &self.outbox_pending,
            &self.renewals_unverified,
        ] {
            family.clear();
        }
        for (county, g) in gauges {
            let labels = CountyLabels {
                county: county.clone(),
            };
            self.review_queue_depth
                .get_or_create(&labels)
                .set(g.queue_depth);
            self.review_queue_oldest_seconds
                .get_or_create(&labels)
                .set(g.oldest_waiting_seconds);
            self.webhook_backlog
                .get_or_create(&labels)
                .set(g.webhook_backlog);
            self.outbox_pending
                .get_or_create(&labels)
                .set(g.outbox_pending);
            self.renewals_unverified
                .get_or_create(&labels)
                .set(g.renewals_unverified);
        }
    }
}

/// Who made the request, put in the request's extensions by the authentication extractor.
#[derive(Clone, Debug)]
pub struct UserId(pub String);

/// Records the request in the metrics, puts its id in `X-Request-Id`, answers every 401 with a
/// `WWW-Authenticate` challenge, and writes the request's one access-log line when its body has
/// been sent (or dropped).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<AccessLogBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let state = req.app_data::<Data<AppState>>().cloned();
    let request_id = req.extensions().get::<RequestId>().map(|r| r.to_string());
    let had_token = req.headers().contains_key(header::AUTHORIZATION);
    // No clone of the request before routing: the router needs it unshared.
    let mut res = match next.call(req).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(e) => {
            let status = e.as_response_error().status_code().as_u16();
            AccessEntry {
                started,
                method,
                route: "unmatched".into(),
                status,
                request_id: request_id.unwrap_or_default(),
                user_id: None,
                code: None,
                error: (status >= 500).then(|| e.to_string()),
            }
            .log(0);
            return Err(e);
        }
    };
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let status = res.status().as_u16();
    if let Some(state) = state {
        state
            .metrics
            .requests
            .get_or_create(&RequestLabels {
                method: method.clone(),
                route: route.clone(),
                status,
            })
            .inc();
        state
            .metrics
            .latency
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
    }
    if let Some(id) = request_id
        .as_deref()
        .and_then(|id| HeaderValue::from_str(id).ok())
    {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), id);
    }
    if status == 401 && !res.headers().contains_key(header::WWW_AUTHENTICATE) {
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, www_authenticate(had_token));
    }
    let api_error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<crate::error::ApiError>());
    let entry = AccessEntry {
        started,
        method,
        route,
        status,
        request_id: request_id.unwrap_or_default(),
        user_id: res
            .request()
            .extensions()
            .get::<UserId>()
            .map(|u| u.0.clone()),
        code: api_error.map(|e| e.code),
        error: (status >= 500).then(|| match (api_error, res.response().error()) {
            (Some(e), _) => e.cause.as_deref().unwrap_or(&e.detail).clone(),
            (None, Some(e)) => e.to_string(),
            (None, None) => String::new(),
        }),
    };
    Ok(res.map_body(|_, body| AccessLogBody {
        inner: body,
        bytes: 0,
        entry: Some(entry),
    }))
}

/// The challenge of a 401 (RFC 6750): `invalid_token` when the request carried credentials.
fn www_authenticate(had_token: bool) -> HeaderValue {
    HeaderValue::from_static(if had_token {
        "Bearer realm=\"fieldstar\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"fieldstar\""
    })
}

/// What the access-log line says about a request (never a token, a body or a query string).
struct AccessEntry {
    started: Instant,
    method: String,
    route: String,
    status: u16,
    request_id: String,
    user_id: Option<String>,
    /// The problem's machine code, for an error answer.
    code: Option<&'static str>,
    /// For a 5xx: the cause (the error and where it was raised).
    error: Option<String>,
}

impl AccessEntry {
    fn log(self, bytes: u64) {
        let duration_ms = (self.started.elapsed().as_secs_f64() * 1e5).round() / 100.0;
        if self.status >= 500 {
            tracing::error!(
                target: "fieldstar::access",
                method = %self.method,
                route = %self.route,
                status = self.status,
                duration_ms,
                bytes,
                request_id = %self.request_id,
                user_id = self.user_id.as_deref().map(tracing::field::display),
                code = self.code.map(tracing::field::display),
                error = self.error.as_deref().map(tracing::field::display),
                "access"
            );
        } else {
            tracing::info!(
                target: "fieldstar::access",
                method = %self.method,
                route = %self.route,
                status = self.status,
                duration_ms,
                bytes,
                request_id = %self.request_id,
                user_id = self.user_id.as_deref().map(tracing::field::display),
                code = self.code.map(tracing::field::display),
                "access"
            );
        }
    }
}

/// The response body, counted as it is sent; the access line is written when it is dropped
/// (sent in full, or abandoned by a client that went away).
pub struct AccessLogBody {
    inner: BoxBody,
    bytes: u64,
    entry: Option<AccessEntry>,
}

impl MessageBody for AccessLogBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let next = Pin::new(&mut this.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            this.bytes += chunk.len() as u64;
        }
        next
    }
}

impl Drop for AccessLogBody {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            entry.log(self.bytes);
        }
    }
}

/// Gives every 201 a `Location`: the created resource's URL. A `PUT` creates what its own URL
/// names (a photo is read back at `/api/v1/photos/{photo_id}`); a `POST` creates a child of
/// its collection named by the answer's `id` (a checklist version by `code` and `version`, a
/// member at `/api/v1/members/{id}`, a mentee at `/api/v1/mentees/{id}`, a decision belongs
/// to its inspection). Runs inside compression, on the JSON the handler wrote.
pub async fn created_location(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    if res.status() != actix_web::http::StatusCode::CREATED
        || res.headers().contains_key(header::LOCATION)
    {
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let Ok(bytes) = actix_web::body::to_bytes(body).await else {
        return Err(actix_web::error::ErrorInternalServerError("response body"));
    };
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if let Some(location) = location_of(&req, &doc).and_then(|l| HeaderValue::from_str(&l).ok()) {
        head.headers_mut().insert(header::LOCATION, location);
    }
    Ok(ServiceResponse::new(
        req,
        head.set_body(bytes).map_into_boxed_body(),
    ))
}

fn location_of(req: &actix_web::HttpRequest, doc: &serde_json::Value) -> Option<String> {
    let path = req.path().trim_end_matches('/');
    let field = |name: &str| -> Option<String> {
        match &doc[name] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let route = req.match_pattern().unwrap_or_default();
    if req.method() == actix_web::http::Method::PUT {
        return Some(match route.as_str() {
            "/api/v1/inspections/{id}/photos/{photo_id}" => {
                format!("/api/v1/photos/{}", req.match_info().get("photo_id")?)
            }
            _ => path.to_string(),
        });
    }
    Some(match route.as_str() {
        "/api/v1/checklists" => format!(
            "/api/v1/checklists/{}/versions/{}",
            field("code")?,
            field("version")?
        ),
        "/api/v1/inspections/{id}/decision" => path.strip_suffix("/decision")?.to_string(),
        "/api/v1/villages/{id}/members" => format!("/api/v1/members/{}", field("id")?),
        "/api/v1/members/{id}/mentees" => format!("/api/v1/mentees/{}", field("id")?),
        _ => format!("{path}/{}", field("id")?),
    })
}

/// Security headers for every response (pages included; the API sends no HTML of its own).
/// Headers on every answer. `hsts`: fieldstar terminates TLS itself, so it also tells browsers
/// to come back over HTTPS only (one year; behind a proxy, the proxy says so).
pub fn security_headers(hsts: bool) -> actix_web::middleware::DefaultHeaders {
    let headers = actix_web::middleware::DefaultHeaders::new();
    let headers = if hsts {
        headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
    } else {
        headers
    };
    headers
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ))
        .add((
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
        .add((
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ))
}

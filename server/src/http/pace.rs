//! Slow clients: every request body must keep arriving (an idle timeout, 408) at a minimum
//! rate over a window (slow-loris), and one address holds a bounded number of connections.
//! A body that keeps arriving steadily is never cut off: there is no total-body timeout.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use actix_web::{HttpMessage, ResponseError};
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use crate::app::AppState;
use crate::error::ApiError;

/// How a request body must arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    /// No byte for this long: the body is abandoned (408).
    pub idle: Duration,
    /// Fewer than `min_bytes_per_sec × window` bytes within one window: too slow (408).
    pub min_bytes_per_sec: u64,
    pub window: Duration,
}

impl Pace {
    fn window_minimum(&self) -> u64 {
        (self.min_bytes_per_sec as f64 * self.window.as_secs_f64()).ceil() as u64
    }
}

/// A request body held to a [`Pace`]. The clock starts when the handler first reads.
pub struct Paced<S> {
    inner: S,
    pace: Pace,
    timer: Pin<Box<Sleep>>,
    started: bool,
    last_data: Instant,
    window_start: Instant,
    window_bytes: u64,
    done: bool,
}

impl<S> Paced<S> {
    pub fn new(inner: S, pace: Pace) -> Self {
        let now = Instant::now();
        Paced {
            inner,
            pace,
            timer: Box::pin(tokio::time::sleep_until(now + pace.idle)),
            started: false,
            last_data: now,
            window_start: now,
            window_bytes: 0,
            done: false,
        }
    }

    /// The error when the body broke the pace at `now`, if it did; rolls the window over.
    fn check(&mut self, now: Instant) -> Option<PayloadError> {
        if now >= self.last_data + self.pace.idle {
            return Some(too_slow(format!(
                "no byte of the body arrived for {} s",
                self.pace.idle.as_secs_f64()
            )));
        }
        if now >= self.window_start + self.pace.window {
            let minimum = self.pace.window_minimum();
            if self.window_bytes < minimum {
                return Some(too_slow(format!(
                    "the body arrived at {} bytes in {} s, under the minimum of {} bytes/s",
                    self.window_bytes,
                    self.pace.window.as_secs_f64(),
                    self.pace.min_bytes_per_sec
                )));
            }
            self.window_start = now;
            self.window_bytes = 0;
        }
        None
    }
}

/// The error a paced body yields: an I/O timeout, which [`body_error`] answers with 408.
fn too_slow(message: String) -> PayloadError {
    PayloadError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, message))
}

impl<S> Stream for Paced<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let now = Instant::now();
        if !this.started {
            this.started = true;
            this.last_data = now;
            this.window_start = now;
        }
        loop {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    let now = Instant::now();
                    this.window_bytes += chunk.len() as u64;
                    if let Some(e) = this.check(now) {
                        this.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                    this.last_data = now;
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Pending => {}
            }
            let now = Instant::now();
            if let Some(e) = this.check(now) {
                this.done = true;
                return Poll::Ready(Some(Err(e)));
            }
            let deadline =
                (this.last_data + this.pace.idle).min(this.window_start + this.pace.window);
            this.timer.as_mut().reset(deadline);
            match this.timer.as_mut().poll(cx) {
                // The deadline passed while we looked: check again.
                Poll::Ready(()) => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The answer to a body that could not be read: 408 when it was too slow, else 400.
pub fn body_error(e: PayloadError, what: &str) -> ApiError {
    match &e {
        PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!("{what} arrived too slowly: {io}"),
        ),
        _ => ApiError::bad_request("body_unreadable", format!("{what} could not be read: {e}")),
    }
}

/// The open connections of each client address, bounded by `limit`.
pub struct Connections {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One counted connection, kept in the connection's data; dropping it (the connection closed)
/// gives its place back.
pub struct ConnectionSlot {
    ip: IpAddr,
    over: bool,
    connections: Arc<Connections>,
}

impl Connections {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Connections {
            limit,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Counts a new connection from `ip`; the slot says whether it is over the limit.
    pub fn open(self: &Arc<Self>, ip: IpAddr) -> ConnectionSlot {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_default();
        *n += 1;
        ConnectionSlot {
            ip,
            over: *n > self.limit,
            connections: self.clone(),
        }
    }

    /// How many connections `ip` holds now.
    pub fn count(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self
            .connections
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// For `HttpServer::on_connect`: counts each TCP connection by its peer address, unless the
/// peer is one of the operator's proxies (whose clients the proxy must bound).
pub fn on_connect(
    connections: Arc<Connections>,
    trusted: Vec<ipnet::IpNet>,
) -> impl Fn(&dyn std::any::Any, &mut actix_web::dev::Extensions) + Send + Sync + 'static {
    move |conn, data| {
        type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
        let peer = match conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            Some(tcp) => tcp.peer_addr(),
            None => match conn.downcast_ref::<Tls>() {
                Some(tls) => tls.get_ref().0.peer_addr(),
                None => return,
            },
        };
        let Ok(peer) = peer else { return };
        let ip = peer.ip().to_canonical();
        if trusted.iter().any(|net| net.contains(&ip)) {
            return;
        }
        data.insert(connections.open(ip));
    }
}

/// Middleware: refuses a request on a connection over its address's limit (429, then the
/// connection is closed), and holds every request body to the configured [`Pace`].
pub async fn pace(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if req.conn_data::<ConnectionSlot>().is_some_and(|s| s.over) {
        let e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_connections",
            "this address holds too many connections to the server; close some and retry",
        );
        let mut res = e.error_response();
        res.head_mut().set_connection_type(ConnectionType::Close);
        res.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_static("5"),
        );
        return Ok(req.into_response(res).map_into_right_body());
    }
    let pace = req.app_data::<Data<AppState>>().map(|s| s.config.body_pace);
    if let Some(pace) = pace {
        match req.take_payload() {
            Payload::None => {}
            payload => {
                let paced: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
                    Box::pin(Paced::new(payload, pace));
                req.set_payload(Payload::from(paced));
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn pace(idle_ms: u64, min: u64, window_ms: u64) -> Pace {
        Pace {
            idle: Duration::from_millis(idle_ms),
            min_bytes_per_sec: min,
            window: Duration::from_millis(window_ms),
        }
    }

    /// A body of `chunks` pieces of `size` bytes, one every `every_ms`.
    fn body(
        chunks: usize,
        size: usize,
        every_ms: u64,
    ) -> impl Stream<Item = Result<Bytes, PayloadError>> + Unpin {
        Box::pin(
            futures_util::stream::iter(0..chunks).then(move |_| async move {
                tokio::time::sleep(Duration::from_millis(every_ms)).await;
                Ok(Bytes::from(vec![b'x'; size]))
            }),
        )
    }

    async fn read(
        mut s: impl Stream<Item = Result<Bytes, PayloadError>> + Unpin,
    ) -> Result<usize, String> {
        let mut n = 0;
        while let Some(chunk) = s.next().await {
            n += chunk.map_err(|e| e.to_string())?.len();
        }
        Ok(n)
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_ends_after_the_idle_time() {
        let stalled = body(1, 10, 0).chain(futures_util::stream::pending());
        let started = Instant::now();
        let e = read(Paced::new(Box::pin(stalled), pace(30_000, 1, 60_000)))
            .await
            .unwrap_err();
        assert!(e.contains("no byte"), "{e}");
        assert_eq!(started.elapsed().as_secs(), 30);
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_under_the_minimum_rate_ends_after_one_window() {
        // One byte every 20 s: never idle for 30 s, far under 512 bytes/s.
        let started = Instant::now();
        let e = read(Paced::new(body(100, 1, 20_000), pace(30_000, 512, 30_000)))
            .await
            .unwrap_err();
        assert!(e.contains("minimum"), "{e}");
        assert!(
            started.elapsed() <= Duration::from_secs(41),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_slow_body_is_never_cut_off() {
        // 2 KB/s for 10 minutes: ten times the old 60 s total timeout.
        let n = read(Paced::new(body(1200, 1024, 500), pace(30_000, 512, 30_000)))
            .await
            .unwrap();
        assert_eq!(n, 1200 * 1024);
    }

    #[test]
    fn connections_are_counted_per_address_and_given_back() {
        let c = Connections::new(2);
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let other: IpAddr = "10.1.2.4".parse().unwrap();
        let a = c.open(ip);
        let b = c.open(ip);
        let third = c.open(ip);
        assert!(!a.over && !b.over && third.over);
        assert!(!c.open(other).over);
        drop(third);
        drop(a);
        assert_eq!(c.count(ip), 1);
        assert!(!c.open(ip).over);
    }
}

//! `spawnprof serve`: an OpenMetrics endpoint at `/metrics` (Prometheus scrapes it), on
//! loopback unless told otherwise. One thread does everything (see the runtime note in
//! [`super`]): the main task reads the probes and updates the metrics, the endpoint's tasks
//! answer scrapes in between. Ctrl-C or SIGTERM stop both.
//!
//! The endpoint is hyper's HTTP/1 server without a framework: there is one route, so a
//! router (axum, and tower under it) would add dependencies and nothing else.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::container_metrics::ContainerMetrics;
use super::metrics::{self, Metrics};
use super::procfs::{rss_bytes_of, self_cpu_seconds, self_rss_bytes};
use super::{Every, LABEL_EPOCH, LiveError, Pacer, Scope, Source, Wake, signals};

#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub scope: Scope,
    pub listen: SocketAddr,
    /// Programs that get their own `program` label.
    pub top_programs: usize,
    /// Containers that get their own series.
    pub top_containers: usize,
    /// Parent resident size above which a fork counts as a big-parent fork.
    pub big_parent_bytes: u64,
}

/// A client that has not sent its request head by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until Ctrl-C or SIGTERM, on the live modes' runtime.
pub fn run(opts: &ServeOptions) -> Result<(), LiveError> {
    super::runtime()?.block_on(serve(opts))
}

async fn serve(opts: &ServeOptions) -> Result<(), LiveError> {
    let mut stop = signals::Stop::install().map_err(LiveError::Runtime)?;
    // Bind before loading the probes: a port in use is found without waiting for them.
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|e| LiveError::Listen(opts.listen.to_string(), e.to_string()))?;
    let mut src = Source::open(&opts.scope)?;
    let mut m = Metrics::new(opts.top_programs);
    m.containers
        .set_limits(opts.top_containers, opts.big_parent_bytes);
    let metrics = Arc::new(Mutex::new(m));
    if !opts.listen.ip().is_loopback() {
        eprintln!(
            "spawnprof: warning: listening on {}, not loopback: anyone who reaches it can read the metrics",
            opts.listen
        );
    }
    let endpoint = tokio::spawn(accept(listener, metrics.clone()));
    eprintln!(
        "spawnprof: serving metrics of {} at http://{}/metrics",
        opts.scope.describe(),
        opts.listen
    );
    let mut pacer = Pacer::new();
    let mut health = Every::new(Duration::from_secs(1));
    let mut epoch = Every::new(LABEL_EPOCH);
    loop {
        let wake = pacer
            .wait(&mut src, &mut stop, std::future::pending())
            .await?;
        if wake == Wake::Stop {
            break;
        }
        let recs = src.poll();
        // Never held across an await: scrapes run between two wake-ups of this loop.
        let mut m = metrics.lock().unwrap_or_else(PoisonError::into_inner);
        for r in &recs {
            m.observe(r);
            // Read when the record completes: the parent has just reaped the child, so it
            // is normally still there (a pid reused since then would be misread: rare).
            let rss = ContainerMetrics::is_fork(r)
                .then(|| r.ppid.and_then(rss_bytes_of))
                .flatten();
            m.containers.observe(r, rss);
        }
        if health.due() {
            m.set_health(&src.health(), self_cpu_seconds(), self_rss_bytes());
        }
        if epoch.due() {
            m.rotate_labels();
        }
    }
    endpoint.abort();
    Ok(())
}

/// Accepts scrapers until aborted; each connection is a task of its own.
async fn accept(listener: TcpListener, metrics: Arc<Mutex<Metrics>>) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of fds, most likely: back off instead of spinning on the error.
                log::warn!("metrics endpoint: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let resp = answer(req.uri().path(), &metrics);
                async move { Ok::<_, Infallible>(resp) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                log::debug!("answering a scrape: {e}");
            }
        });
    }
}

/// `/metrics` (any query string) is the exposition; anything else a 404 that says where.
fn answer(path: &str, metrics: &Mutex<Metrics>) -> Response<String> {
    let (status, ty, body) = if path == "/metrics" {
        let body = metrics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .encode();
        (StatusCode::OK, metrics::CONTENT_TYPE, body)
    } else {
        (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "spawnprof: metrics are at /metrics\n".to_string(),
        )
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ty));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// One GET over loopback: plain blocking std I/O, bounded by a read timeout.
    fn get(port: u16, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("request");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("response");
        out
    }

    #[test]
    fn endpoint_answers_metrics_and_404() {
        let rt = super::super::runtime().expect("runtime");
        let (ok, missing) = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let port = listener.local_addr().expect("addr").port();
            let server = tokio::spawn(accept(listener, Arc::new(Mutex::new(Metrics::new(5)))));
            // The client blocks a thread of the pool; the endpoint answers on the runtime's.
            let answers =
                tokio::task::spawn_blocking(move || (get(port, "/metrics?x=1"), get(port, "/")))
                    .await
                    .expect("the client");
            server.abort();
            answers
        });
        assert!(ok.starts_with("HTTP/1.0 200"), "{ok}");
        assert!(
            ok.to_ascii_lowercase()
                .contains(&format!("content-type: {}", metrics::CONTENT_TYPE)),
            "{ok}"
        );
        assert!(ok.contains("spawnprof_lost_events_total"), "{ok}");
        assert!(ok.trim_end().ends_with("# EOF"), "{ok}");
        assert!(missing.starts_with("HTTP/1.0 404"), "{missing}");
        assert!(
            missing.ends_with("spawnprof: metrics are at /metrics\n"),
            "{missing}"
        );
    }
}

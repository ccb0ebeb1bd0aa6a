//! `spawnprof serve`: an OpenMetrics endpoint at `/metrics` (Prometheus scrapes it), on
//! loopback unless told otherwise. The main thread reads the probes and updates the metrics;
//! a second thread answers scrapes. Ctrl-C or SIGTERM stop both.
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use super::container_metrics::ContainerMetrics;
use super::metrics::{CONTENT_TYPE, Metrics};
use super::procfs::{rss_bytes_of, self_cpu_seconds, self_rss_bytes};
use super::{Every, LABEL_EPOCH, LiveError, Scope, Source, TICK, Ticker, signals};

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

pub fn run(opts: &ServeOptions) -> Result<(), LiveError> {
    signals::install();
    let listen_err = |e: String| LiveError::Listen(opts.listen.to_string(), e);
    // Bind before loading the probes: a port in use is found without waiting for them.
    let server =
        Arc::new(tiny_http::Server::http(opts.listen).map_err(|e| listen_err(e.to_string()))?);
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
    let http = {
        let (server, metrics) = (server.clone(), metrics.clone());
        thread::spawn(move || answer(&server, &metrics))
    };
    eprintln!(
        "spawnprof: serving metrics of {} at http://{}/metrics",
        opts.scope.describe(),
        opts.listen
    );
    let mut ticker = Ticker::new(TICK);
    let mut health = Every::new(Duration::from_secs(1));
    let mut epoch = Every::new(LABEL_EPOCH);
    while !signals::stopping() {
        ticker.wait();
        let recs = src.poll();
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
    server.unblock();
    let _ = http.join();
    Ok(())
}

fn answer(server: &tiny_http::Server, metrics: &Mutex<Metrics>) {
    while !signals::stopping() {
        let req = match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                log::warn!("metrics endpoint: {e}");
                break;
            }
        };
        let path = req.url().split('?').next().unwrap_or("");
        let resp = if path == "/metrics" {
            let body = metrics
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .encode();
            with_type(tiny_http::Response::from_string(body), CONTENT_TYPE)
        } else {
            with_type(
                tiny_http::Response::from_string("spawnprof: metrics are at /metrics\n")
                    .with_status_code(404),
                "text/plain; charset=utf-8",
            )
        };
        if let Err(e) = req.respond(resp) {
            log::debug!("answering a scrape: {e}");
        }
    }
}

fn with_type<R: std::io::Read>(resp: tiny_http::Response<R>, ty: &str) -> tiny_http::Response<R> {
    match tiny_http::Header::from_bytes(&b"Content-Type"[..], ty.as_bytes()) {
        Ok(h) => resp.with_header(h),
        // Only ASCII constants come here; without the header Prometheus still parses the
        // classic text format.
        Err(()) => resp,
    }
}

//! Liveness and readiness ([`Health`]) and the HTTP endpoints that serve
//! them with the metrics: `/metrics`, `/healthz`, `/readyz`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use metrics_exporter_prometheus::PrometheusHandle;

use super::names::READY;
use crate::error::{PipelineError, Result};

/// Liveness and readiness, shared by the pipeline and the HTTP endpoints.
///
/// Readiness has a base state (`starting`, `consuming N partition(s)`,
/// `stopped`) set by the source, and named conditions that each hold the
/// pipeline not ready while present (`stalled`, `memory`, `backpressure`).
/// A condition is set and cleared by its own owner, so one clearing never
/// hides another.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    state: Mutex<HealthState>,
}

#[derive(Debug, Default)]
struct HealthState {
    base_ready: bool,
    base_reason: String,
    conditions: std::collections::BTreeMap<&'static str, String>,
}

impl Health {
    /// A new, not yet ready, health state.
    pub fn new() -> Arc<Self> {
        let h = Arc::new(Self::default());
        h.set_ready(false, "starting");
        h
    }

    /// Sets the base readiness with a short reason shown by `/readyz`.
    pub fn set_ready(&self, ready: bool, reason: &str) {
        let mut st = self.state.lock().expect("health poisoned");
        st.base_ready = ready;
        st.base_reason = reason.to_string();
        self.publish(&st);
    }

    /// Sets (`Some(reason)`) or clears (`None`) a named not-ready condition.
    pub fn set_condition(&self, name: &'static str, reason: Option<String>) {
        let mut st = self.state.lock().expect("health poisoned");
        let changed = match reason {
            Some(r) => st.conditions.insert(name, r.clone()).as_deref() != Some(r.as_str()),
            None => st.conditions.remove(name).is_some(),
        };
        if changed {
            self.publish(&st);
        }
    }

    fn publish(&self, st: &HealthState) {
        let ready = st.base_ready && st.conditions.is_empty();
        self.ready.store(ready, Ordering::Release);
        metrics::gauge!(READY).set(if ready { 1.0 } else { 0.0 });
    }

    /// Whether the pipeline is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The base reason, then every condition as `name: reason`.
    pub fn reason(&self) -> String {
        let st = self.state.lock().expect("health poisoned");
        let mut out = st.base_reason.clone();
        for (name, r) in &st.conditions {
            out.push_str(&format!("; {name}: {r}"));
        }
        out
    }
}

/// The one-thread runtime (`sb-io`) that serves the endpoints (and, in
/// `run`, waits for signals).
pub fn io_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("sb-io")
        .build()
        .map_err(|e| PipelineError::Runtime(format!("tokio runtime: {e}")))
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `addr` until the task is
/// aborted. Returns the bound address (useful with port 0).
pub async fn serve(
    addr: &str,
    handle: PrometheusHandle,
    health: Arc<Health>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener =
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| PipelineError::Config {
                key: "metrics.addr".into(),
                reason: format!("cannot bind {addr}: {e}"),
            })?;
    let local = listener
        .local_addr()
        .map_err(|e| PipelineError::io(addr, e))?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            let health = health.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let resp = respond(req.uri().path(), &handle, &health);
                    async move { Ok::<_, Infallible>(resp) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    Ok((local, task))
}

fn respond(path: &str, handle: &PrometheusHandle, health: &Health) -> Response<Full<Bytes>> {
    let (status, ctype, body) = match path {
        "/metrics" => {
            handle.run_upkeep();
            (StatusCode::OK, "text/plain; version=0.0.4", handle.render())
        }
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_string()),
        "/readyz" => {
            if health.is_ready() {
                (
                    StatusCode::OK,
                    "text/plain",
                    format!("ready: {}\n", health.reason()),
                )
            } else {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("not ready: {}\n", health.reason()),
                )
            }
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics, /healthz or /readyz\n".to_string(),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", ctype)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_hold_readiness_until_their_owner_clears_them() {
        let h = Health::new();
        assert!(!h.is_ready(), "starting");
        h.set_ready(true, "consuming 4 partition(s)");
        assert!(h.is_ready());
        h.set_condition("stalled", Some("1 partition(s) stalled".into()));
        h.set_condition("memory", Some("over budget".into()));
        // A rebalance sets the base state again: the conditions stay.
        h.set_ready(true, "consuming 6 partition(s)");
        assert!(!h.is_ready());
        let r = h.reason();
        assert!(r.starts_with("consuming 6 partition(s)"), "{r}");
        assert!(
            r.contains("memory: over budget") && r.contains("stalled: 1 partition(s) stalled"),
            "{r}"
        );
        h.set_condition("memory", None);
        assert!(!h.is_ready(), "stalled still holds");
        h.set_condition("stalled", None);
        assert!(h.is_ready());
        h.set_ready(false, "stopped");
        assert!(!h.is_ready());
        // Clearing a condition that is not set changes nothing.
        h.set_condition("backpressure", None);
        assert_eq!(h.reason(), "stopped");
    }

    #[test]
    fn readyz_answers_503_with_the_reasons() {
        let handle = crate::metrics::install();
        let h = Health::new();
        h.set_ready(true, "consuming 1 partition(s)");
        assert_eq!(respond("/readyz", &handle, &h).status(), StatusCode::OK);
        h.set_condition("backpressure", Some("oldest batch 31 s old".into()));
        let resp = respond("/readyz", &handle, &h);
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}

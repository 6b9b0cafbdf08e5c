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
///
/// Liveness (`/healthz`) is separate: named faults that cannot clear by
/// themselves (a pipeline thread died, a partition stalled longer than
/// `pipeline.liveness_stall_ms`); while one is present the pipeline is not
/// live and the platform restarts it.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    state: Mutex<HealthState>,
    faults: Mutex<std::collections::BTreeMap<String, String>>,
}

/// Held by a pipeline thread for its whole life: if the thread unwinds (a
/// panic), dropping the guard marks the pipeline not live, naming the
/// thread and the panic.
#[derive(Debug)]
pub struct ThreadGuard {
    health: Arc<Health>,
    name: String,
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let why = super::panics::last_panic().unwrap_or_else(|| "panic".into());
            self.health.set_fault(
                &format!("thread {}", self.name),
                Some(format!("died (panicked: {why})")),
            );
        }
    }
}

#[derive(Debug, Default)]
struct HealthState {
    base_ready: bool,
    base_reason: String,
    conditions: std::collections::BTreeMap<&'static str, String>,
    /// Degradations that leave the pipeline ready but are worth showing
    /// (e.g. a CRM version that failed while an older one serves).
    notes: std::collections::BTreeMap<&'static str, String>,
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

    /// Sets (`Some(text)`) or clears (`None`) a named note: shown by
    /// `/readyz` after the conditions, without making the pipeline not ready.
    pub fn set_note(&self, name: &'static str, text: Option<String>) {
        let mut st = self.state.lock().expect("health poisoned");
        match text {
            Some(t) => st.notes.insert(name, t),
            None => st.notes.remove(name),
        };
    }

    fn publish(&self, st: &HealthState) {
        let ready = st.base_ready && st.conditions.is_empty();
        self.ready.store(ready, Ordering::Release);
        metrics::gauge!(READY).set(if ready { 1.0 } else { 0.0 });
    }

    /// A guard for the current thread (see [`ThreadGuard`]), named after it.
    pub fn guard_thread(self: &Arc<Self>) -> ThreadGuard {
        let name = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        ThreadGuard {
            health: self.clone(),
            name,
        }
    }

    /// Sets (`Some(reason)`) or clears (`None`) a named liveness fault.
    pub fn set_fault(&self, name: &str, reason: Option<String>) {
        let mut f = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        match reason {
            Some(r) => {
                // Logged once when it appears (a stall's reason counts up).
                if !f.contains_key(name) {
                    tracing::error!(fault = name, reason = %r, "pipeline not live; /healthz fails");
                }
                f.insert(name.to_string(), r);
            }
            None => {
                f.remove(name);
            }
        }
        metrics::gauge!(super::names::LIVE).set(if f.is_empty() { 1.0 } else { 0.0 });
    }

    /// Whether the pipeline is live: no fault.
    pub fn is_live(&self) -> bool {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// The faults as one line (`thread sb-downstream: died (…); …`).
    pub fn liveness_reason(&self) -> String {
        let f = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        f.iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; ")
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
        for (name, r) in &st.notes {
            out.push_str(&format!("; {name} (degraded): {r}"));
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
        "/healthz" => {
            if health.is_live() {
                (StatusCode::OK, "text/plain", "ok\n".to_string())
            } else {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("not live: {}\n", health.liveness_reason()),
                )
            }
        }
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
    fn healthz_fails_when_a_guarded_thread_panics() {
        let handle = crate::metrics::install();
        crate::metrics::panics::install_hook();
        let h = Health::new();
        assert_eq!(respond("/healthz", &handle, &h).status(), StatusCode::OK);
        let h2 = h.clone();
        let t = std::thread::Builder::new()
            .name("sb-downstream".into())
            .spawn(move || {
                let _g = h2.guard_thread();
                panic!("boom in the stateful stage");
            })
            .unwrap();
        assert!(t.join().is_err());
        assert_eq!(
            respond("/healthz", &handle, &h).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let r = h.liveness_reason();
        assert!(
            r.contains("thread sb-downstream: died (panicked: boom in the stateful stage)"),
            "{r}"
        );
        assert_eq!(r.lines().count(), 1);
        let text = handle.render();
        assert!(
            text.lines()
                .any(|l| l
                    .starts_with("switchboard_pipeline_panics_total{thread=\"sb-downstream\"}")),
            "{text}"
        );
        // A thread that ends normally is no fault.
        let h3 = Health::new();
        let h4 = h3.clone();
        std::thread::spawn(move || drop(h4.guard_thread()))
            .join()
            .unwrap();
        assert!(h3.is_live());
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

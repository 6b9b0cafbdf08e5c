//! CRM state of the identity join: the snapshot versions in service (hot
//! reloaded from the snapshot directory) and the identity updates applied on
//! top of them (read by [`super::identity_updates`]).
//!
//! [`CrmState::start`] loads the newest `identity.keep_versions` versions,
//! starts the updates reader and waits (bounded) until it has read the
//! topic to its end, then runs one background thread, `sb-crm`, that
//!
//! - checks the directory every `identity.poll_interval_ms`; a new version
//!   is loaded off the hot path (DataFusion, see
//!   [`switchboard_operators::identity_join::load_snapshot`]) and swapped in
//!   atomically with [`IdentityJoin::add_snapshot`]. A version that fails to
//!   load leaves the versions in service untouched, is logged with its
//!   reason and counted by reason; it is retried only when its files change,
//!   and the next older version takes its place among the candidates. A
//!   decoder that panics on a corrupt file is caught like an error
//!   (`load_snapshot`), so the thread survives. `/readyz` shows it: not
//!   ready (`crm`) while no version is in service and one failed; ready
//!   but "degraded" while a newer version than the one serving failed.
//!
//! At start, versions that fail are skipped (the next older one is tried);
//! when versions exist and none loads, [`CrmState::start`] fails with one
//! line (a pod then restarts rather than join every mention to nothing).
//! - publishes the join's lookup counters and the snapshot gauges once a
//!   second.
//!
//! The join itself runs in the source workers (`process_batch` takes `&self`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use switchboard_operators::identity_join::{
    list_versions, load_snapshot, IdentityJoin, IdentityJoinConfig, JoinStats,
};
use tracing::{info, warn};

use super::identity_updates::UpdatesReader;
use crate::config::Config;
use crate::error::{PipelineError, Result};
use crate::metrics as m;
use crate::metrics::Health;

/// Lookup totals since start, for progress lines, summaries and tests (the
/// Prometheus counters carry the same facts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityTotals {
    /// Mention rows joined.
    pub rows: u64,
    /// Rows matched to a customer.
    pub hits: u64,
    /// Rows by `(channel label, result)`; result is `hit` or a miss reason.
    pub by_channel_result: BTreeMap<(&'static str, &'static str), u64>,
    /// Rows older than every kept version.
    pub before_oldest_version: u64,
    /// Snapshot versions loaded since start.
    pub snapshot_loads: u64,
    /// Snapshot versions that failed to load, by reason.
    pub snapshot_failures: BTreeMap<&'static str, u64>,
}

impl IdentityTotals {
    /// Matched share of the rows joined (0 when none).
    pub fn hit_rate(&self) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            self.hits as f64 / self.rows as f64
        }
    }

    /// Rows by result, all channels.
    pub fn by_result(&self) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        for ((_, r), n) in &self.by_channel_result {
            *out.entry(*r).or_insert(0) += n;
        }
        out
    }

    fn add(&mut self, st: &JoinStats) {
        self.rows += st.rows;
        self.before_oldest_version += st.before_oldest_version;
        for (ch, res, n) in st.iter() {
            *self.by_channel_result.entry((ch, res)).or_insert(0) += n;
            if res == "hit" {
                self.hits += n;
            }
        }
    }
}

/// The running CRM state: the shared join plus its background threads.
pub struct CrmState {
    join: Arc<IdentityJoin>,
    totals: Arc<Mutex<IdentityTotals>>,
    stop: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    updates_caught_up: Arc<AtomicBool>,
}

impl CrmState {
    /// Loads the snapshots in service, starts the updates reader and the
    /// reload thread. `None` when `identity.snapshot_dir` is empty.
    pub fn start(config: &Config, health: &Arc<Health>) -> Result<Option<Self>> {
        let sec = &config.identity;
        if !sec.enabled() {
            return Ok(None);
        }
        let join = Arc::new(IdentityJoin::new(sec.join_config())?);
        let totals = Arc::new(Mutex::new(IdentityTotals::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut reloader = Reloader {
            root: PathBuf::from(sec.snapshot_dir.trim()),
            cfg: sec.join_config(),
            join: join.clone(),
            totals: totals.clone(),
            loaded: HashSet::new(),
            failed: HashMap::new(),
            failures: BTreeMap::new(),
            listing_failed: false,
            health: health.clone(),
        };
        // Each pass that fails a version lets the next older one be tried.
        while reloader.scan() > 0 {}
        if join.status().versions.is_empty() {
            if let Some((_, (name, code, error))) = reloader.failures.last_key_value() {
                return Err(PipelineError::Config {
                    key: "identity.snapshot_dir".into(),
                    reason: format!(
                        "no CRM snapshot version could be loaded ({} failed; newest {name}: {code}: {error})",
                        reloader.failures.len()
                    ),
                });
            }
            warn!(
                dir = %reloader.root.display(),
                "no CRM snapshot version could be loaded; mentions stay unmatched (no_snapshot) until one appears"
            );
        }
        let mut threads = Vec::new();
        let updates_caught_up = Arc::new(AtomicBool::new(!sec.read_updates));
        if sec.read_updates {
            let reader = UpdatesReader::new(config, join.clone(), updates_caught_up.clone())?;
            let stop = stop.clone();
            let health = health.clone();
            threads.push(spawn("sb-crm-updates", move || {
                let _alive = health.guard_thread();
                reader.run(stop)
            })?);
            let waited = Instant::now();
            let limit = Duration::from_millis(sec.startup_wait_ms);
            while !updates_caught_up.load(Ordering::Acquire) && waited.elapsed() < limit {
                std::thread::sleep(Duration::from_millis(20));
            }
            if updates_caught_up.load(Ordering::Acquire) {
                info!(
                    elapsed_ms = waited.elapsed().as_millis() as u64,
                    overlay = join.status().overlay_entries,
                    "identity updates read to the end"
                );
            } else {
                warn!(
                    waited_ms = limit.as_millis() as u64,
                    "identity updates not read to the end yet; consuming mentions meanwhile"
                );
            }
        }
        let poll = Duration::from_millis(sec.poll_interval_ms);
        {
            let stop = stop.clone();
            let health = health.clone();
            threads.push(spawn("sb-crm", move || {
                let _alive = health.guard_thread();
                let mut next_scan = Instant::now() + poll;
                let mut next_publish = Instant::now();
                while !stop.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(100).min(poll));
                    if Instant::now() >= next_scan {
                        reloader.scan();
                        next_scan = Instant::now() + poll;
                    }
                    if Instant::now() >= next_publish {
                        reloader.publish();
                        next_publish = Instant::now() + Duration::from_secs(1);
                    }
                }
                reloader.publish();
            })?);
        }
        Ok(Some(Self {
            join,
            totals,
            stop,
            threads: Mutex::new(threads),
            updates_caught_up,
        }))
    }

    /// The join, shared with the source workers.
    pub fn join(&self) -> &Arc<IdentityJoin> {
        &self.join
    }

    /// Lookup totals (published about once a second; exact after
    /// [`CrmState::shutdown`]).
    pub fn totals(&self) -> IdentityTotals {
        self.totals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether the updates topic has been read to the end it had at start.
    pub fn updates_caught_up(&self) -> bool {
        self.updates_caught_up.load(Ordering::Acquire)
    }

    /// Stops the background threads (after a last publish of the counters).
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for CrmState {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| PipelineError::Runtime(format!("cannot spawn {name}: {e}")))
}

/// What a version directory held when it failed: it is retried only once
/// this changes (files replaced, added or removed).
type Signature = Vec<(String, u64, Option<SystemTime>)>;

fn signature(dir: &Path) -> Signature {
    let mut sig: Signature = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    let md = e.metadata().ok();
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        md.as_ref().map_or(0, |m| m.len()),
                        md.and_then(|m| m.modified().ok()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    sig.sort();
    sig
}

struct Reloader {
    root: PathBuf,
    cfg: IdentityJoinConfig,
    join: Arc<IdentityJoin>,
    totals: Arc<Mutex<IdentityTotals>>,
    /// Versions loaded (kept or since superseded), by directory name.
    loaded: HashSet<String>,
    /// Versions that failed, with what their directory held then.
    failed: HashMap<String, Signature>,
    /// Versions that failed and have not loaded since, by valid-from:
    /// name, reason code, error text.
    failures: BTreeMap<i64, (String, &'static str, String)>,
    listing_failed: bool,
    health: Arc<Health>,
}

impl Reloader {
    /// Loads the newest `keep_versions` versions not loaded yet, passing
    /// over versions that failed with the files they still hold. Returns
    /// how many versions failed in this pass.
    fn scan(&mut self) -> usize {
        let versions = match list_versions(&self.root) {
            Ok(v) => {
                self.listing_failed = false;
                v
            }
            Err(e) => {
                if !self.listing_failed {
                    warn!(dir = %self.root.display(), error = %e, "cannot list CRM snapshot versions");
                    self.count_failure(e.snapshot_code().unwrap_or("unreadable"));
                }
                self.listing_failed = true;
                return 0;
            }
        };
        let keep = self.cfg.keep_versions;
        let mut new_failures = 0;
        let newest: Vec<(i64, PathBuf)> = versions
            .into_iter()
            .rev()
            .filter(|(_, p)| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                name.and_then(|n| self.failed.get(&n)) != Some(&signature(p))
            })
            .take(keep)
            .collect();
        for (valid_from_ms, path) in newest.into_iter().rev() {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if self.loaded.contains(&name) {
                continue;
            }
            let status = self.join.status();
            if status.versions.len() >= keep
                && status
                    .versions
                    .first()
                    .is_some_and(|v| valid_from_ms < v.valid_from_ms)
            {
                continue; // older than everything kept: it would be dropped at once
            }
            let sig = signature(&path);
            let started = Instant::now();
            match load_snapshot(&path, &self.cfg) {
                Ok(snapshot) => {
                    let secs = started.elapsed().as_secs_f64();
                    metrics::histogram!(m::IDENTITY_SNAPSHOT_LOAD_DURATION).record(secs);
                    metrics::counter!(m::IDENTITY_SNAPSHOT_LOADS).increment(1);
                    info!(
                        version = %name,
                        entries = snapshot.index.entries(),
                        ambiguous = snapshot.index.ambiguous_entries(),
                        skipped_identities = snapshot.skipped_identities,
                        load_ms = (secs * 1000.0) as u64,
                        "CRM snapshot version loaded"
                    );
                    self.join.add_snapshot(snapshot);
                    self.loaded.insert(name.clone());
                    self.failed.remove(&name);
                    self.failures.remove(&valid_from_ms);
                    self.totals
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .snapshot_loads += 1;
                }
                Err(e) => {
                    let code = e.snapshot_code().unwrap_or("unreadable");
                    warn!(version = %name, reason = code, error = %e,
                        "CRM snapshot version failed to load; the versions in service stay");
                    self.count_failure(code);
                    self.failures
                        .insert(valid_from_ms, (name.clone(), code, e.to_string()));
                    self.failed.insert(name, sig);
                    new_failures += 1;
                }
            }
        }
        self.publish_snapshot_gauges();
        self.publish_health();
        new_failures
    }

    /// `/readyz`: not ready while no version serves and one failed; a note
    /// while a version newer than the newest in service failed.
    fn publish_health(&self) {
        let status = self.join.status();
        let serving = status.versions.last();
        let newest_failed = self.failures.last_key_value();
        let (condition, note) = match (serving, newest_failed) {
            (None, Some((_, (name, code, _)))) => (
                Some(format!(
                    "no CRM snapshot version in service; {name} failed to load ({code})"
                )),
                None,
            ),
            (Some(v), Some((ms, (name, code, _)))) if *ms > v.valid_from_ms => (
                None,
                Some(format!(
                    "CRM version {name} failed to load ({code}); {} serves",
                    v.name
                )),
            ),
            _ => (None, None),
        };
        self.health.set_condition("crm", condition);
        self.health.set_note("crm", note);
    }

    fn count_failure(&self, code: &'static str) {
        metrics::counter!(m::IDENTITY_SNAPSHOT_LOAD_FAILURES, "reason" => code).increment(1);
        *self
            .totals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .snapshot_failures
            .entry(code)
            .or_insert(0) += 1;
    }

    fn publish_snapshot_gauges(&self) {
        let status = self.join.status();
        metrics::gauge!(m::IDENTITY_SNAPSHOT_VERSIONS).set(status.versions.len() as f64);
        metrics::gauge!(m::IDENTITY_OVERLAY_ENTRIES).set(status.overlay_entries as f64);
        let bytes: usize = status.versions.iter().map(|v| v.approx_bytes).sum();
        metrics::gauge!(m::IDENTITY_INDEX_BYTES).set(bytes as f64);
        match status.versions.last() {
            Some(v) => {
                metrics::gauge!(m::IDENTITY_INDEX_ENTRIES).set(v.entries as f64);
                metrics::gauge!(m::IDENTITY_AMBIGUOUS_ENTRIES).set(v.ambiguous_entries as f64);
                metrics::gauge!(m::IDENTITY_SNAPSHOT_VALID_FROM).set(v.valid_from_ms as f64 / 1e3);
                let now = chrono::Utc::now().timestamp_millis();
                metrics::gauge!(m::IDENTITY_SNAPSHOT_AGE)
                    .set(((now - v.valid_from_ms).max(0) as f64) / 1e3);
            }
            None => {
                metrics::gauge!(m::IDENTITY_INDEX_ENTRIES).set(0.0);
                metrics::gauge!(m::IDENTITY_AMBIGUOUS_ENTRIES).set(0.0);
                metrics::gauge!(m::IDENTITY_SNAPSHOT_VALID_FROM).set(0.0);
            }
        }
    }

    /// Moves the join's lookup counters into the metrics and the totals.
    fn publish(&self) {
        let st = self.join.take_stats();
        if st.rows > 0 {
            for (ch, res, n) in st.iter() {
                metrics::counter!(m::IDENTITY_LOOKUPS, "channel" => ch, "result" => res)
                    .increment(n);
            }
            if st.before_oldest_version > 0 {
                metrics::counter!(m::IDENTITY_BEFORE_OLDEST).increment(st.before_oldest_version);
            }
            self.totals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .add(&st);
        }
        self.publish_snapshot_gauges();
    }
}

//! Flow control of the source: keeps the process under its memory budget and
//! tells `/readyz` when the output side holds the input back.
//!
//! Backpressure itself is structural: a full producer queue blocks the
//! downstream stage, a full row channel blocks the workers, and librdkafka's
//! prefetch stops at `queued.max.messages.kbytes`; all three are sized from
//! `pipeline.memory_budget_mb`. This guard adds the two things structure
//! cannot: it pauses every assigned partition when the resident set still
//! climbs over 85 % of the budget (state growth, a large CRM version) and
//! resumes below 70 %, and it sets the `memory` and `backpressure` readiness
//! conditions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use tracing::{info, warn};

use crate::metrics::{self as m, Health};
use crate::state::offsets::OffsetTracker;

/// Pause above this share of the budget…
const PAUSE_AT: f64 = 0.85;
/// …and resume below this one.
const RESUME_AT: f64 = 0.70;
/// The budget-below-baseline warning is logged at most this often.
const BASELINE_WARNING_EVERY: Duration = Duration::from_secs(60);
/// How often the resident set is read.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// The resident set of this process in bytes; None where it cannot be read.
pub fn resident_bytes() -> Option<u64> {
    resident_bytes_of("/proc/self/status")
}

/// The resident set (`VmRSS`) in a Linux `/proc/<pid>/status` file, in bytes.
pub fn resident_bytes_of(status_path: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_path).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// The guard, driven by the source's control loop.
pub struct FlowControl {
    budget_bytes: u64,
    output_stall: Duration,
    liveness_stall: Duration,
    /// Since when some partition has been stalled by a failed output.
    failed_since: Option<Instant>,
    health: Arc<Health>,
    paused: bool,
    last_check: Instant,
    /// When the budget-below-baseline warning was last logged.
    last_baseline_warning: Option<Instant>,
}

impl FlowControl {
    /// A guard for `budget_mb` MiB that reports an output stall after
    /// `output_stall` (not ready) and gives up after `liveness_stall` (not
    /// live: the platform restarts the process).
    pub fn new(
        budget_mb: u64,
        output_stall: Duration,
        liveness_stall: Duration,
        health: Arc<Health>,
    ) -> Self {
        let budget_bytes = budget_mb.saturating_mul(1 << 20);
        metrics::gauge!(m::MEMORY_BUDGET).set(budget_bytes as f64);
        metrics::gauge!(m::SOURCE_PAUSED).set(0.0);
        Self {
            budget_bytes,
            output_stall,
            liveness_stall,
            failed_since: None,
            health,
            paused: false,
            last_check: Instant::now() - CHECK_EVERY,
            last_baseline_warning: None,
        }
    }

    /// Liveness gives up on a stall that has lasted `liveness_stall`: the
    /// oldest unacknowledged batch (an output that retried all that time)
    /// or a partition stalled by an output that failed for good.
    fn check_liveness(&mut self, tracker: &OffsetTracker, oldest: Option<Duration>) {
        let failed = tracker.stalled();
        if failed.is_empty() {
            self.failed_since = None;
        } else if self.failed_since.is_none() {
            self.failed_since = Some(Instant::now());
        }
        let limit = self.liveness_stall;
        let reason = if let Some(since) = self.failed_since.filter(|t| t.elapsed() >= limit) {
            Some(format!(
                "{} partition(s) stalled by failed outputs for {} s (pipeline.liveness_stall_ms = {})",
                failed.len(),
                since.elapsed().as_secs(),
                limit.as_millis()
            ))
        } else {
            oldest.filter(|a| *a >= limit).map(|a| {
                format!(
                    "oldest unacknowledged input batch is {} s old (pipeline.liveness_stall_ms = {})",
                    a.as_secs(),
                    limit.as_millis()
                )
            })
        };
        self.health.set_fault("stall", reason);
    }

    /// Resumed with nothing in flight while memory is still over the resume
    /// mark: what the process holds without any input buffered (CRM,
    /// state, clients) is near the budget, so consumption goes on one
    /// poll at a time. Says so, at most once a minute, naming the setting.
    fn warn_budget_below_baseline(&mut self, rss_mib: u64, budget_mib: u64) {
        if self
            .last_baseline_warning
            .is_some_and(|t| t.elapsed() < BASELINE_WARNING_EVERY)
        {
            return;
        }
        self.last_baseline_warning = Some(Instant::now());
        warn!(
            rss_mib,
            budget_mib,
            "consumption resumed with nothing in flight but memory still over 70 % of the budget: \
             the process holds this much without input, so it runs throttled; raise pipeline.memory_budget_mb"
        );
    }

    /// Whether consumption is paused for memory now.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Checks memory and the output side (at most every 250 ms); pauses or
    /// resumes the consumer's assignment and updates readiness.
    pub fn check<C: Consumer<X>, X: rdkafka::consumer::ConsumerContext>(
        &mut self,
        consumer: &C,
        tracker: &OffsetTracker,
    ) {
        if self.last_check.elapsed() < CHECK_EVERY {
            return;
        }
        self.last_check = Instant::now();
        let stall = tracker.oldest_in_flight_age();
        self.health.set_condition(
            "backpressure",
            stall.filter(|a| *a >= self.output_stall).map(|a| {
                format!(
                    "oldest unacknowledged input batch is {} s old (output slow or unavailable)",
                    a.as_secs()
                )
            }),
        );
        self.check_liveness(tracker, stall);
        let Some(rss) = resident_bytes() else { return };
        metrics::gauge!(m::MEMORY_RSS).set(rss as f64);
        let share = rss as f64 / self.budget_bytes as f64;
        let want_pause = if self.paused {
            // Stay paused until memory falls, unless nothing is in flight
            // that could free it (the allocator may keep pages): then resume.
            share >= RESUME_AT && tracker.in_flight() > 0
        } else {
            share >= PAUSE_AT
        };
        // Pausing again while paused covers partitions assigned meanwhile.
        if want_pause || self.paused {
            if let Ok(assignment) = consumer.assignment() {
                let r = if want_pause {
                    consumer.pause(&assignment)
                } else {
                    consumer.resume(&assignment)
                };
                if let Err(e) = r {
                    warn!(error = %e, pause = want_pause, "cannot pause/resume the assignment");
                }
            }
        }
        if want_pause != self.paused {
            let mib = rss >> 20;
            let budget = self.budget_bytes >> 20;
            if want_pause {
                warn!(
                    rss_mib = mib,
                    budget_mib = budget,
                    "memory over budget: consumption paused"
                );
            } else if share >= RESUME_AT {
                self.warn_budget_below_baseline(mib, budget);
            } else {
                info!(rss_mib = mib, budget_mib = budget, "consumption resumed");
            }
            self.paused = want_pause;
            metrics::gauge!(m::SOURCE_PAUSED).set(if want_pause { 1.0 } else { 0.0 });
            self.health.set_condition(
                "memory",
                want_pause.then(|| {
                    format!("resident set {mib} MiB over 85 % of the {budget} MiB budget: consumption paused")
                }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_set_is_read_and_plausible() {
        let rss = resident_bytes().expect("linux /proc");
        // A test binary is more than 1 MiB and less than the machine.
        assert!(rss > 1 << 20 && rss < 64 << 30, "{rss}");
        let before = rss;
        let block = vec![1u8; 64 << 20];
        let after = resident_bytes().unwrap();
        assert!(
            after >= before + (48 << 20),
            "touching 64 MiB grows the resident set: {before} → {after}"
        );
        drop(block);
    }

    /// A guard (1 MiB budget, so memory always pauses; output stall
    /// 50 ms; liveness stall `liveness`) over a tracker with partition
    /// `t/0` assigned, and a consumer that never connects.
    struct Fixture {
        health: Arc<Health>,
        tracker: Arc<OffsetTracker>,
        tp: crate::state::offsets::TopicPartition,
        consumer: rdkafka::consumer::BaseConsumer,
        flow: FlowControl,
    }

    fn fixture(liveness: Duration) -> Fixture {
        let health = Health::new();
        let tracker = OffsetTracker::new();
        let tp: crate::state::offsets::TopicPartition = (Arc::from("t"), 0);
        tracker.assign([tp.clone()]);
        let consumer = rdkafka::ClientConfig::new()
            .set("group.id", "flow-test")
            .set("bootstrap.servers", "127.0.0.1:1")
            .create()
            .unwrap();
        let flow = FlowControl::new(1 << 20, Duration::from_millis(50), liveness, health.clone());
        Fixture {
            health,
            tracker,
            tp,
            consumer,
            flow,
        }
    }

    #[test]
    fn backpressure_condition_follows_the_oldest_batch() {
        let Fixture {
            health,
            tracker,
            tp,
            consumer,
            mut flow,
        } = fixture(Duration::from_secs(60));
        health.set_ready(true, "consuming");
        let ack = tracker.begin(&[(tp, 10)]);
        flow.check(&consumer, &tracker);
        assert!(health.is_ready(), "{}", health.reason());
        std::thread::sleep(Duration::from_millis(300));
        flow.check(&consumer, &tracker);
        assert!(!health.is_ready());
        assert!(
            health.reason().contains("backpressure"),
            "{}",
            health.reason()
        );
        drop(ack);
        std::thread::sleep(Duration::from_millis(260));
        flow.check(&consumer, &tracker);
        assert!(health.is_ready(), "{}", health.reason());
        assert!(!flow.paused());
    }

    #[test]
    fn liveness_gives_up_on_a_stall_after_the_configured_time() {
        let Fixture {
            health,
            tracker,
            tp,
            consumer,
            mut flow,
        } = fixture(Duration::from_millis(600));
        // An output that keeps retrying: not ready soon, not live after 600 ms.
        let ack = tracker.begin(&[(tp.clone(), 10)]);
        std::thread::sleep(Duration::from_millis(300));
        flow.check(&consumer, &tracker);
        assert!(health.is_live(), "{}", health.liveness_reason());
        std::thread::sleep(Duration::from_millis(400));
        flow.check(&consumer, &tracker);
        assert!(!health.is_live());
        assert!(
            health.liveness_reason().contains("liveness_stall_ms = 600"),
            "{}",
            health.liveness_reason()
        );
        // The output recovers: live again.
        drop(ack);
        std::thread::sleep(Duration::from_millis(260));
        flow.check(&consumer, &tracker);
        assert!(health.is_live(), "{}", health.liveness_reason());
        // An output that failed for good stalls the partition: live until
        // the limit, then not.
        let ack = tracker.begin(&[(tp, 11)]);
        ack.fail();
        drop(ack);
        std::thread::sleep(Duration::from_millis(260));
        flow.check(&consumer, &tracker);
        assert!(health.is_live(), "{}", health.liveness_reason());
        std::thread::sleep(Duration::from_millis(700));
        flow.check(&consumer, &tracker);
        assert!(
            health
                .liveness_reason()
                .contains("stalled by failed outputs"),
            "{}",
            health.liveness_reason()
        );
    }
}

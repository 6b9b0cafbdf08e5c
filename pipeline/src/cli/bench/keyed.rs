//! The `keyed` loops: the scale-out topology with 1…N instances.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::broker::Broker;
use super::loops::steady_rate;
use crate::config::{Config, Delivery};
use crate::metrics::Health;
use crate::topology::Pipeline;

/// The keyed topology with `instances` pipelines in one group; the rate is
/// the keyed stage's steady state over `rows` mention rows (what the full
/// loop's stateful stage saw), so it covers both stages.
pub(super) fn run_keyed(
    config: &Config,
    group: &str,
    rows: u64,
    instances: usize,
    delivery: Delivery,
) -> crate::Result<f64> {
    let mut config = config.clone();
    config.pipeline.delivery = delivery;
    config.kafka.group_id = group.to_string();
    config.pipeline.keyed_stage = true;
    config.topics.repartition = format!("{group}-repartition");
    config.topics.changelog = format!("{group}-changelog");
    let mut pipelines = Vec::new();
    let mut stats = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    for i in 0..instances {
        // Instances in one process need their own transactional ids.
        config.pipeline.instance_id = format!("bench-{i}");
        let pipeline = Pipeline::build(&config, Health::new())?;
        stats.push(pipeline.stats());
        pipelines.push(pipeline);
    }
    // All built first, then started together: they join the group within
    // its initial rebalance delay, so one assignment serves the whole run.
    // (Started one by one as they were built, a late instance could join
    // after the others had begun, and the rebalance it causes fell inside
    // the measured window: 22k/s for 3 instances in one run.)
    let runners: Vec<_> = pipelines
        .into_iter()
        .map(|pipeline| {
            let stop = stop.clone();
            std::thread::spawn(move || pipeline.run(stop, None))
        })
        .collect();
    let out = || {
        stats
            .iter()
            .map(|s| s.mentions_out.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let rate = steady_rate(rows, out, Duration::from_secs(600));
    stop.store(true, Ordering::Release);
    for r in runners {
        r.join()
            .map_err(|_| crate::PipelineError::Runtime("pipeline panicked".into()))??;
    }
    rate.ok_or_else(|| {
        crate::PipelineError::Runtime(format!(
            "keyed pipeline processed only {} of {rows} rows",
            out()
        ))
    })
}

/// [`run_keyed`] on topics of its own (`<group>-repartition`,
/// `<group>-changelog`, compacted as in production), created first and
/// checked for lost records after.
pub(super) fn run_keyed_on(
    config: &Config,
    kafka: &Broker,
    partitions: i32,
    group: &str,
    rows: u64,
    instances: usize,
    delivery: Delivery,
) -> crate::Result<f64> {
    kafka.create_topic(&format!("{group}-repartition"), partitions, &[])?;
    kafka.create_topic(
        &format!("{group}-changelog"),
        partitions,
        &[("cleanup.policy", "compact")],
    )?;
    let r = run_keyed(config, group, rows, instances, delivery)?;
    for t in ["repartition", "changelog"] {
        kafka.check_retained(&format!("{group}-{t}"), partitions)?;
    }
    Ok(r)
}

//! Where the bench's loops run: a fresh embedded broker per run (the
//! default), or with `--brokers` an external Kafka cluster, on topics and
//! consumer groups of the run's own that are deleted when the run ends,
//! fails, or is interrupted (Ctrl-C, SIGTERM).
//!
//! On an external cluster every name starts with the invocation's prefix
//! `switchboard-bench-<unix ms>-<pid>`, then `-r<run>-`: the topics
//! (`…-mentions`, `…-work-items`, the keyed loop's `…-keyed1-repartition`)
//! and the groups (`…-full`, and what the pipeline derives from a group id:
//! `…-keyed1-keyed`, `…-pipeline-restore`). Cleanup deletes whatever the
//! cluster lists under the prefix, so it finds the derived names too, and
//! waits until the topics are gone from the metadata.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::admin::{NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use switchboard_tools::embedded::EmbeddedKafka;

use crate::config::Config;
use crate::error::{PipelineError, Result};
use crate::sink::limits;

/// How long creating a topic (until every partition has a leader) or
/// cleaning up (until the topics are gone and the groups deleted) may take.
const ADMIN_DEADLINE: Duration = Duration::from_secs(60);

/// Where the bench's runs take place.
#[derive(Clone, Debug)]
pub(super) enum Target {
    /// A fresh embedded broker per run.
    Embedded,
    /// An external cluster: its bootstrap servers and this invocation's
    /// name prefix.
    External { brokers: String, prefix: String },
}

impl Target {
    /// The embedded broker, or the external cluster at `brokers`.
    pub(super) fn new(brokers: Option<&str>) -> Self {
        match brokers {
            None => Self::Embedded,
            Some(b) => Self::External {
                brokers: b.to_string(),
                prefix: format!(
                    "switchboard-bench-{}-{}",
                    chrono::Utc::now().timestamp_millis(),
                    std::process::id()
                ),
            },
        }
    }

    /// One line for the report: which broker the loops ran on.
    pub(super) fn describe(&self) -> String {
        match self {
            Self::Embedded => "embedded broker".into(),
            Self::External { brokers, .. } => format!("external cluster {brokers}"),
        }
    }
}

/// The broker of one run, with the run's topics created.
pub(super) enum Broker {
    Embedded(EmbeddedKafka),
    External(External),
}

impl Broker {
    /// Starts (embedded) or connects to (external) the run's broker, points
    /// `config` at it with the run's topic names and group id, and creates
    /// the topics every loop reads or writes.
    pub(super) fn start(
        config: &mut Config,
        target: &Target,
        run: usize,
        partitions: i32,
    ) -> Result<Self> {
        let broker = match target {
            Target::Embedded => {
                let kafka = EmbeddedKafka::start(1)?;
                config.kafka.brokers = kafka.bootstrap_servers();
                Self::Embedded(kafka)
            }
            Target::External { brokers, prefix } => {
                config.kafka.brokers = brokers.clone();
                Self::External(External {
                    admin: Admin::new(config)?,
                    prefix: format!("{prefix}-r{run}"),
                })
            }
        };
        let t = &mut config.topics;
        t.mentions = broker.name("mentions");
        t.dlq = broker.name("mentions-dlq");
        t.crm_contacts = broker.name("crm-contacts");
        t.work_items = broker.name("work-items");
        t.incidents = broker.name("incidents");
        t.crm_identity_updates = broker.name("crm-identity-updates");
        config.kafka.group_id = broker.name("pipeline");
        let t = &config.topics;
        // Contacts are co-partitioned with the keyed stage's topics; work
        // items are about as many as mentions: spread them like the input.
        for topic in [&t.mentions, &t.dlq, &t.crm_contacts, &t.work_items] {
            broker.create_topic(topic, partitions, &[])?;
        }
        broker.create_topic(&t.incidents, 1, &[])?;
        Ok(broker)
    }

    /// A topic or group name of this run (`bench-<what>` on the embedded
    /// broker, which holds one run only).
    pub(super) fn name(&self, what: &str) -> String {
        match self {
            Self::Embedded(_) => format!("bench-{what}"),
            Self::External(x) => format!("{}-{what}", x.prefix),
        }
    }

    /// Creates a topic and waits until every partition has a leader;
    /// `configs` are topic configs (the embedded broker takes none).
    pub(super) fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<()> {
        match self {
            Self::Embedded(k) => Ok(k.create_topic(name, partitions)?),
            Self::External(x) => x.admin.create_topic(name, partitions, configs),
        }
    }

    /// Fails if the broker's retention already deleted records of `topic`.
    pub(super) fn check_retained(&self, topic: &str, partitions: i32) -> Result<()> {
        let x = match self {
            Self::Embedded(k) => return Ok(k.check_retained(topic, partitions)?),
            Self::External(x) => x,
        };
        for p in 0..partitions {
            let (low, _) = x
                .admin
                .probe
                .fetch_watermarks(topic, p, x.admin.admin.timeout)?;
            if low > 0 {
                return Err(PipelineError::Runtime(format!(
                    "the cluster's retention deleted {low} records of {topic}[{p}] during the bench"
                )));
            }
        }
        Ok(())
    }
}

/// A run on an external cluster; its topics and groups are deleted when
/// it is dropped (at the end of the run, or on an error).
pub(super) struct External {
    admin: Admin,
    /// `<invocation prefix>-r<run>`: every name of this run starts with it.
    prefix: String,
}

impl Drop for External {
    fn drop(&mut self) {
        // The run's consumers have closed: their groups empty at once.
        self.admin.cleanup_and_report(&self.prefix, ADMIN_DEADLINE);
    }
}

/// Set on Ctrl-C or SIGTERM: no topic is created after it, so the cleanup
/// that follows finds them all.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// On an external cluster, Ctrl-C and SIGTERM delete every topic of this
/// invocation, and each group that has no members left, before the
/// process exits (status 130).
pub(super) fn cleanup_on_signal(config: &Config, target: &Target) {
    let Target::External { brokers, prefix } = target else {
        return;
    };
    let mut config = config.clone();
    config.kafka.brokers = brokers.clone();
    let prefix = prefix.clone();
    let spawned = std::thread::Builder::new()
        .name("sb-bench-signal".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let got = rt.block_on(async {
                use tokio::signal::unix::{signal, SignalKind};
                let Ok(mut term) = signal(SignalKind::terminate()) else {
                    return false;
                };
                tokio::select! {
                    r = tokio::signal::ctrl_c() => r.is_ok(),
                    _ = term.recv() => true,
                }
            });
            if !got {
                return;
            }
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("bench: interrupted; deleting the topics and groups named {prefix}-…");
            // A loop may still be running: its group cannot be deleted
            // while it has members, and the process exits soon after.
            if let Ok(admin) = Admin::new(&config) {
                admin.cleanup_and_report(&prefix, Duration::from_secs(5));
            }
            std::process::exit(130);
        });
    if let Err(e) = spawned {
        eprintln!("bench: no signal handler ({e}): Ctrl-C leaves the bench's topics behind");
    }
}

/// After Ctrl-C or SIGTERM the signal thread is deleting the bench's
/// topics and then exits the process: the main thread, whose loop may have
/// failed because its topics went away, waits for it (at most two minutes)
/// instead of exiting first.
pub(super) fn hold_if_interrupted() {
    if INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::sleep(2 * ADMIN_DEADLINE);
    }
}

/// An admin client on the external cluster (the runtime's, with the
/// bench's calls), and a consumer handle for metadata and watermarks.
struct Admin {
    admin: limits::Admin,
    probe: BaseConsumer,
}

impl Admin {
    fn new(config: &Config) -> Result<Self> {
        Ok(Self {
            admin: limits::Admin::new(config)?,
            probe: config.client_properties().create()?,
        })
    }

    /// Creates `name` (the broker's default replication factor) and waits
    /// until the metadata lists every partition with a leader, so that the
    /// producer and the consumers that come next find it whole.
    fn create_topic(&self, name: &str, partitions: i32, configs: &[(&str, &str)]) -> Result<()> {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err(PipelineError::Runtime("interrupted".into()));
        }
        let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(-1));
        for (k, v) in configs {
            t = t.set(k, v);
        }
        for r in self
            .admin
            .rt
            .block_on(self.admin.client.create_topics([&t], &self.admin.opts()))?
        {
            if let Err((t, code)) = r {
                return Err(PipelineError::Runtime(format!(
                    "cannot create topic {t}: {code}"
                )));
            }
        }
        let deadline = Instant::now() + ADMIN_DEADLINE;
        loop {
            let ready = self
                .probe
                .fetch_metadata(Some(name), self.admin.timeout)
                .is_ok_and(|md| {
                    md.topics().iter().any(|t| {
                        t.name() == name
                            && t.error().is_none()
                            && t.partitions().len() == partitions as usize
                            && t.partitions().iter().all(|p| p.leader() >= 0)
                    })
                });
            if ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(PipelineError::Runtime(format!(
                    "topic {name} has no leader for every partition after {ADMIN_DEADLINE:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The topics whose names start with `prefix`.
    fn topics_under(&self, prefix: &str) -> Result<Vec<String>> {
        let md = self.probe.fetch_metadata(None, self.admin.timeout)?;
        Ok(md
            .topics()
            .iter()
            .map(|t| t.name().to_string())
            .filter(|n| n.starts_with(prefix))
            .collect())
    }

    /// Deletes every topic and group named `<run>-…` and reports it on
    /// stderr in one line, or what could not be deleted. Groups whose
    /// members are still leaving are tried again for `group_wait`.
    fn cleanup_and_report(&self, run: &str, group_wait: Duration) {
        let prefix = format!("{run}-");
        match self.cleanup(&prefix, group_wait) {
            Ok((topics, groups)) => {
                eprintln!("bench: deleted {topics} topic(s) and {groups} group(s) named {prefix}…")
            }
            Err(e) => eprintln!("bench: cleaning up {prefix}… on the cluster: {e}"),
        }
    }

    /// Deletes the topics named `prefix…` until the metadata lists none
    /// (so a topic created meanwhile goes too), then the groups; returns
    /// how many of each were deleted.
    fn cleanup(&self, prefix: &str, group_wait: Duration) -> Result<(usize, usize)> {
        let deadline = Instant::now() + ADMIN_DEADLINE;
        let mut deleted = std::collections::BTreeSet::new();
        loop {
            let topics = self.topics_under(prefix)?;
            if topics.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(PipelineError::Runtime(format!(
                    "topics still listed after {ADMIN_DEADLINE:?}: {topics:?}"
                )));
            }
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            for r in self
                .admin
                .rt
                .block_on(self.admin.client.delete_topics(&names, &self.admin.opts()))?
            {
                match r {
                    Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
                    Err((t, code)) => {
                        return Err(PipelineError::Runtime(format!("delete topic {t}: {code}")))
                    }
                }
            }
            deleted.extend(topics);
            std::thread::sleep(Duration::from_millis(200));
        }
        let groups = self.delete_groups(prefix, Instant::now() + group_wait)?;
        Ok((deleted.len(), groups))
    }

    /// Deletes the groups named `prefix…`; a group whose members are still
    /// leaving (`NON_EMPTY_GROUP`) is tried again until `deadline`.
    fn delete_groups(&self, prefix: &str, deadline: Instant) -> Result<usize> {
        let mut deleted = 0;
        loop {
            let list = self.probe.fetch_group_list(None, self.admin.timeout)?;
            let groups: Vec<String> = list
                .groups()
                .iter()
                .map(|g| g.name().to_string())
                .filter(|n| n.starts_with(prefix))
                .collect();
            if groups.is_empty() {
                return Ok(deleted);
            }
            let names: Vec<&str> = groups.iter().map(String::as_str).collect();
            let mut busy = Vec::new();
            for r in self
                .admin
                .rt
                .block_on(self.admin.client.delete_groups(&names, &self.admin.opts()))?
            {
                match r {
                    Ok(_) => deleted += 1,
                    Err((_, RDKafkaErrorCode::GroupIdNotFound)) => {}
                    Err((g, RDKafkaErrorCode::NonEmptyGroup)) => busy.push(g),
                    Err((g, code)) => {
                        return Err(PipelineError::Runtime(format!("delete group {g}: {code}")))
                    }
                }
            }
            if busy.is_empty() {
                return Ok(deleted);
            }
            if Instant::now() >= deadline {
                return Err(PipelineError::Runtime(format!(
                    "groups still have members: {busy:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

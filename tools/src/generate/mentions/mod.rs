//! Synthetic mention firehose: Twitter v1.1 and v2, Facebook page webhooks
//! and canonical envelopes (see SPEC "Mention formats"), with realistic UK
//! telco care content, regional outage bursts, spam campaigns, repeat
//! posters, non-English texts and a share of malformed records.
//!
//! The stream is a pure function of [`MentionGenConfig`]: the same config
//! always yields the same bytes. Authors drawn from the CRM use the identity
//! functions of [`super::crm`], so they join the snapshot written with the
//! same `seed` and `customers`.
//!
//! Files: `formats.rs` (the valid records: Twitter v1.1 and v2, Facebook,
//! envelopes), `twitter.rs` (Twitter's wire objects), `malformed.rs`,
//! `authors.rs` (who writes: customers, unknown authors, bots; outage
//! bursts), `compose.rs` (what they write).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{Result, ToolsError};
use crate::generate::enc::{mix, Rng};
use crate::generate::skew::Skew;

mod authors;
mod compose;
mod formats;
mod malformed;
#[cfg(test)]
mod tests;
mod twitter;

/// Settings of the mention generator.
#[derive(Debug, Clone)]
pub struct MentionGenConfig {
    /// Seed; use the CRM snapshot's seed so that known authors join.
    pub seed: u64,
    /// Number of customers in the CRM snapshot the authors are drawn from.
    pub customers: usize,
    /// Event time of the first record, epoch milliseconds UTC.
    pub start_ms: i64,
    /// Mean event-time rate: event times advance by `1 / events_per_sec`
    /// seconds per record on average (with jitter).
    pub events_per_sec: f64,
    /// Share of malformed records (DLQ material), default 0.01.
    pub malformed_ratio: f64,
    /// Share of authors that are not CRM customers, default 0.2. A third of
    /// those are spam bots, so it also scales the spam share.
    pub unknown_author_ratio: f64,
    /// Key every record of a CRM customer `customer-<index>` (whatever the
    /// channel) and never leave a key out: all of a customer's mentions then
    /// share one `mentions` partition, so their order is fixed by the input
    /// (scale-out tests compare topologies record for record). Off: keyed
    /// by author handle, 5 % unkeyed, as real sources do.
    pub key_by_customer: bool,
    /// Every mention of a multi-mention Facebook webhook has the same
    /// author (with `key_by_customer`, the record's key then names every
    /// row's customer).
    pub single_author_records: bool,
    /// Regional outage bursts at random record numbers (default on: the
    /// firehose has them). Off: a quiet stream but for `spikes`.
    pub random_outages: bool,
    /// Scripted outage spikes (scenarios and tests), by start record; one
    /// that starts while another burst runs waits for it to end.
    pub spikes: Vec<OutageSpike>,
}

/// A scripted regional outage: from record `start_record` (1-based, as
/// [`MentionGenerator::generated`] counts) for `records` records, a `share`
/// of the traffic is about one outage, written by authors of one region.
/// Its ground truth is [`GeneratedRecord::outage`], numbered with the
/// random bursts in the order they start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutageSpike {
    /// Record number at which it starts.
    pub start_record: u64,
    /// Records it lasts (at least 1).
    pub records: u32,
    /// Share of those records about the outage, 0–1.
    pub share: f64,
    /// Region, one of [`crate::generate::crm::REGIONS`] (an unknown name
    /// picks one by population).
    pub region: &'static str,
}

impl Default for MentionGenConfig {
    /// Seed 42, 100 000 customers, start 2026-11-22T08:00:00Z, 1000 events/s,
    /// 1 % malformed, 20 % unknown authors (matches `CrmGenConfig::default`).
    fn default() -> Self {
        Self {
            seed: 42,
            customers: 100_000,
            start_ms: 1_795_334_400_000,
            events_per_sec: 1000.0,
            malformed_ratio: 0.01,
            unknown_author_ratio: 0.2,
            key_by_customer: false,
            single_author_records: false,
            random_outages: true,
            spikes: Vec::new(),
        }
    }
}

/// What the pipeline should make of a generated record (ground truth for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expect {
    /// A valid record in `format` (`twitter_v1`, `twitter_v2`, `facebook`,
    /// `envelope`) carrying `rows` mentions (> 1 only for Facebook webhooks;
    /// reaction entries do not count).
    Mentions {
        /// Wire format label, as `switchboard_operators::parse::Format::as_str`.
        format: &'static str,
        /// Number of mention rows the parser should produce.
        rows: u32,
    },
    /// A valid Facebook webhook carrying only reactions: no mention, a
    /// counted non-actionable drop.
    NonActionable,
    /// A record that must go to the DLQ with this `error.reason`
    /// (`invalid_json`, `unknown_format`, `missing_field`, `too_large`,
    /// `invalid_utf8`).
    Malformed(&'static str),
}

/// One generated Kafka record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedRecord {
    /// Record key: the author handle (screen name, Facebook user id,
    /// envelope handle); `None` for a few records.
    pub key: Option<Vec<u8>>,
    /// Record value: one JSON document on a single line (raw bytes for
    /// `invalid_utf8`, never containing a newline byte).
    pub payload: Vec<u8>,
    /// Ground truth.
    pub expect: Expect,
    /// Event time of the (first) mention, epoch milliseconds UTC.
    pub event_time_ms: i64,
    /// Ground truth of regional outages: the number (1, 2, …) of the outage
    /// burst whose region's author wrote the record's (first) mention about
    /// it, else `None`.
    pub outage: Option<u32>,
}

/// Formats and their shares among valid records.
const FORMAT_WEIGHTS: [u32; 4] = [45, 20, 15, 20];

/// Who wrote a mention.
#[derive(Clone)]
struct Author {
    customer: Option<usize>,
    bot: bool,
    /// Twitter screen name / Facebook id / envelope handle.
    handle: String,
    /// Numeric Twitter user id.
    user_id: u64,
    name: String,
    followers: u64,
    friends: u64,
    statuses: u64,
    verified: bool,
    created_ms: i64,
    bio: &'static str,
    region: usize,
    town: &'static str,
    district: String,
    product: &'static str,
}

/// Which field a `missing_field` record lacks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Omit {
    None,
    Text,
    CreatedAt,
}

/// A regional outage: for `remaining` records, a share of traffic is
/// about the same outage, from authors in one region.
struct Burst {
    /// 1, 2, … in the order the bursts start.
    seq: u32,
    region: usize,
    town: &'static str,
    remaining: u32,
    share: f64,
}

/// Generator state other than the output buffers.
struct Gen {
    cfg: MentionGenConfig,
    rng: Rng,
    n: u64,
    clock_ms: f64,
    interval_ms: f64,
    burst: Option<Burst>,
    next_burst_at: u64,
    bursts_started: u32,
    /// Indices into `cfg.spikes` of the spikes already started.
    spikes_done: Vec<usize>,
    /// The burst the record's first mention is about, if any.
    record_outage: Option<u32>,
    /// The burst the last author picked writes about, if any.
    picked_burst: Option<u32>,
    campaign: String,
    campaign_until: u64,
    unknown_pool: u64,
    skew: Skew,
    /// The first author of the record being generated: `Some(customer)`.
    record_author: Option<Option<usize>>,
    /// Reused buffers.
    body: String,
    ents: Vec<(Ent, usize, usize, usize, usize)>,
}

/// Infinite iterator of synthetic mention records; see the module docs.
pub struct MentionGenerator {
    g: Gen,
    buf: String,
    text: String,
    tmp: String,
}

/// Channel a text is written for (affects wrapping and style).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Channel {
    Twitter,
    Facebook,
    WebForm,
    AppChat,
    Email,
    Sms,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Twitter => "twitter",
            Channel::Facebook => "facebook",
            Channel::WebForm => "web_form",
            Channel::AppChat => "app_chat",
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    fn id_prefix(self) -> &'static str {
        match self {
            Channel::WebForm => "wf",
            Channel::AppChat => "chat",
            Channel::Email => "em",
            Channel::Sms => "sms",
            _ => "x",
        }
    }
}

/// One v1.1 status to write.
struct V1<'a> {
    t: i64,
    id: u64,
    author: &'a Author,
    text: &'a str,
    lang: &'static str,
    reply_to: Option<u64>,
    omit: Omit,
}

/// A Twitter entity found in a text: (kind, char start, char end, byte range).
#[derive(Clone, Copy)]
enum Ent {
    Mention,
    Hashtag,
    Url,
}

impl MentionGenerator {
    /// Creates a generator; the stream depends only on `cfg`.
    pub fn new(cfg: MentionGenConfig) -> Self {
        let mut rng = Rng::new(mix(cfg.seed ^ 0x6D65_6E74_696F_6E73));
        let interval_ms = if cfg.events_per_sec > 0.0 {
            1000.0 / cfg.events_per_sec
        } else {
            1.0
        };
        let next_burst_at = rng.range(1_500, 4_000);
        let unknown_pool = (cfg.customers as u64 / 4).max(2_000);
        let skew = Skew::new(cfg.seed, cfg.customers);
        Self {
            g: Gen {
                clock_ms: cfg.start_ms as f64,
                cfg,
                rng,
                n: 0,
                interval_ms,
                burst: None,
                next_burst_at,
                bursts_started: 0,
                spikes_done: Vec::new(),
                record_outage: None,
                picked_burst: None,
                campaign: String::new(),
                campaign_until: 0,
                unknown_pool,
                skew,
                record_author: None,
                body: String::with_capacity(512),
                ents: Vec::with_capacity(8),
            },
            buf: String::with_capacity(4096),
            text: String::with_capacity(512),
            tmp: String::with_capacity(512),
        }
    }

    /// Number of records generated so far.
    pub fn generated(&self) -> u64 {
        self.g.n
    }
}

impl Iterator for MentionGenerator {
    type Item = GeneratedRecord;

    fn next(&mut self) -> Option<GeneratedRecord> {
        Some(self.next_record())
    }
}

impl MentionGenerator {
    fn next_record(&mut self) -> GeneratedRecord {
        let g = &mut self.g;
        g.n += 1;
        g.clock_ms += g.interval_ms * (0.5 + g.rng.f64());
        let mut t = g.clock_ms as i64;
        if g.rng.chance(0.03) {
            // a little out-of-orderness: a late record
            t -= g.rng.range(1, 10_000) as i64;
        }
        g.tick_burst();
        g.record_author = None;
        g.record_outage = None;
        self.buf.clear();
        if g.rng.chance(g.cfg.malformed_ratio) {
            return self.malformed(t);
        }
        let (key, expect) = match self.g.rng.weighted(&FORMAT_WEIGHTS) {
            0 => self.twitter(t, false, Omit::None),
            1 => self.twitter(t, true, Omit::None),
            2 => self.facebook(t),
            _ => self.envelope(t, Omit::None, None),
        };
        self.finish(key, self.buf.as_bytes().to_vec(), expect, t)
    }

    fn finish(
        &mut self,
        key: Option<String>,
        payload: Vec<u8>,
        expect: Expect,
        t: i64,
    ) -> GeneratedRecord {
        debug_assert!(!payload.contains(&b'\n'));
        let key = if self.g.cfg.key_by_customer {
            match self.g.record_author.take() {
                Some(Some(c)) => Some(format!("customer-{c}").into_bytes()),
                _ => key.map(String::into_bytes),
            }
        } else if self.g.rng.chance(0.05) {
            None
        } else {
            key.map(String::into_bytes)
        };
        GeneratedRecord {
            key,
            payload,
            expect,
            event_time_ms: t,
            outage: self.g.record_outage.take(),
        }
    }
}

/// Writes `count` generated records to `path`, one per line (JSON; the
/// `invalid_utf8` records are raw bytes on their line). Returns the number
/// of lines written.
pub fn write_mentions_jsonl(path: &Path, count: u64, cfg: &MentionGenConfig) -> Result<u64> {
    let file = File::create(path).map_err(|e| ToolsError::io(path, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut written = 0u64;
    for rec in MentionGenerator::new(cfg.clone()).take(count as usize) {
        w.write_all(&rec.payload)
            .map_err(|e| ToolsError::io(path, e))?;
        w.write_all(b"\n").map_err(|e| ToolsError::io(path, e))?;
        written += 1;
    }
    w.flush().map_err(|e| ToolsError::io(path, e))?;
    Ok(written)
}

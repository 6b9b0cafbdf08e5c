//! Synthetic mention firehose: Twitter v1.1 and v2, Facebook page webhooks
//! and canonical envelopes (see SPEC "Mention formats"), with realistic UK
//! telco care content, regional outage bursts, spam campaigns, repeat
//! posters, non-English texts and a share of malformed records.
//!
//! The stream is a pure function of [`MentionGenConfig`]: the same config
//! always yields the same bytes. Authors drawn from the CRM use the identity
//! functions of [`super::crm`], so they join the snapshot written with the
//! same `seed` and `customers`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::crm::{self, IdentityKind};
use super::enc::{
    below, h3, mix, push_i64, push_json_str, push_json_str_ascii, push_rfc3339_ms,
    push_rfc3339_offset, push_rfc3339_s, push_twitter_time, push_u64, unit, Rng,
};
use super::text::{self, Slots, Topic, BRAND_HELP, BRAND_MAIN};
use crate::error::{Result, ToolsError};

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
}

/// Malformed reasons in [`Expect::Malformed`], with their shares.
const MALFORMED: [&str; 5] = [
    "invalid_json",
    "unknown_format",
    "missing_field",
    "too_large",
    "invalid_utf8",
];
const MALFORMED_WEIGHTS: [u32; 5] = [30, 20, 25, 10, 15];
/// Formats and their shares among valid records.
const FORMAT_WEIGHTS: [u32; 4] = [45, 20, 15, 20];

const BRAND_HELP_ID: u64 = 2_738_401_920;
const BRAND_MAIN_ID: u64 = 19_283_746;
const PAGE_ID: &str = "104563829470211";
const TWITTER_EPOCH: i64 = 1_288_834_974_657;
const SEC_YEAR_2009: i64 = 1_230_768_000_000;

// Salts for per-author attributes.
const S_FOLLOW: u64 = 100;
const S_VERIFIED: u64 = 101;
const S_STATUSES: u64 = 102;
const S_CREATED: u64 = 103;
const S_BIO: u64 = 104;
const S_UNKNOWN: u64 = 0x5EED_0F0F;
const S_BOT: u64 = 0xB07;

static BIOS: [&str; 10] = [
    "",
    "Dad of 2. Season ticket holder. Views my own",
    "Nurse \u{1F489} | coffee | dogs",
    "Small business owner",
    "Gamer. Streamer. Need good internet.",
    "Retired teacher",
    "",
    "Proud Northerner",
    "Working from home, allegedly",
    "she/her \u{2728}",
];
static SOURCES: [&str; 4] = [
    "<a href=\"http://twitter.com/download/iphone\" rel=\"nofollow\">Twitter for iPhone</a>",
    "<a href=\"http://twitter.com/download/android\" rel=\"nofollow\">Twitter for Android</a>",
    "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
    "<a href=\"https://tweetdeck.twitter.com\" rel=\"nofollow\">TweetDeck</a>",
];
static BOT_SOURCE: &str = "<a href=\"https://ifttt.com\" rel=\"nofollow\">IFTTT</a>";
static BOT_WORDS: [&str; 8] = [
    "PrizeDrop",
    "FreeStuffUK",
    "WinBigNow",
    "CryptoKingz",
    "DealsDaily",
    "BestBuysUK",
    "FollowTrain",
    "VoucherHub",
];
static UNKNOWN_SUFFIX: [&str; 6] = ["_uk", "x", "_ldn", "UK", "_x", "ie"];
static UNKNOWN_DOMAINS: [&str; 4] = ["gmail.com", "hotmail.com", "yahoo.com", "outlook.com"];

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
    campaign: String,
    campaign_until: u64,
    unknown_pool: u64,
    skew: super::skew::Skew,
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
        let skew = super::skew::Skew::new(cfg.seed, cfg.customers);
        Self {
            g: Gen {
                clock_ms: cfg.start_ms as f64,
                cfg,
                rng,
                n: 0,
                interval_ms,
                burst: None,
                next_burst_at,
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
        }
    }

    /// A tweet (v1.1 status or v2 response) into `self.buf`; returns the key.
    fn twitter(&mut self, t: i64, v2: bool, omit: Omit) -> (Option<String>, Expect) {
        let g = &mut self.g;
        let (topic, author) = g.topic_and_author(IdentityKind::Twitter);
        let lang = g.compose(&mut self.text, topic, &author, Channel::Twitter);
        let id = g.tweet_id(t);
        let reply_to = if !author.bot && g.rng.chance(0.25) {
            let back = g.rng.range(60_000, 6 * 3_600_000) as i64;
            Some(g.tweet_id(t - back))
        } else {
            None
        };
        if v2 {
            g.write_v2(
                &mut self.buf,
                &mut self.tmp,
                t,
                id,
                &author,
                &self.text,
                lang,
                reply_to,
                omit,
            );
            (
                Some(author.handle),
                Expect::Mentions {
                    format: "twitter_v2",
                    rows: 1,
                },
            )
        } else {
            let retweet = !author.bot && omit == Omit::None && g.rng.chance(0.05);
            if retweet {
                // Retweet of another author's complaint.
                let u = g.rng.u64() % g.unknown_pool;
                let orig = g.unknown_author(IdentityKind::Twitter, u, t);
                let mut rt = String::with_capacity(self.text.len() + 24);
                rt.push_str("RT @");
                rt.push_str(&orig.handle);
                rt.push_str(": ");
                rt.push_str(&self.text);
                let orig_t = t - g.rng.range(10_000, 3_600_000) as i64;
                let orig_id = g.tweet_id(orig_t);
                let orig_text = std::mem::replace(&mut self.text, rt);
                g.write_v1(
                    &mut self.buf,
                    &mut self.tmp,
                    V1 {
                        t,
                        id,
                        author: &author,
                        text: &self.text,
                        lang,
                        reply_to: None,
                        omit,
                    },
                    Some(V1 {
                        t: orig_t,
                        id: orig_id,
                        author: &orig,
                        text: &orig_text,
                        lang,
                        reply_to: None,
                        omit,
                    }),
                );
            } else {
                g.write_v1(
                    &mut self.buf,
                    &mut self.tmp,
                    V1 {
                        t,
                        id,
                        author: &author,
                        text: &self.text,
                        lang,
                        reply_to,
                        omit,
                    },
                    None,
                );
            }
            (
                Some(author.handle),
                Expect::Mentions {
                    format: "twitter_v1",
                    rows: 1,
                },
            )
        }
    }

    /// A Facebook page webhook with 1–3 comments/posts, sometimes with
    /// reactions, sometimes reactions only.
    fn facebook(&mut self, t: i64) -> (Option<String>, Expect) {
        let g = &mut self.g;
        let reactions_only = g.rng.chance(0.08);
        let mentions = if reactions_only {
            0
        } else {
            [1, 1, 1, 1, 1, 1, 2, 2, 2, 3][g.rng.below(10)]
        };
        let reactions = if reactions_only {
            g.rng.range(1, 3) as u32
        } else if g.rng.chance(0.1) {
            1
        } else {
            0
        };
        let buf = &mut self.buf;
        buf.push_str("{\"object\":\"page\",\"entry\":[{\"id\":\"");
        buf.push_str(PAGE_ID);
        buf.push_str("\",\"time\":");
        push_i64(buf, t / 1000 + g.rng.range(0, 3) as i64);
        buf.push_str(",\"changes\":[");
        let mut key = None;
        let total = mentions + reactions;
        let mut reaction_slots = reactions;
        let mut first = true;
        let mut first_author: Option<(Topic, Author)> = None;
        for k in 0..total {
            let is_reaction =
                reaction_slots > 0 && (total - k == reaction_slots || g.rng.chance(0.5));
            if is_reaction {
                reaction_slots -= 1;
            }
            if !first {
                buf.push(',');
            }
            first = false;
            let ct = t - if k == 0 {
                0
            } else {
                g.rng.range(0, 120_000) as i64
            };
            let post_num = 700_000_000_000_000
                + mix(g.cfg.seed ^ (ct as u64 / 3_600_000)) % 100_000_000_000_000;
            if is_reaction {
                let a = g.any_author(IdentityKind::Facebook, ct);
                buf.push_str("{\"field\":\"feed\",\"value\":{\"from\":{\"id\":");
                push_json_str(buf, &a.handle);
                buf.push_str(",\"name\":");
                push_json_str(buf, &a.name);
                buf.push_str("},\"post_id\":\"");
                buf.push_str(PAGE_ID);
                buf.push('_');
                push_u64(buf, post_num);
                buf.push_str("\",\"created_time\":");
                push_i64(buf, ct / 1000);
                buf.push_str(",\"item\":\"reaction\",\"parent_id\":\"");
                buf.push_str(PAGE_ID);
                buf.push('_');
                push_u64(buf, post_num);
                buf.push_str("\",\"reaction_type\":\"");
                buf.push_str(["like", "love", "angry", "haha", "sad"][g.rng.below(5)]);
                buf.push_str("\",\"verb\":\"add\"}}");
                continue;
            }
            let (topic, a) = match &first_author {
                Some(x) if g.cfg.single_author_records => x.clone(),
                _ => g.topic_and_author(IdentityKind::Facebook),
            };
            if first_author.is_none() {
                first_author = Some((topic, a.clone()));
            }
            let _lang = g.compose(&mut self.text, topic, &a, Channel::Facebook);
            if key.is_none() {
                key = Some(a.handle.clone());
            }
            let visitor_post = g.rng.chance(0.2);
            let own = 100_000_000_000_000
                + mix(g.cfg.seed ^ g.n ^ ((k as u64) << 56)) % 900_000_000_000_000;
            buf.push_str("{\"field\":\"feed\",\"value\":{\"from\":{\"id\":");
            push_json_str(buf, &a.handle);
            buf.push_str(",\"name\":");
            push_json_str(buf, &a.name);
            buf.push_str("},\"post\":{\"status_type\":\"");
            buf.push_str(if visitor_post {
                "mobile_status_update"
            } else {
                "added_photos"
            });
            buf.push_str("\",\"is_published\":true,\"updated_time\":\"");
            push_rfc3339_s(buf, ct);
            buf.truncate(buf.len() - 1);
            buf.push_str(
                "+0000\",\"permalink_url\":\"https://www.facebook.com/AlbionTelecom/posts/pfbid0",
            );
            push_u64(buf, if visitor_post { own } else { post_num });
            buf.push_str("\",\"promotion_status\":\"inactive\",\"id\":\"");
            buf.push_str(PAGE_ID);
            buf.push('_');
            push_u64(buf, if visitor_post { own } else { post_num });
            buf.push_str("\"},\"message\":");
            push_json_str(buf, &self.text);
            buf.push_str(",\"post_id\":\"");
            buf.push_str(PAGE_ID);
            buf.push('_');
            push_u64(buf, if visitor_post { own } else { post_num });
            if !visitor_post {
                buf.push_str("\",\"comment_id\":\"");
                push_u64(buf, post_num);
                buf.push('_');
                push_u64(buf, own);
            }
            buf.push_str("\",\"created_time\":");
            push_i64(buf, ct / 1000);
            if visitor_post {
                buf.push_str(",\"item\":\"post\",\"verb\":\"add\"}}");
            } else {
                buf.push_str(",\"item\":\"comment\",\"parent_id\":\"");
                buf.push_str(PAGE_ID);
                buf.push('_');
                push_u64(buf, post_num);
                buf.push_str("\",\"verb\":\"add\"}}");
            }
        }
        buf.push_str("]}]}");
        if reactions_only {
            (None, Expect::NonActionable)
        } else {
            (
                key,
                Expect::Mentions {
                    format: "facebook",
                    rows: mentions,
                },
            )
        }
    }

    /// A canonical envelope (web form, app chat, e-mail, SMS). `big_text`
    /// replaces the composed text (used for `too_large`).
    fn envelope(&mut self, t: i64, omit: Omit, big_text: Option<&str>) -> (Option<String>, Expect) {
        let g = &mut self.g;
        let channel = [
            Channel::WebForm,
            Channel::AppChat,
            Channel::Email,
            Channel::Sms,
        ][g.rng.weighted(&[40, 30, 20, 10])];
        let kind = match channel {
            Channel::Sms => IdentityKind::Phone,
            Channel::Email => IdentityKind::Email,
            Channel::WebForm => {
                if g.rng.chance(0.7) {
                    IdentityKind::Email
                } else {
                    IdentityKind::Phone
                }
            }
            _ => {
                if g.rng.chance(0.5) {
                    IdentityKind::Email
                } else {
                    IdentityKind::Phone
                }
            }
        };
        let (topic, a) = g.topic_and_author(kind);
        let lang = g.compose(&mut self.text, topic, &a, channel);
        let text = big_text.unwrap_or(&self.text);
        let buf = &mut self.buf;
        buf.push_str("{\"id\":\"");
        buf.push_str(channel.id_prefix());
        buf.push('-');
        let h = mix(g.cfg.seed ^ mix(g.n));
        for shift in (0..64).step_by(4).rev() {
            buf.push(b"0123456789abcdef"[((h >> shift) & 0xF) as usize] as char);
        }
        buf.push_str("\",\"channel\":\"");
        buf.push_str(channel.as_str());
        buf.push('"');
        if omit != Omit::CreatedAt {
            buf.push_str(",\"created_at\":\"");
            if g.rng.chance(0.2) {
                push_rfc3339_offset(buf, t, 60);
            } else {
                push_rfc3339_ms(buf, t);
            }
            buf.push('"');
        }
        buf.push_str(",\"author\":{\"handle\":");
        push_json_str(buf, &a.handle);
        buf.push_str(",\"id\":");
        if channel == Channel::AppChat {
            buf.push_str("\"app-");
            push_u64(buf, mix(a.user_id) % 1_000_000_000);
            buf.push('"');
        } else {
            buf.push_str("null");
        }
        buf.push_str(",\"name\":");
        if g.rng.chance(0.9) {
            push_json_str(buf, &a.name);
        } else {
            buf.push_str("null");
        }
        buf.push_str(",\"followers\":null,\"verified\":false}");
        if omit != Omit::Text {
            buf.push_str(",\"text\":");
            push_json_str(buf, text);
        }
        buf.push_str(",\"in_reply_to\":");
        if channel == Channel::AppChat && g.rng.chance(0.3) {
            buf.push_str("\"chat-");
            push_u64(buf, g.rng.range(1_000_000, 9_999_999));
            buf.push('"');
        } else {
            buf.push_str("null");
        }
        buf.push_str(",\"lang\":");
        if g.rng.chance(0.85) {
            push_json_str(buf, lang);
        } else {
            buf.push_str("null");
        }
        buf.push_str(",\"url\":");
        match channel {
            Channel::WebForm => {
                buf.push_str("\"https://www.albiontelecom.co.uk/help/contact-us?form=");
                buf.push_str(["fault", "billing", "complaint", "general"][g.rng.below(4)]);
                buf.push('"');
            }
            _ => buf.push_str("null"),
        }
        buf.push('}');
        (
            Some(a.handle),
            Expect::Mentions {
                format: "envelope",
                rows: 1,
            },
        )
    }

    fn malformed(&mut self, t: i64) -> GeneratedRecord {
        let reason = self.g.rng.weighted(&MALFORMED_WEIGHTS);
        let expect = Expect::Malformed(MALFORMED[reason]);
        let (key, payload): (Option<String>, Vec<u8>) = match reason {
            0 => {
                // invalid_json
                match self.g.rng.below(5) {
                    0..=2 => {
                        let (key, _) = if self.g.rng.chance(0.5) {
                            self.twitter(t, false, Omit::None)
                        } else {
                            self.envelope(t, Omit::None, None)
                        };
                        // truncated at a char boundary strictly inside the document
                        let len = self.buf.len();
                        let mut cut = len / 4 + self.g.rng.below(len - len / 4 - 1);
                        while !self.buf.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        (key, self.buf.as_bytes()[..cut].to_vec())
                    }
                    3 => (
                        None,
                        b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>".to_vec(),
                    ),
                    _ => {
                        let (key, _) = self.envelope(t, Omit::None, None);
                        // trailing comma before the closing brace
                        self.buf.insert(self.buf.len() - 1, ',');
                        (key, self.buf.as_bytes().to_vec())
                    }
                }
            }
            1 => {
                // unknown_format: valid JSON of a shape no parser knows
                let b = &mut self.buf;
                match self.g.rng.below(4) {
                    0 => {
                        b.push_str("{\"event\":\"page_view\",\"page\":\"/broadband/deals\",\"session\":\"s-");
                        push_u64(b, self.g.rng.u64() >> 20);
                        b.push_str("\",\"ts\":");
                        push_i64(b, t);
                        b.push('}');
                    }
                    1 => {
                        b.push_str("{\"type\":\"heartbeat\",\"source\":\"bridge-02\",\"ts\":");
                        push_i64(b, t);
                        b.push('}');
                    }
                    2 => {
                        b.push_str("{\"kind\":\"youtube#commentThread\",\"etag\":\"x9Fq\",\"snippet\":{\"videoId\":\"dQw4w9WgXcQ\",\"topLevelComment\":{\"snippet\":{\"textDisplay\":\"why is my broadband so slow\",\"authorDisplayName\":\"someone\"}}}}");
                    }
                    _ => {
                        b.push_str("[{\"metric\":\"queue_depth\",\"value\":");
                        push_u64(b, self.g.rng.range(0, 500));
                        b.push_str("},{\"metric\":\"agents_online\",\"value\":");
                        push_u64(b, self.g.rng.range(0, 80));
                        b.push_str("}]");
                    }
                }
                (None, self.buf.as_bytes().to_vec())
            }
            2 => {
                // missing_field: a known format without its text or time
                let omit = if self.g.rng.chance(0.5) {
                    Omit::Text
                } else {
                    Omit::CreatedAt
                };
                let (key, _) = match self.g.rng.below(3) {
                    0 => self.twitter(t, false, omit),
                    1 => self.twitter(t, true, omit),
                    _ => self.envelope(t, omit, None),
                };
                (key, self.buf.as_bytes().to_vec())
            }
            3 => {
                // too_large: an e-mail bridge envelope with a pasted router log
                let mut big = String::from(
                    "Hi, my broadband keeps failing, here is the log from my router:\n",
                );
                let target = 66_000 + self.g.rng.below(30_000);
                let mut k = 0u64;
                while big.len() < target {
                    big.push_str("2026-11-22 03:1");
                    push_u64(&mut big, k % 10);
                    big.push_str(":0");
                    push_u64(&mut big, k % 7);
                    big.push_str(
                        " WAN ERROR PPPoE authentication failed (code 691), retrying in 30s\n",
                    );
                    k += 1;
                }
                let (key, _) = self.envelope(t, Omit::None, Some(&big));
                (key, self.buf.as_bytes().to_vec())
            }
            _ => {
                // invalid_utf8: a valid record with Latin-1 or broken bytes in its text
                let (key, _) = if self.g.rng.chance(0.5) {
                    self.envelope(t, Omit::None, None)
                } else {
                    self.twitter(t, false, Omit::None)
                };
                let mut bytes = self.buf.as_bytes().to_vec();
                // inside a string value, so the record is otherwise valid JSON
                let at = [&b"\"text\":\""[..], b"\"full_text\":\"", b"\"name\":\""]
                    .iter()
                    .find_map(|pat| find(&bytes, pat).map(|p| p + pat.len()))
                    .expect("a string field");
                let bad: &[u8] = [&b"\xA3"[..], b"caf\xE9 ", b"\xC3", b"\xFF\xFE", b"\xE2\x82"]
                    [self.g.rng.below(5)];
                bytes.splice(at..at, bad.iter().copied());
                (key, bytes)
            }
        };
        self.finish(key, payload, expect, t)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
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

fn scan_entities(text: &str, out: &mut Vec<(Ent, usize, usize, usize, usize)>) {
    out.clear();
    let bytes = text.as_bytes();
    let mut chars = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        let kind = if (b == b'@' || b == b'#') && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        {
            Some(if b == b'@' {
                Ent::Mention
            } else {
                Ent::Hashtag
            })
        } else if bytes[i..].starts_with(b"https://t.co/") {
            Some(Ent::Url)
        } else {
            None
        };
        if let Some(kind) = kind {
            let start = i;
            let mut j = if matches!(kind, Ent::Url) {
                i + 13
            } else {
                i + 1
            };
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            if j > start + 1 {
                out.push((kind, chars, chars + (j - start), start, j));
                chars += j - start;
                i = j;
                continue;
            }
        }
        if (b & 0xC0) != 0x80 {
            chars += 1;
        }
        i += 1;
    }
}

impl Gen {
    /// Starts and ends regional outage bursts.
    fn tick_burst(&mut self) {
        if let Some(b) = &mut self.burst {
            b.remaining -= 1;
            if b.remaining == 0 {
                self.burst = None;
                self.next_burst_at = self.n + self.rng.range(8_000, 30_000);
            }
        } else if self.n >= self.next_burst_at {
            let region = crm::region_by_weight(self.rng.u64());
            let town = self.rng.pick(crm::region_towns(region));
            self.burst = Some(Burst {
                region,
                town,
                remaining: self.rng.range(400, 4_000) as u32,
                share: 0.15 + 0.35 * self.rng.f64(),
            });
        }
    }

    fn tweet_id(&mut self, t: i64) -> u64 {
        let ms = (t - TWITTER_EPOCH).max(0) as u64;
        (ms << 22) | (((self.n >> 12) & 0x3FF) << 12) | (self.n & 0xFFF)
    }

    /// Skewed (Zipf-like) customer pick: some customers post much more often.
    fn zipf_customer(&mut self) -> usize {
        let u = self.rng.f64();
        self.skew.pick(u)
    }

    /// A customer with an identity of `kind` (in `region`, if given).
    fn pick_customer(&mut self, kind: IdentityKind, region: Option<usize>) -> Option<usize> {
        if self.cfg.customers == 0 {
            return None;
        }
        let seed = self.cfg.seed;
        let tries = if region.is_some() { 400 } else { 64 };
        for _ in 0..tries {
            let i = if region.is_some() {
                self.rng.below(self.cfg.customers)
            } else {
                self.zipf_customer()
            };
            if let Some(r) = region {
                if crm::region_idx(seed, i) != r {
                    continue;
                }
            }
            if crm::has_identity(seed, i, kind) {
                return Some(i);
            }
        }
        None
    }

    /// Chooses what the next mention is about and who wrote it.
    fn topic_and_author(&mut self, kind: IdentityKind) -> (Topic, Author) {
        let (topic, a) = self.pick_topic_and_author(kind);
        if self.record_author.is_none() {
            self.record_author = Some(a.customer);
        }
        (topic, a)
    }

    fn pick_topic_and_author(&mut self, kind: IdentityKind) -> (Topic, Author) {
        let t = self.clock_ms as i64;
        let known = !self.rng.chance(self.cfg.unknown_author_ratio);
        if let Some(b) = &self.burst {
            if self.rng.f64() < b.share {
                let (region, town) = (b.region, b.town);
                let c = if known {
                    self.pick_customer(kind, Some(region))
                } else {
                    None
                };
                let mut a = match c {
                    Some(i) => self.customer_author(kind, i),
                    None => {
                        let u = self.rng.u64() % self.unknown_pool;
                        self.unknown_author(kind, u, t)
                    }
                };
                if a.customer.is_none() || self.rng.chance(0.3) {
                    a.town = town;
                }
                a.region = region;
                return (Topic::Outage, a);
            }
        }
        if !known {
            if self.rng.chance(0.3) {
                let bot = self.rng.u64() % 5_000;
                return (Topic::Spam, self.bot_author(kind, bot, t));
            }
            let u = self.rng.u64() % self.unknown_pool;
            let topic = Topic::REGULAR[self.rng.weighted(&Topic::REGULAR_WEIGHTS)];
            return (topic, self.unknown_author(kind, u, t));
        }
        let topic = Topic::REGULAR[self.rng.weighted(&Topic::REGULAR_WEIGHTS)];
        let a = match self.pick_customer(kind, None) {
            Some(i) => self.customer_author(kind, i),
            None => {
                let u = self.rng.u64() % self.unknown_pool;
                self.unknown_author(kind, u, t)
            }
        };
        (topic, a)
    }

    /// Any author (used for reactions).
    fn any_author(&mut self, kind: IdentityKind, t: i64) -> Author {
        match self.pick_customer(kind, None) {
            Some(i) if self.rng.chance(0.8) => self.customer_author(kind, i),
            _ => {
                let u = self.rng.u64() % self.unknown_pool;
                self.unknown_author(kind, u, t)
            }
        }
    }

    fn customer_author(&mut self, kind: IdentityKind, i: usize) -> Author {
        let seed = self.cfg.seed;
        let handle = match kind {
            IdentityKind::Twitter => crm::twitter_screen_name(seed, i),
            IdentityKind::Facebook => crm::facebook_id(seed, i),
            IdentityKind::Email => {
                if self.rng.chance(0.6) {
                    crm::email_address(seed, i)
                } else {
                    crm::email(seed, i)
                }
            }
            IdentityKind::Phone => {
                crm::format_phone(crm::phone_nsn(seed, i), self.rng.below(crm::PHONE_STYLES))
            }
            IdentityKind::Instagram => crm::instagram_handle(seed, i),
        };
        let verified = unit(h3(seed, i as u64, S_VERIFIED)) < 0.003;
        let followers = if verified {
            20_000 + h3(seed, i as u64, S_FOLLOW) % 400_000
        } else {
            (5.0 * (1000f64).powf(unit(h3(seed, i as u64, S_FOLLOW)))) as u64
        };
        let product = crm::customer_product_pick(seed, i, self.rng.u64());
        let region = crm::region_idx(seed, i);
        Author {
            customer: Some(i),
            bot: false,
            handle,
            user_id: crm::twitter_user_id(seed, i),
            name: crm::person_name(seed, i),
            followers,
            friends: 20 + h3(seed, i as u64, S_FOLLOW + 1) % 900,
            statuses: 20 + h3(seed, i as u64, S_STATUSES) % 60_000,
            verified,
            created_ms: SEC_YEAR_2009 + (h3(seed, i as u64, S_CREATED) % 500_000_000_000) as i64,
            bio: BIOS[below(h3(seed, i as u64, S_BIO), BIOS.len())],
            region,
            town: crm::customer_town(seed, i),
            district: crm::customer_postcode_district(seed, i),
            product,
        }
    }

    fn unknown_author(&mut self, kind: IdentityKind, u: u64, _t: i64) -> Author {
        let seed = self.cfg.seed ^ S_UNKNOWN;
        let h = h3(seed, u, 1);
        let first = crm::person_name(seed, u as usize);
        let (f, l) = first.split_once(' ').unwrap_or((&first, ""));
        let mut letters = String::new();
        let mut x = u;
        loop {
            letters.push((b'a' + (x % 26) as u8) as char);
            x /= 26;
            if x == 0 {
                break;
            }
        }
        let alpha = |s: &str| {
            s.chars()
                .filter(|c| c.is_ascii_alphabetic())
                .collect::<String>()
        };
        let handle = match kind {
            IdentityKind::Twitter | IdentityKind::Instagram => {
                let mut s = alpha(f);
                s.push_str(&alpha(l)[..1.min(l.len())]);
                let suffix = UNKNOWN_SUFFIX[below(h, UNKNOWN_SUFFIX.len())];
                s.truncate(15 - letters.len().min(5) - suffix.len().min(4) - 1);
                s.push('_');
                s.push_str(&letters[..letters.len().min(5)]);
                s.push_str(suffix);
                s
            }
            IdentityKind::Facebook => {
                (102_000_000_000_000 + mix(h) % 1_000_000_000_000).to_string()
            }
            IdentityKind::Email => format!(
                "{}.{}.{}@{}",
                alpha(f).to_ascii_lowercase(),
                alpha(l).to_ascii_lowercase(),
                letters,
                UNKNOWN_DOMAINS[below(h >> 7, UNKNOWN_DOMAINS.len())]
            ),
            IdentityKind::Phone => crm::format_phone(
                7_100_000_000 + mix(h) % 500_000_000,
                self.rng.below(crm::PHONE_STYLES),
            ),
        };
        let region = crm::region_by_weight(h3(seed, u, 2));
        let towns = crm::region_towns(region);
        let town = towns[below(h3(seed, u, 3), towns.len())];
        Author {
            customer: None,
            bot: false,
            handle,
            user_id: 2_000_000_000_000 + h3(seed, u, 4) % 1_000_000_000_000,
            name: first.clone(),
            followers: (3.0 * (2000f64).powf(unit(h3(seed, u, 5)))) as u64,
            friends: 10 + h3(seed, u, 6) % 2_000,
            statuses: 5 + h3(seed, u, 7) % 40_000,
            verified: false,
            created_ms: SEC_YEAR_2009 + (h3(seed, u, 8) % 500_000_000_000) as i64,
            bio: BIOS[below(h3(seed, u, 9), BIOS.len())],
            region,
            town,
            district: String::new(),
            product: "broadband",
        }
    }

    fn bot_author(&mut self, kind: IdentityKind, b: u64, t: i64) -> Author {
        let seed = self.cfg.seed ^ S_BOT;
        let word = BOT_WORDS[below(h3(seed, b, 1), BOT_WORDS.len())];
        let num = h3(seed, b, 2) % 100_000;
        let handle = match kind {
            IdentityKind::Twitter | IdentityKind::Instagram => format!("{word}{num}"),
            IdentityKind::Facebook => {
                (103_000_000_000_000 + mix(h3(seed, b, 3)) % 1_000_000_000_000).to_string()
            }
            IdentityKind::Email => format!("{}{num}@mail-promo.biz", word.to_ascii_lowercase()),
            IdentityKind::Phone => format!("+4476{:08}", num * 997 % 100_000_000),
        };
        let region = crm::region_by_weight(h3(seed, b, 4));
        Author {
            customer: None,
            bot: true,
            handle,
            user_id: 1_500_000_000_000_000_000 + h3(seed, b, 5) % 100_000_000_000_000_000,
            name: word.to_string(),
            followers: h3(seed, b, 6) % 13,
            friends: 1_000 + h3(seed, b, 7) % 4_000,
            statuses: 5_000 + h3(seed, b, 8) % 90_000,
            verified: false,
            created_ms: t - (h3(seed, b, 9) % (30 * 86_400_000)) as i64,
            bio: "Follow for daily giveaways!! \u{1F381}\u{1F381}",
            region,
            town: crm::region_towns(region)[0],
            district: String::new(),
            product: "broadband",
        }
    }

    /// Writes the text of a mention into `out`; returns its language code.
    fn compose(&mut self, out: &mut String, topic: Topic, a: &Author, ch: Channel) -> &'static str {
        out.clear();
        let district = if a.district.is_empty() {
            a.town
        } else {
            a.district.as_str()
        };
        let negative = topic.negative();
        let slots = Slots {
            town: a.town,
            district,
            product: a.product,
            negative,
        };
        let mut lang = "en";
        let mut body = std::mem::take(&mut self.body);
        body.clear();
        if topic == Topic::Spam {
            if self.campaign_until <= self.n || self.campaign.is_empty() {
                self.campaign.clear();
                let tpl = text::template(&mut self.rng, Topic::Spam);
                let mut c = String::new();
                text::fill(&mut c, tpl, &mut self.rng, &slots);
                self.campaign = c;
                self.campaign_until = self.n + self.rng.range(2_000, 20_000);
            }
            if self.rng.chance(0.6) {
                body.push_str(&self.campaign); // the same text from many accounts
            } else {
                let tpl = text::template(&mut self.rng, Topic::Spam);
                text::fill(&mut body, tpl, &mut self.rng, &slots);
            }
            if body.starts_with("https://") {
                lang = "und";
            }
        } else if self.rng.chance(0.05) {
            let (code, tpl) = self.rng.pick(text::FOREIGN);
            lang = code;
            text::fill(&mut body, tpl, &mut self.rng, &slots);
        } else {
            let tpl = text::template(&mut self.rng, topic);
            text::fill(&mut body, tpl, &mut self.rng, &slots);
            if negative {
                if self.rng.chance(0.04) {
                    body = body.to_uppercase();
                }
                if self.rng.chance(0.08) {
                    body.push_str("!!");
                }
                if self.rng.chance(0.2) {
                    body.push(' ');
                    body.push_str(self.rng.pick(&text::ADDENDA));
                }
                if self.rng.chance(0.15) {
                    body.push(' ');
                    text::push_emoji(&mut body, &mut self.rng, true);
                }
                if ch == Channel::Twitter && self.rng.chance(0.1) {
                    body.push(' ');
                    body.push_str(self.rng.pick(&text::HASHTAGS));
                }
            } else if self.rng.chance(0.2) {
                body.push(' ');
                text::push_emoji(&mut body, &mut self.rng, false);
            }
        }
        match ch {
            Channel::Twitter => {
                let r = self.rng.f64();
                if r < 0.7 || (a.bot && r < 0.9) {
                    out.push('@');
                    out.push_str(BRAND_HELP);
                    out.push(' ');
                    out.push_str(&body);
                } else if r < 0.85 {
                    out.push_str(&body);
                    out.push_str(" @");
                    out.push_str(BRAND_HELP);
                } else if r < 0.95 {
                    out.push_str(&body);
                    out.push_str(" @");
                    out.push_str(BRAND_MAIN);
                } else {
                    out.push_str(&body);
                }
            }
            Channel::Email => {
                out.push_str(
                    ["Hello,\n\n", "Dear Sir/Madam,\r\n\r\n", "Hi\n\n"][self.rng.below(3)],
                );
                out.push_str(&body);
                out.push_str("\n\nKind regards,\n");
                out.push_str(&a.name);
                if self.rng.chance(0.3) {
                    out.push_str("\n\nSent from my iPhone");
                }
            }
            Channel::WebForm if self.rng.chance(0.3) => {
                out.push_str("Hello, ");
                out.push_str(&body);
                out.push_str("\n\nThanks");
            }
            Channel::AppChat if self.rng.chance(0.3) => out.push_str(&body.to_lowercase()),
            _ => out.push_str(&body),
        }
        self.body = body;
        lang
    }

    /// Writes the `user` object of a v1.1 status.
    fn write_v1_user(&mut self, buf: &mut String, a: &Author, ascii: bool) {
        let s = |buf: &mut String, v: &str| {
            if ascii {
                push_json_str_ascii(buf, v)
            } else {
                push_json_str(buf, v)
            }
        };
        buf.push_str("{\"id\":");
        push_u64(buf, a.user_id);
        buf.push_str(",\"id_str\":\"");
        push_u64(buf, a.user_id);
        buf.push_str("\",\"name\":");
        s(buf, &a.name);
        buf.push_str(",\"screen_name\":");
        s(buf, &a.handle);
        buf.push_str(",\"location\":");
        if a.bot || self.rng.chance(0.3) {
            buf.push_str("\"\"");
        } else {
            buf.push('"');
            buf.push_str(a.town);
            buf.push_str(", UK\"");
        }
        buf.push_str(",\"description\":");
        s(buf, a.bio);
        buf.push_str(",\"followers_count\":");
        push_u64(buf, a.followers);
        buf.push_str(",\"friends_count\":");
        push_u64(buf, a.friends);
        buf.push_str(",\"created_at\":\"");
        push_twitter_time(buf, a.created_ms);
        buf.push_str("\",\"favourites_count\":");
        push_u64(buf, a.statuses / 3);
        buf.push_str(",\"verified\":");
        buf.push_str(if a.verified { "true" } else { "false" });
        buf.push_str(",\"statuses_count\":");
        push_u64(buf, a.statuses);
        buf.push_str(",\"default_profile_image\":");
        buf.push_str(if a.bot { "true" } else { "false" });
        buf.push('}');
    }

    fn write_v1_entities(&mut self, buf: &mut String, text: &str) {
        let mut ents = std::mem::take(&mut self.ents);
        scan_entities(text, &mut ents);
        let group = |buf: &mut String, name: &str, want: fn(&Ent) -> bool, rng: &mut Rng| {
            buf.push('"');
            buf.push_str(name);
            buf.push_str("\":[");
            let mut first = true;
            for (k, cs, ce, bs, be) in ents.iter().filter(|e| want(&e.0)) {
                if !first {
                    buf.push(',');
                }
                first = false;
                let tok = &text[*bs..*be];
                match k {
                    Ent::Mention => {
                        let sn = &tok[1..];
                        buf.push_str("{\"screen_name\":");
                        push_json_str(buf, sn);
                        buf.push_str(",\"name\":");
                        push_json_str(buf, sn);
                        let id = if sn == BRAND_HELP {
                            BRAND_HELP_ID
                        } else if sn == BRAND_MAIN {
                            BRAND_MAIN_ID
                        } else {
                            mix(sn.len() as u64 ^ sn.as_bytes()[0] as u64) % 4_000_000_000
                        };
                        buf.push_str(",\"id\":");
                        push_u64(buf, id);
                        buf.push_str(",\"id_str\":\"");
                        push_u64(buf, id);
                        buf.push('"');
                    }
                    Ent::Hashtag => {
                        buf.push_str("{\"text\":");
                        push_json_str(buf, &tok[1..]);
                    }
                    Ent::Url => {
                        buf.push_str("{\"url\":");
                        push_json_str(buf, tok);
                        buf.push_str(",\"expanded_url\":\"https://bit.ly/");
                        push_u64(buf, rng.u64() % 1_000_000_000);
                        buf.push_str("\",\"display_url\":\"bit.ly/\u{2026}\"");
                    }
                }
                buf.push_str(",\"indices\":[");
                push_u64(buf, *cs as u64);
                buf.push(',');
                push_u64(buf, *ce as u64);
                buf.push_str("]}");
            }
            buf.push(']');
        };
        buf.push('{');
        group(
            buf,
            "hashtags",
            |e| matches!(e, Ent::Hashtag),
            &mut self.rng,
        );
        buf.push_str(",\"symbols\":[],");
        group(
            buf,
            "user_mentions",
            |e| matches!(e, Ent::Mention),
            &mut self.rng,
        );
        buf.push(',');
        group(buf, "urls", |e| matches!(e, Ent::Url), &mut self.rng);
        buf.push('}');
        self.ents = ents;
    }

    /// Writes a v1.1 status (optionally retweeting `orig`).
    fn write_v1(&mut self, buf: &mut String, tmp: &mut String, s: V1<'_>, orig: Option<V1<'_>>) {
        let ascii = self.rng.chance(0.4);
        self.write_v1_status(buf, tmp, &s, orig.as_ref(), ascii);
    }

    fn write_v1_status(
        &mut self,
        buf: &mut String,
        tmp: &mut String,
        s: &V1<'_>,
        orig: Option<&V1<'_>>,
        ascii: bool,
    ) {
        let a = s.author;
        tmp.clear();
        text::push_html_escaped(tmp, s.text);
        let jstr = |buf: &mut String, v: &str| {
            if ascii {
                push_json_str_ascii(buf, v)
            } else {
                push_json_str(buf, v)
            }
        };
        buf.push('{');
        if s.omit != Omit::CreatedAt {
            buf.push_str("\"created_at\":\"");
            push_twitter_time(buf, s.t);
            buf.push_str("\",");
        }
        buf.push_str("\"id\":");
        push_u64(buf, s.id);
        buf.push_str(",\"id_str\":\"");
        push_u64(buf, s.id);
        buf.push('"');
        let chars = s.text.chars().count();
        let mode = self.rng.below(100);
        if s.omit != Omit::Text {
            if chars > 140 && mode < 50 && orig.is_none() {
                // classic 140-char payload with the full text in extended_tweet
                let cut = s
                    .text
                    .char_indices()
                    .nth(113)
                    .map(|(b, _)| b)
                    .unwrap_or(s.text.len());
                let mut short = String::with_capacity(cut + 40);
                text::push_html_escaped(&mut short, &s.text[..cut]);
                short.push_str("\u{2026} ");
                text::push_link(&mut short, &mut self.rng);
                buf.push_str(",\"text\":");
                jstr(buf, &short);
                buf.push_str(",\"truncated\":true,\"extended_tweet\":{\"full_text\":");
                jstr(buf, tmp);
                buf.push_str(",\"display_text_range\":[0,");
                push_u64(buf, chars as u64);
                buf.push_str("],\"entities\":");
                self.write_v1_entities(buf, s.text);
                buf.push('}');
            } else if mode < 15 && orig.is_none() {
                // tweet_mode=extended
                buf.push_str(",\"full_text\":");
                jstr(buf, tmp);
                buf.push_str(",\"truncated\":false,\"display_text_range\":[0,");
                push_u64(buf, chars as u64);
                buf.push(']');
            } else {
                buf.push_str(",\"text\":");
                jstr(buf, tmp);
                buf.push_str(",\"truncated\":false");
            }
        } else {
            buf.push_str(",\"truncated\":false");
        }
        buf.push_str(",\"source\":");
        push_json_str(
            buf,
            if a.bot {
                BOT_SOURCE
            } else {
                SOURCES[below(a.user_id, SOURCES.len())]
            },
        );
        match s.reply_to {
            Some(r) => {
                buf.push_str(",\"in_reply_to_status_id\":");
                push_u64(buf, r);
                buf.push_str(",\"in_reply_to_status_id_str\":\"");
                push_u64(buf, r);
                buf.push_str("\",\"in_reply_to_user_id\":");
                push_u64(buf, BRAND_HELP_ID);
                buf.push_str(",\"in_reply_to_user_id_str\":\"");
                push_u64(buf, BRAND_HELP_ID);
                buf.push_str("\",\"in_reply_to_screen_name\":\"");
                buf.push_str(BRAND_HELP);
                buf.push('"');
            }
            None => buf.push_str(
                ",\"in_reply_to_status_id\":null,\"in_reply_to_status_id_str\":null,\"in_reply_to_user_id\":null,\"in_reply_to_user_id_str\":null,\"in_reply_to_screen_name\":null",
            ),
        }
        buf.push_str(",\"user\":");
        self.write_v1_user(buf, a, ascii);
        buf.push_str(",\"geo\":null,\"coordinates\":null,\"place\":");
        if !a.bot && self.rng.chance(0.12) {
            let pid =
                mix(a.town.len() as u64 ^ ((a.town.as_bytes()[0] as u64) * 131) ^ a.region as u64);
            buf.push_str("{\"id\":\"");
            for shift in (0..64).step_by(4).rev() {
                buf.push(b"0123456789abcdef"[((pid >> shift) & 0xF) as usize] as char);
            }
            buf.push_str("\",\"place_type\":\"city\",\"name\":");
            push_json_str(buf, a.town);
            buf.push_str(",\"full_name\":\"");
            buf.push_str(a.town);
            buf.push_str(", ");
            buf.push_str(match crm::REGIONS[a.region] {
                "scotland" => "Scotland",
                "wales" => "Wales",
                "northern_ireland" => "Northern Ireland",
                "london" => "London",
                _ => "England",
            });
            buf.push_str("\",\"country_code\":\"GB\",\"country\":\"United Kingdom\"}");
        } else {
            buf.push_str("null");
        }
        if let Some(o) = orig {
            buf.push_str(",\"retweeted_status\":");
            let mut inner_tmp = String::with_capacity(256);
            self.write_v1_status(buf, &mut inner_tmp, o, None, ascii);
        }
        buf.push_str(",\"retweet_count\":");
        let rts = if orig.is_some() {
            self.rng.range(1, 400)
        } else if self.rng.chance(0.1) {
            self.rng.range(1, 50)
        } else {
            0
        };
        push_u64(buf, rts);
        buf.push_str(",\"favorite_count\":");
        push_u64(
            buf,
            if self.rng.chance(0.2) {
                self.rng.range(1, 80)
            } else {
                0
            },
        );
        buf.push_str(",\"entities\":");
        self.write_v1_entities(buf, s.text);
        buf.push_str(",\"favorited\":false,\"retweeted\":false,\"lang\":\"");
        buf.push_str(s.lang);
        if s.omit == Omit::CreatedAt {
            buf.push_str("\"}");
        } else {
            buf.push_str("\",\"timestamp_ms\":\"");
            push_i64(buf, s.t);
            buf.push_str("\"}");
        }
    }

    /// Writes a v2 filtered-stream response.
    #[allow(clippy::too_many_arguments)]
    fn write_v2(
        &mut self,
        buf: &mut String,
        tmp: &mut String,
        t: i64,
        id: u64,
        a: &Author,
        text: &str,
        lang: &str,
        reply_to: Option<u64>,
        omit: Omit,
    ) {
        tmp.clear();
        text::push_html_escaped(tmp, text);
        buf.push_str("{\"data\":{\"id\":\"");
        push_u64(buf, id);
        buf.push('"');
        if omit != Omit::Text {
            buf.push_str(",\"text\":");
            push_json_str(buf, tmp);
        }
        buf.push_str(",\"author_id\":\"");
        push_u64(buf, a.user_id);
        buf.push('"');
        if omit != Omit::CreatedAt {
            buf.push_str(",\"created_at\":\"");
            push_rfc3339_ms(buf, t);
            buf.push('"');
        }
        buf.push_str(",\"lang\":\"");
        buf.push_str(lang);
        buf.push_str("\",\"conversation_id\":\"");
        push_u64(buf, reply_to.unwrap_or(id));
        buf.push('"');
        if let Some(r) = reply_to {
            buf.push_str(",\"in_reply_to_user_id\":\"");
            push_u64(buf, BRAND_HELP_ID);
            buf.push_str("\",\"referenced_tweets\":[{\"type\":\"replied_to\",\"id\":\"");
            push_u64(buf, r);
            buf.push_str("\"}]");
        }
        buf.push_str(",\"edit_history_tweet_ids\":[\"");
        push_u64(buf, id);
        buf.push_str("\"],\"public_metrics\":{\"retweet_count\":");
        push_u64(
            buf,
            if self.rng.chance(0.1) {
                self.rng.range(1, 40)
            } else {
                0
            },
        );
        buf.push_str(",\"reply_count\":");
        push_u64(
            buf,
            if self.rng.chance(0.2) {
                self.rng.range(1, 10)
            } else {
                0
            },
        );
        buf.push_str(",\"like_count\":");
        push_u64(
            buf,
            if self.rng.chance(0.3) {
                self.rng.range(1, 90)
            } else {
                0
            },
        );
        buf.push_str(",\"quote_count\":0,\"bookmark_count\":0,\"impression_count\":");
        push_u64(buf, self.rng.range(3, 5_000));
        buf.push_str("},\"entities\":{");
        let mut ents = std::mem::take(&mut self.ents);
        scan_entities(text, &mut ents);
        let mut first_group = true;
        for (name, want) in [("mentions", 0u8), ("hashtags", 1), ("urls", 2)] {
            let items: Vec<_> = ents
                .iter()
                .filter(|e| {
                    matches!(
                        (want, e.0),
                        (0, Ent::Mention) | (1, Ent::Hashtag) | (2, Ent::Url)
                    )
                })
                .collect();
            if items.is_empty() {
                continue;
            }
            if !first_group {
                buf.push(',');
            }
            first_group = false;
            buf.push('"');
            buf.push_str(name);
            buf.push_str("\":[");
            for (k, e) in items.iter().enumerate() {
                if k > 0 {
                    buf.push(',');
                }
                buf.push_str("{\"start\":");
                push_u64(buf, e.1 as u64);
                buf.push_str(",\"end\":");
                push_u64(buf, e.2 as u64);
                let tok = &text[e.3..e.4];
                match e.0 {
                    Ent::Mention => {
                        buf.push_str(",\"username\":");
                        push_json_str(buf, &tok[1..]);
                    }
                    Ent::Hashtag => {
                        buf.push_str(",\"tag\":");
                        push_json_str(buf, &tok[1..]);
                    }
                    Ent::Url => {
                        buf.push_str(",\"url\":");
                        push_json_str(buf, tok);
                    }
                }
                buf.push('}');
            }
            buf.push(']');
        }
        self.ents = ents;
        buf.push_str("}},\"includes\":{\"users\":[{\"id\":\"");
        push_u64(buf, a.user_id);
        buf.push_str("\",\"name\":");
        push_json_str(buf, &a.name);
        buf.push_str(",\"username\":");
        push_json_str(buf, &a.handle);
        buf.push_str(",\"created_at\":\"");
        push_rfc3339_ms(buf, a.created_ms);
        buf.push_str("\",\"verified\":");
        buf.push_str(if a.verified { "true" } else { "false" });
        buf.push_str(",\"public_metrics\":{\"followers_count\":");
        push_u64(buf, a.followers);
        buf.push_str(",\"following_count\":");
        push_u64(buf, a.friends);
        buf.push_str(",\"tweet_count\":");
        push_u64(buf, a.statuses);
        buf.push_str(",\"listed_count\":0}}]},\"matching_rules\":[{\"id\":\"1720000000000000001\",\"tag\":\"brand-mentions\"}]}");
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn cfg(seed: u64) -> MentionGenConfig {
        MentionGenConfig {
            seed,
            customers: 20_000,
            ..MentionGenConfig::default()
        }
    }

    fn gen(seed: u64, n: usize) -> Vec<GeneratedRecord> {
        MentionGenerator::new(cfg(seed)).take(n).collect()
    }

    #[test]
    fn deterministic_by_seed() {
        let a = gen(1, 3_000);
        let b = gen(1, 3_000);
        assert_eq!(a, b);
        let c = gen(2, 3_000);
        assert_ne!(
            a.iter().map(|r| &r.payload).collect::<Vec<_>>(),
            c.iter().map(|r| &r.payload).collect::<Vec<_>>()
        );
    }

    #[test]
    fn format_mix_and_malformed_shares() {
        let recs = gen(7, 10_000);
        let mut formats: HashMap<&str, usize> = HashMap::new();
        let mut malformed: HashMap<&str, usize> = HashMap::new();
        let mut non_actionable = 0;
        let mut multi = 0;
        for r in &recs {
            match r.expect {
                Expect::Mentions { format, rows } => {
                    *formats.entry(format).or_default() += 1;
                    assert!(rows >= 1);
                    multi += (rows > 1) as usize;
                }
                Expect::NonActionable => non_actionable += 1,
                Expect::Malformed(reason) => *malformed.entry(reason).or_default() += 1,
            }
        }
        let valid = (recs.len() - malformed.values().sum::<usize>()) as f64;
        let share = |f: &str| *formats.get(f).unwrap_or(&0) as f64 / valid;
        assert!((share("twitter_v1") - 0.45).abs() < 0.03, "{formats:?}");
        assert!((share("twitter_v2") - 0.20).abs() < 0.03, "{formats:?}");
        assert!((share("envelope") - 0.20).abs() < 0.03, "{formats:?}");
        assert!(
            ((share("facebook") + non_actionable as f64 / valid) - 0.15).abs() < 0.03,
            "{formats:?}"
        );
        assert!(
            non_actionable > 30 && multi > 100,
            "{non_actionable} {multi}"
        );
        let bad: usize = malformed.values().sum();
        assert!((60..=150).contains(&bad), "{malformed:?}");
        for reason in MALFORMED {
            assert!(
                malformed.contains_key(reason),
                "missing reason {reason}: {malformed:?}"
            );
        }
    }

    #[test]
    fn every_malformed_reason_is_really_that() {
        let c = MentionGenConfig {
            malformed_ratio: 1.0,
            ..cfg(3)
        };
        let mut seen = HashSet::new();
        for r in MentionGenerator::new(c).take(2_000) {
            let Expect::Malformed(reason) = r.expect else {
                panic!("expected malformed")
            };
            seen.insert(reason);
            assert!(!r.payload.contains(&b'\n'));
            let utf8 = std::str::from_utf8(&r.payload);
            match reason {
                "invalid_utf8" => assert!(utf8.is_err()),
                "too_large" => {
                    assert!(r.payload.len() > 64 * 1024);
                    serde_json::from_slice::<serde_json::Value>(&r.payload).unwrap();
                }
                "invalid_json" => {
                    assert!(utf8.is_ok());
                    assert!(serde_json::from_slice::<serde_json::Value>(&r.payload).is_err());
                }
                "unknown_format" => {
                    let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
                    assert!(
                        v.get("id_str").is_none()
                            && v.get("data").is_none()
                            && v.get("entry").is_none()
                    );
                }
                "missing_field" => {
                    let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
                    let obj = v.get("data").unwrap_or(&v);
                    let has_text = obj.get("text").is_some() || obj.get("full_text").is_some();
                    assert!(!has_text || obj.get("created_at").is_none(), "{v}");
                }
                other => panic!("unexpected reason {other}"),
            }
            if reason != "too_large" {
                assert!(r.payload.len() < 64 * 1024);
            }
        }
        assert_eq!(seen.len(), 5);
    }

    #[test]
    fn valid_records_are_json_of_the_right_shape() {
        let c = MentionGenConfig {
            malformed_ratio: 0.0,
            ..cfg(11)
        };
        let mut sizes = Vec::new();
        let mut known = 0usize;
        let mut authors: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut non_en = 0usize;
        let mut twitter_total = 0usize;
        let handles: HashSet<String> = (0..20_000)
            .filter(|&i| crm::has_identity(11, i, IdentityKind::Twitter))
            .map(|i| {
                crm::twitter_handle(11, i)
                    .trim_start_matches('@')
                    .to_ascii_lowercase()
            })
            .collect();
        for r in MentionGenerator::new(c).take(5_000) {
            assert!(!r.payload.contains(&b'\n'));
            let v: serde_json::Value = serde_json::from_slice(&r.payload).expect("valid JSON");
            match r.expect {
                Expect::Mentions {
                    format: "twitter_v1",
                    ..
                } => {
                    twitter_total += 1;
                    sizes.push(r.payload.len());
                    let text = v
                        .get("text")
                        .or(v.get("full_text"))
                        .and_then(|t| t.as_str())
                        .unwrap();
                    assert!(!text.is_empty());
                    let ts = v["created_at"].as_str().unwrap();
                    chrono::DateTime::parse_from_str(ts, "%a %b %d %H:%M:%S %z %Y").unwrap();
                    let sn = v["user"]["screen_name"].as_str().unwrap();
                    known += handles.contains(&sn.to_ascii_lowercase()) as usize;
                    non_en += (v["lang"] != "en") as usize;
                    if let Some(k) = &r.key {
                        assert_eq!(k, sn.as_bytes());
                        *authors.entry(k.clone()).or_default() += 1;
                    }
                }
                Expect::Mentions {
                    format: "twitter_v2",
                    ..
                } => {
                    let ts = v["data"]["created_at"].as_str().unwrap();
                    assert!(ts.ends_with('Z') && ts.len() == 24, "{ts}");
                    chrono::DateTime::parse_from_rfc3339(ts).unwrap();
                    assert_eq!(v["includes"]["users"][0]["id"], v["data"]["author_id"]);
                }
                Expect::Mentions {
                    format: "facebook",
                    rows,
                } => {
                    let changes = v["entry"][0]["changes"].as_array().unwrap();
                    let n = changes
                        .iter()
                        .filter(|c| c["value"]["item"] != "reaction")
                        .count();
                    assert_eq!(n as u32, rows);
                    for c in changes {
                        assert!(c["value"]["created_time"].is_i64());
                    }
                }
                Expect::NonActionable => {
                    let changes = v["entry"][0]["changes"].as_array().unwrap();
                    assert!(changes.iter().all(|c| c["value"]["item"] == "reaction"));
                }
                Expect::Mentions {
                    format: "envelope", ..
                } => {
                    chrono::DateTime::parse_from_rfc3339(v["created_at"].as_str().unwrap())
                        .unwrap();
                    let handle = v["author"]["handle"].as_str().unwrap();
                    assert!(
                        handle.contains('@')
                            || handle.chars().filter(|c| c.is_ascii_digit()).count() >= 10,
                        "{handle}"
                    );
                    assert!(v["text"].is_string());
                }
                e => panic!("unexpected {e:?}"),
            }
        }
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        assert!((400..=1_400).contains(&median), "median v1 size {median}");
        let known_share = known as f64 / twitter_total as f64;
        assert!((0.6..0.9).contains(&known_share), "known {known_share}");
        assert!(non_en as f64 / twitter_total as f64 > 0.02);
        // repeat posters exist
        assert!(authors.values().any(|&c| c >= 3));
    }

    #[test]
    fn twitter_text_has_html_entities_and_times_advance() {
        let recs = gen(5, 20_000);
        let amp = recs
            .iter()
            .filter(|r| r.payload.windows(5).any(|w| w == b"&amp;"))
            .count();
        assert!(amp > 10, "{amp}");
        let has = |pat: &[u8]| {
            recs.iter()
                .filter(|r| r.payload.windows(pat.len()).any(|w| w == pat))
                .count()
        };
        for pat in [
            &b"\"extended_tweet\":{\"full_text\""[..],
            b"\"full_text\":",
            b"\"retweeted_status\":{",
            b"\\ud83d",
            b"\"place\":{",
            b"\"in_reply_to_status_id_str\":\"",
            b"\"item\":\"post\"",
            b"\"lang\":\"cy\"",
        ] {
            assert!(has(pat) > 5, "{}", String::from_utf8_lossy(pat));
        }
        let first = recs[0].event_time_ms;
        let last = recs.last().unwrap().event_time_ms;
        let span = (last - first) as f64;
        assert!((span - 20_000.0).abs() < 2_000.0, "{span}"); // 1000/s
        let late = recs
            .windows(2)
            .filter(|w| w[1].event_time_ms < w[0].event_time_ms)
            .count();
        assert!(late > 100 && late < 2_000, "{late}");
    }

    #[test]
    fn jsonl_has_exactly_count_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.jsonl");
        let n = write_mentions_jsonl(&p, 2_500, &cfg(9)).unwrap();
        assert_eq!(n, 2_500);
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 2_500);
        assert!(bytes.ends_with(b"\n"));
        let again = dir.path().join("m2.jsonl");
        write_mentions_jsonl(&again, 2_500, &cfg(9)).unwrap();
        assert_eq!(bytes, std::fs::read(&again).unwrap());
    }
}

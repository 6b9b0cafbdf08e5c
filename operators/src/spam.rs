//! Spam and bot heuristics. A spam verdict becomes a counted drop in the
//! runtime, never a work item (SPEC "Default taxonomy").
//!
//! Signals, each worth points (a reason label in brackets):
//! - content: every distinct promotional phrase, at most 3 (`promo_phrase`);
//!   a promotional phrase together with a link, +1 (`promo_with_link`); a
//!   link with at most `link_only_max_words` other words (`link_only`); more
//!   than `max_links` links (`too_many_links`); at least `max_hashtags`
//!   hashtags (`hashtag_stuffing`); at least `max_mentions` @handles
//!   (`mention_stuffing`);
//! - repetition: the same normalised text (lower case, words only, no
//!   handles, links or `RT`) of at least `repetition_min_words` words from at
//!   least `repetition_min_distinct_authors` distinct authors within
//!   `repetition_window_ms` of event time (`repeated_text`, 1 point, 2 when
//!   the text carries a link). Retweets are not counted (they repeat by
//!   design), nor rows without an author;
//! - account: younger than `min_account_age_days` (`new_account`); fewer than
//!   `min_followers` followers *and* fewer than `min_statuses` posts
//!   (`low_reach`); more than `max_statuses_per_day` posts per day of account
//!   life with at least `bot_rate_min_statuses` posts (`bot_rate`, 2 points).
//!
//! A mention is spam when its points reach `min_score` **and** at least one
//! content or repetition signal fired (a link posted by a `bot_rate` account
//! counts as one): account signals alone never make spam, so a brand-new
//! customer with no followers complaining about broadband is a customer. Verified authors are never spam when `verified_exempt`.
//!
//! The repetition rule is streaming: the first copies are let through and
//! the copy from the N-th distinct author on is spam (earlier verdicts are
//! not retracted). State: a map normalised-text hash → (first event time,
//! up to N distinct author hashes), expired by event time (entries older than
//! the window behind the highest event time seen are dropped) and capped at
//! `repetition_max_entries` entries (oldest first-seen evicted first). Memory
//! bound: about `repetition_max_entries × (96 + 8 × N)` bytes, ≈ 6.4 MB at
//! the defaults (50 000 entries, N = 4). Same input order, same verdicts.
//!
//! Batch API: [`SpamDetector::detect_batch`] appends [`col::IS_SPAM`] and
//! [`col::SPAM_REASON`].

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field, Int64Type, TimeUnit, TimestampMillisecondType};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::classify::{append_columns, is_word_char, StrColumn};
use crate::error::{OperatorError, Result};
use crate::schema::col as mcol;

/// Names of the columns appended by [`SpamDetector::detect_batch`].
pub mod col {
    /// True when the mention is spam or from a bot. Boolean, never null.
    pub const IS_SPAM: &str = "is_spam";
    /// For spam, the reasons that fired, comma-joined in [`super::reason::ALL`]
    /// order (`promo_phrase,promo_with_link,low_reach`); null otherwise.
    pub const SPAM_REASON: &str = "spam_reason";
}

/// The reason labels (a small fixed set, usable as metric labels).
pub mod reason {
    /// A promotional / scam phrase ("follow & rt", "crypto", "click here").
    pub const PROMO_PHRASE: &str = "promo_phrase";
    /// A promotional phrase together with a link.
    pub const PROMO_WITH_LINK: &str = "promo_with_link";
    /// Little more than a link.
    pub const LINK_ONLY: &str = "link_only";
    /// More links than `max_links`.
    pub const TOO_MANY_LINKS: &str = "too_many_links";
    /// `max_hashtags` hashtags or more.
    pub const HASHTAG_STUFFING: &str = "hashtag_stuffing";
    /// `max_mentions` @handles or more.
    pub const MENTION_STUFFING: &str = "mention_stuffing";
    /// The same text from many authors within the window.
    pub const REPEATED_TEXT: &str = "repeated_text";
    /// Account younger than `min_account_age_days`.
    pub const NEW_ACCOUNT: &str = "new_account";
    /// Few followers and few posts.
    pub const LOW_REACH: &str = "low_reach";
    /// Posts per day of account life above `max_statuses_per_day`.
    pub const BOT_RATE: &str = "bot_rate";
    /// All reasons, in the order they are reported.
    pub const ALL: [&str; 10] = [
        PROMO_PHRASE,
        PROMO_WITH_LINK,
        LINK_ONLY,
        TOO_MANY_LINKS,
        HASHTAG_STUFFING,
        MENTION_STUFFING,
        REPEATED_TEXT,
        NEW_ACCOUNT,
        LOW_REACH,
        BOT_RATE,
    ];
}

/// Spam settings (the `[spam]` config section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpamConfig {
    /// Points needed for a spam verdict (with at least one non-account signal).
    pub min_score: u32,
    /// `low_reach` needs fewer followers than this …
    pub min_followers: i64,
    /// … and fewer posts than this.
    pub min_statuses: i64,
    /// Accounts younger than this many days (at the mention's event time) are `new_account`.
    pub min_account_age_days: f64,
    /// More posts per day of account life than this is `bot_rate` …
    pub max_statuses_per_day: f64,
    /// … for accounts with at least this many posts.
    pub bot_rate_min_statuses: i64,
    /// More links than this is `too_many_links`.
    pub max_links: usize,
    /// A text with a link and at most this many other words is `link_only`.
    pub link_only_max_words: usize,
    /// This many hashtags or more is `hashtag_stuffing`.
    pub max_hashtags: usize,
    /// This many @handles or more is `mention_stuffing`.
    pub max_mentions: usize,
    /// Promotional and scam phrases, matched case-insensitively on word boundaries.
    pub promo_phrases: Vec<String>,
    /// Repetition window, in milliseconds of event time.
    pub repetition_window_ms: i64,
    /// Distinct authors needed for `repeated_text`.
    pub repetition_min_distinct_authors: usize,
    /// Texts with fewer normalised words than this are never `repeated_text`
    /// ("no signal" from many people is an outage, not spam).
    pub repetition_min_words: usize,
    /// Most texts tracked at once by the repetition rule (memory cap).
    pub repetition_max_entries: usize,
    /// Verified authors are never spam.
    pub verified_exempt: bool,
}

impl Default for SpamConfig {
    fn default() -> Self {
        Self {
            min_score: 2,
            min_followers: 5,
            min_statuses: 5,
            min_account_age_days: 7.0,
            max_statuses_per_day: 150.0,
            bot_rate_min_statuses: 1000,
            max_links: 2,
            link_only_max_words: 3,
            max_hashtags: 5,
            max_mentions: 6,
            promo_phrases: DEFAULT_PROMO.iter().map(|s| s.to_string()).collect(),
            repetition_window_ms: 10 * 60 * 1000,
            repetition_min_distinct_authors: 4,
            repetition_min_words: 6,
            repetition_max_entries: 50_000,
            verified_exempt: true,
        }
    }
}

const DEFAULT_PROMO: &[&str] = &[
    "giveaway",
    "give away",
    "follow and rt",
    "follow & rt",
    "follow + rt",
    "follow and retweet",
    "follow & retweet",
    "like and retweet",
    "like and rt",
    "like & rt",
    "rt to win",
    "retweet to win",
    "rt & follow",
    "rt and follow",
    "chance to win",
    "win a free",
    "win an iphone",
    "win a new iphone",
    "free iphone",
    "free samsung",
    "free gift card",
    "gift card",
    "gift cards",
    "claim your",
    "claim now",
    "click here",
    "click the link",
    "link in bio",
    "link in my bio",
    "check my bio",
    "check my profile",
    "dm me",
    "dm for",
    "inbox me",
    "whatsapp me",
    "on whatsapp",
    "via whatsapp",
    "telegram",
    "make money",
    "earn money",
    "earn £",
    "earn $",
    "work from home",
    "passive income",
    "investment opportunity",
    "crypto",
    "bitcoin",
    "btc",
    "forex",
    "nft",
    "airdrop",
    "onlyfans",
    "buy followers",
    "cheap followers",
    "get followers",
    "promo code",
    "discount code",
    "use code",
    "coupon",
    "limited time offer",
    "100% free",
    "free followers",
    "unlock any phone",
    "unlocking service",
    "recovery expert",
    "account recovery service",
    "helped me recover",
    "he helped me",
    "she helped me",
    "they helped me recover",
    "contact him",
    "contact her",
    "hacker",
    "ethical hacker",
    "for sale",
    "dm for price",
    "spell caster",
    "loan offer",
    "sugar daddy",
];

/// The fields of one mention the detector looks at.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpamInput<'a> {
    /// Mention text.
    pub text: &'a str,
    /// Stable author key (author id, else handle); `None` when anonymous.
    pub author: Option<&'a str>,
    /// Follower count, when given.
    pub followers: Option<i64>,
    /// Post count, when given.
    pub statuses: Option<i64>,
    /// Account creation time, ms since the epoch, when given.
    pub account_created_ms: Option<i64>,
    /// Verified flag, when given.
    pub verified: Option<bool>,
    /// True for retweets/shares.
    pub is_retweet: bool,
    /// Event time, ms since the epoch.
    pub event_time_ms: i64,
}

/// The verdict on one mention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamVerdict {
    /// Drop it as spam.
    pub is_spam: bool,
    /// Every signal that fired (also when not spam), in [`reason::ALL`] order.
    pub reasons: Vec<&'static str>,
    /// Points scored.
    pub score: u32,
}

/// Counters since the last [`SpamDetector::take_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpamStats {
    /// Mentions checked.
    pub checked: u64,
    /// Spam verdicts.
    pub spam: u64,
    /// Spam verdicts by reason, indexed like [`reason::ALL`].
    pub spam_by_reason: [u64; 10],
}

#[derive(Debug)]
struct RepEntry {
    first_seen_ms: i64,
    authors: Vec<u64>,
}

/// The bounded repetition state (see the module docs).
#[derive(Debug)]
struct Repetition {
    /// foldhash, randomly seeded per map (the text hashes are FNV, which
    /// anyone can collide): several times cheaper than SipHash per lookup.
    map: HashMap<u64, RepEntry, foldhash::fast::RandomState>,
    /// (first_seen_ms, hash) in insertion order; may hold stale pairs of reset entries.
    order: VecDeque<(i64, u64)>,
    watermark_ms: i64,
    window_ms: i64,
    min_authors: usize,
    max_entries: usize,
}

impl Repetition {
    /// Records `author` writing text `hash` at `t_ms`; true once the text has
    /// `min_authors` distinct authors within the window.
    fn observe(&mut self, hash: u64, author: u64, t_ms: i64) -> bool {
        if t_ms > self.watermark_ms {
            self.watermark_ms = t_ms;
            let horizon = self.watermark_ms.saturating_sub(self.window_ms);
            while let Some(&(t, h)) = self.order.front() {
                if t >= horizon {
                    break;
                }
                self.order.pop_front();
                if self.map.get(&h).is_some_and(|e| e.first_seen_ms == t) {
                    self.map.remove(&h);
                }
            }
        }
        let expired = self
            .map
            .get(&hash)
            .is_some_and(|e| t_ms.saturating_sub(e.first_seen_ms) > self.window_ms);
        if expired {
            let e = self.map.get_mut(&hash).expect("present");
            e.first_seen_ms = t_ms;
            e.authors.clear();
            self.order.push_back((t_ms, hash));
        } else if !self.map.contains_key(&hash) {
            while self.map.len() >= self.max_entries {
                let Some((t, h)) = self.order.pop_front() else {
                    break;
                };
                if self.map.get(&h).is_some_and(|e| e.first_seen_ms == t) {
                    self.map.remove(&h);
                }
            }
            self.map.insert(
                hash,
                RepEntry {
                    first_seen_ms: t_ms,
                    authors: Vec::with_capacity(self.min_authors),
                },
            );
            self.order.push_back((t_ms, hash));
        }
        if self.order.len() > 2 * self.max_entries + 16 {
            let map = &self.map;
            self.order
                .retain(|(t, h)| map.get(h).is_some_and(|e| e.first_seen_ms == *t));
        }
        let e = self.map.get_mut(&hash).expect("inserted above");
        if e.authors.len() < self.min_authors && !e.authors.contains(&author) {
            e.authors.push(author);
        }
        e.authors.len() >= self.min_authors
    }
}

/// The spam detector; stateful for the repetition rule.
#[derive(Debug)]
pub struct SpamDetector {
    config: SpamConfig,
    promo: Arc<AhoCorasick>,
    /// Per promo pattern: (needs boundary at start, at end).
    promo_bounds: Arc<[(bool, bool)]>,
    rep: Repetition,
    stats: SpamStats,
    hits: Vec<usize>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

fn is_link(tok: &str) -> bool {
    let t = tok.trim_start_matches(|c: char| !c.is_alphanumeric());
    let lower_starts =
        |p: &str| t.len() >= p.len() && t.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    lower_starts("http://")
        || lower_starts("https://")
        || lower_starts("www.")
        || lower_starts("bit.ly/")
        || lower_starts("t.co/")
        || lower_starts("tinyurl.com/")
}

/// Counts of the text's shape, computed in one pass without allocating.
#[derive(Debug, Default)]
struct Shape {
    links: usize,
    hashtags: usize,
    mentions: usize,
    /// Words other than links, hashtags and handles.
    words: usize,
    /// Hash of the normalised words (lower-case alphanumerics, no `rt`).
    hash: u64,
}

fn shape(text: &str) -> Shape {
    let mut s = Shape {
        hash: FNV_OFFSET,
        ..Shape::default()
    };
    for tok in text.split_whitespace() {
        if is_link(tok) {
            s.links += 1;
            continue;
        }
        if tok.starts_with('#') && tok.len() > 1 {
            s.hashtags += 1;
            continue;
        }
        if tok.starts_with('@') && tok.len() > 1 {
            s.mentions += 1;
            continue;
        }
        if tok.eq_ignore_ascii_case("rt") || !tok.chars().any(|c| c.is_alphanumeric()) {
            continue;
        }
        s.words += 1;
        if s.words > 1 {
            s.hash = fnv(s.hash, b" ");
        }
        let mut tmp = [0u8; 4];
        for c in tok.chars() {
            // ASCII first (same result as the Unicode path, without the
            // case-mapping tables).
            if c.is_ascii() {
                if c.is_ascii_alphanumeric() {
                    s.hash = fnv(s.hash, &[c.to_ascii_lowercase() as u8]);
                }
                continue;
            }
            if !c.is_alphanumeric() {
                continue;
            }
            for lc in c.to_lowercase() {
                s.hash = fnv(s.hash, lc.encode_utf8(&mut tmp).as_bytes());
            }
        }
    }
    s
}

impl SpamDetector {
    /// Builds the detector; errors name the offending key.
    pub fn new(config: SpamConfig) -> Result<Self> {
        let bad = |key: &str, reason: &str| OperatorError::Config {
            key: format!("spam.{key}"),
            reason: reason.into(),
        };
        if config.repetition_window_ms <= 0 {
            return Err(bad("repetition_window_ms", "must be positive"));
        }
        if config.repetition_min_distinct_authors < 2 {
            return Err(bad("repetition_min_distinct_authors", "must be at least 2"));
        }
        if config.repetition_max_entries == 0 {
            return Err(bad("repetition_max_entries", "must be positive"));
        }
        if !(config.min_account_age_days.is_finite() && config.max_statuses_per_day.is_finite()) {
            return Err(bad("min_account_age_days", "day figures must be finite"));
        }
        let mut phrases = Vec::with_capacity(config.promo_phrases.len());
        for (i, p) in config.promo_phrases.iter().enumerate() {
            let p = p.trim();
            if p.is_empty() {
                return Err(bad(&format!("promo_phrases[{i}]"), "empty phrase"));
            }
            phrases.push(p.to_ascii_lowercase());
        }
        let bounds: Vec<(bool, bool)> = phrases
            .iter()
            .map(|p| {
                (
                    p.chars().next().is_some_and(is_word_char),
                    p.chars().next_back().is_some_and(is_word_char),
                )
            })
            .collect();
        let promo = crate::classify::phrase_automaton(&phrases)
            .map_err(|e| bad("promo_phrases", &e.to_string()))?;
        let rep = Repetition {
            map: HashMap::default(),
            order: VecDeque::new(),
            watermark_ms: i64::MIN,
            window_ms: config.repetition_window_ms,
            min_authors: config.repetition_min_distinct_authors,
            max_entries: config.repetition_max_entries,
        };
        Ok(Self {
            config,
            promo: Arc::new(promo),
            promo_bounds: bounds.into(),
            rep,
            stats: SpamStats::default(),
            hits: Vec::new(),
        })
    }

    /// Texts currently tracked by the repetition rule (≤ `repetition_max_entries`).
    pub fn tracked_texts(&self) -> usize {
        self.rep.map.len()
    }

    /// Counters since the last call.
    pub fn take_stats(&mut self) -> SpamStats {
        std::mem::take(&mut self.stats)
    }

    /// Judges one mention (and records it for the repetition rule).
    pub fn check(&mut self, m: &SpamInput<'_>) -> SpamVerdict {
        let (fired, score, is_spam) = self.judge(m);
        SpamVerdict {
            is_spam,
            reasons: reason::ALL
                .iter()
                .zip(fired)
                .filter(|(_, f)| *f)
                .map(|(r, _)| *r)
                .collect(),
            score,
        }
    }

    /// Core: which reasons fired (indexed like [`reason::ALL`]), points, verdict.
    fn judge(&mut self, m: &SpamInput<'_>) -> ([bool; 10], u32, bool) {
        let c = &self.config;
        let mut fired = [false; 10];
        let sh = shape(m.text);

        // Content.
        self.hits.clear();
        for hit in self.promo.find_overlapping_iter(m.text) {
            let (start, end, id) = (hit.start(), hit.end(), hit.pattern().as_usize());
            let (bs, be) = self.promo_bounds[id];
            if !m.text.is_char_boundary(start) || !m.text.is_char_boundary(end) {
                continue;
            }
            if bs
                && m.text[..start]
                    .chars()
                    .next_back()
                    .is_some_and(is_word_char)
            {
                continue;
            }
            if be && m.text[end..].chars().next().is_some_and(is_word_char) {
                continue;
            }
            if !self.hits.contains(&id) {
                self.hits.push(id);
            }
        }
        let promo_points = self.hits.len().min(3) as u32;
        fired[0] = promo_points > 0;
        fired[1] = promo_points > 0 && sh.links > 0;
        fired[2] = sh.links > 0 && sh.words <= c.link_only_max_words;
        fired[3] = sh.links > c.max_links;
        fired[4] = sh.hashtags >= c.max_hashtags;
        fired[5] = sh.mentions >= c.max_mentions;

        // Repetition.
        let retweet = m.is_retweet
            || m.text
                .trim_start()
                .get(..3)
                .is_some_and(|p| p.eq_ignore_ascii_case("rt "));
        let mut rep_points = 0;
        if let Some(author) = m.author.filter(|a| !a.is_empty()) {
            if !retweet && sh.words >= c.repetition_min_words {
                let author_hash = author
                    .bytes()
                    .fold(FNV_OFFSET, |h, b| fnv(h, &[b.to_ascii_lowercase()]));
                if self.rep.observe(sh.hash, author_hash, m.event_time_ms) {
                    fired[6] = true;
                    rep_points = 1 + (sh.links > 0) as u32;
                }
            }
        }

        // Account.
        let age_days = m
            .account_created_ms
            .map(|t| (m.event_time_ms.saturating_sub(t)) as f64 / 86_400_000.0);
        fired[7] = age_days.is_some_and(|d| d < c.min_account_age_days);
        fired[8] = m.followers.is_some_and(|f| f < c.min_followers)
            && m.statuses.is_some_and(|s| s < c.min_statuses);
        fired[9] = match (m.statuses, age_days) {
            (Some(s), Some(d)) if s >= c.bot_rate_min_statuses => {
                s as f64 / d.max(1.0) > c.max_statuses_per_day
            }
            _ => false,
        };

        // A link posted by a machine-rate account counts as content.
        let bot_link = fired[9] && sh.links > 0;
        let non_account = promo_points > 0 || bot_link || fired[2..=6].iter().any(|f| *f);
        let score = promo_points
            + fired[1] as u32
            + fired[2..=5].iter().filter(|f| **f).count() as u32
            + rep_points
            + fired[7] as u32
            + fired[8] as u32
            + 2 * fired[9] as u32;
        let exempt = c.verified_exempt && m.verified == Some(true);
        let is_spam = !exempt && non_account && score >= c.min_score;

        self.stats.checked += 1;
        if is_spam {
            self.stats.spam += 1;
            for (n, f) in self.stats.spam_by_reason.iter_mut().zip(fired) {
                *n += f as u64;
            }
        }
        (fired, score, is_spam)
    }

    /// Appends [`col::IS_SPAM`] and [`col::SPAM_REASON`] to a mention batch.
    /// Needs `text` and `event_time`; `author_id`/`author_handle`,
    /// `author_followers`, `author_statuses`, `author_created_at`,
    /// `author_verified` and `is_retweet` are used when present. Rows are
    /// judged in order (the repetition rule is stateful).
    pub fn detect_batch(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let text = StrColumn::get(batch, mcol::TEXT)?;
        let event_time = time_column(batch, mcol::EVENT_TIME)?.ok_or_else(|| {
            arrow::error::ArrowError::SchemaError(format!("missing column `{}`", mcol::EVENT_TIME))
        })?;
        let author_id = StrColumn::opt(batch, mcol::AUTHOR_ID)?;
        let handle = StrColumn::opt(batch, mcol::AUTHOR_HANDLE)?;
        let followers = int_column(batch, mcol::AUTHOR_FOLLOWERS)?;
        let statuses = int_column(batch, mcol::AUTHOR_STATUSES)?;
        let created = time_column(batch, mcol::AUTHOR_CREATED_AT)?;
        let verified = bool_column(batch, mcol::AUTHOR_VERIFIED)?;
        let retweet = bool_column(batch, mcol::IS_RETWEET)?;

        let n = batch.num_rows();
        let mut spam_b = BooleanBuilder::with_capacity(n);
        let mut reason_b = StringBuilder::with_capacity(n, 0);
        let mut buf = String::with_capacity(64);
        for i in 0..n {
            let author = author_id
                .as_ref()
                .and_then(|c| c.value(i))
                .or_else(|| handle.as_ref().and_then(|c| c.value(i)));
            let input = SpamInput {
                text: text.value(i).unwrap_or(""),
                author,
                followers: opt_i64(followers, i),
                statuses: opt_i64(statuses, i),
                account_created_ms: opt_i64(created, i),
                verified: verified.and_then(|a| a.is_valid(i).then(|| a.value(i))),
                is_retweet: retweet.is_some_and(|a| a.is_valid(i) && a.value(i)),
                event_time_ms: opt_i64(Some(event_time), i).unwrap_or(0),
            };
            let (fired, _, is_spam) = self.judge(&input);
            spam_b.append_value(is_spam);
            if is_spam {
                buf.clear();
                for (r, _) in reason::ALL.iter().zip(fired).filter(|(_, f)| *f) {
                    if !buf.is_empty() {
                        buf.push(',');
                    }
                    buf.push_str(r);
                }
                reason_b.append_value(&buf);
            } else {
                reason_b.append_null();
            }
        }
        append_columns(
            batch,
            vec![
                (
                    Field::new(col::IS_SPAM, DataType::Boolean, false),
                    Arc::new(spam_b.finish()) as ArrayRef,
                ),
                (
                    Field::new(col::SPAM_REASON, DataType::Utf8, true),
                    Arc::new(reason_b.finish()) as ArrayRef,
                ),
            ],
        )
    }
}

/// An i64-valued column view: Int64 or millisecond timestamps.
#[derive(Clone, Copy)]
struct I64View<'a> {
    values: &'a [i64],
    nulls: Option<&'a arrow::buffer::NullBuffer>,
}

type I64Col<'a> = Option<I64View<'a>>;

fn opt_i64(col: I64Col<'_>, i: usize) -> Option<i64> {
    col.and_then(|a| a.nulls.is_none_or(|n| n.is_valid(i)).then(|| a.values[i]))
}

fn int_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<I64Col<'a>> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(c) => match c.data_type() {
            DataType::Int64 => {
                let a = c.as_primitive::<Int64Type>();
                Ok(Some(I64View {
                    values: a.values(),
                    nulls: a.nulls(),
                }))
            }
            other => Err(type_err(name, "Int64", other)),
        },
    }
}

fn time_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<I64Col<'a>> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(c) => match c.data_type() {
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                let a = c.as_primitive::<TimestampMillisecondType>();
                Ok(Some(I64View {
                    values: a.values(),
                    nulls: a.nulls(),
                }))
            }
            DataType::Int64 => int_column(batch, name),
            other => Err(type_err(name, "Timestamp(Millisecond) or Int64", other)),
        },
    }
}

fn bool_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<Option<&'a BooleanArray>> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(c) => match c.data_type() {
            DataType::Boolean => Ok(Some(c.as_boolean())),
            other => Err(type_err(name, "Boolean", other)),
        },
    }
}

fn type_err(name: &str, want: &str, got: &DataType) -> OperatorError {
    arrow::error::ArrowError::SchemaError(format!("column `{name}` must be {want}, found {got}"))
        .into()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, BooleanArray, Int64Array, StringArray, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;
    use proptest::prelude::*;

    use super::*;

    const DAY_MS: i64 = 86_400_000;
    const NOW: i64 = 1_790_000_000_000;

    fn det() -> SpamDetector {
        SpamDetector::new(SpamConfig::default()).unwrap()
    }

    fn established(text: &str) -> SpamInput<'_> {
        SpamInput {
            text,
            author: Some("cust"),
            followers: Some(200),
            statuses: Some(900),
            account_created_ms: Some(NOW - 900 * DAY_MS),
            verified: Some(false),
            is_retweet: false,
            event_time_ms: NOW,
        }
    }

    fn brand_new(text: &str) -> SpamInput<'_> {
        SpamInput {
            followers: Some(0),
            statuses: Some(1),
            account_created_ms: Some(NOW - DAY_MS / 4),
            ..established(text)
        }
    }

    #[test]
    fn weak_account_alone_is_not_spam() {
        let v = det().check(&brand_new(
            "@BTCare my broadband has been down for three days, please help",
        ));
        assert!(!v.is_spam);
        assert_eq!(v.reasons, vec![reason::NEW_ACCOUNT, reason::LOW_REACH]);
        assert_eq!(v.score, 2);
    }

    #[test]
    fn promotional_content_is_spam() {
        let v = det().check(&established("GIVEAWAY! Follow & RT to win an iPhone"));
        assert!(v.is_spam);
        assert_eq!(v.reasons, vec![reason::PROMO_PHRASE]);
        assert_eq!(v.score, 3); // giveaway, follow & rt, rt to win
        let v = det().check(&established("Make money fast, ask me how https://t.co/x"));
        assert_eq!(
            (v.is_spam, v.reasons.clone()),
            (true, vec![reason::PROMO_PHRASE, reason::PROMO_WITH_LINK])
        );
        // One promotional word from an ordinary customer is not enough.
        let v = det().check(&established(
            "@SkyHelpTeam I won your giveaway and the prize never came",
        ));
        assert!(!v.is_spam);
        // Word boundaries: "btc" inside a word does not count.
        assert!(det()
            .check(&established("@BTCare hello"))
            .reasons
            .is_empty());
    }

    #[test]
    fn link_only_needs_a_second_signal() {
        assert!(
            !det()
                .check(&established("@EE look https://t.co/photo"))
                .is_spam
        );
        let v = det().check(&brand_new("@EE https://t.co/x"));
        assert!(v.is_spam);
        assert_eq!(
            v.reasons,
            vec![reason::LINK_ONLY, reason::NEW_ACCOUNT, reason::LOW_REACH]
        );
        assert!(
            det()
                .check(&established(
                    "@EE http://a.b http://c.d www.e.f links galore"
                ))
                .is_spam
        );
        assert!(
            !det()
                .check(&established("@EE #a #b #c #d my bill is wrong"))
                .is_spam
        );
        assert!(
            det()
                .check(&brand_new("@EE #a #b #c #d #e my bill"))
                .is_spam
        );
    }

    #[test]
    fn bot_rate_and_verified() {
        let bot = SpamInput {
            statuses: Some(60_000),
            account_created_ms: Some(NOW - 100 * DAY_MS),
            ..established("@EE deals https://t.co/x")
        };
        let v = det().check(&bot);
        assert_eq!(
            (v.is_spam, v.reasons.clone()),
            (true, vec![reason::LINK_ONLY, reason::BOT_RATE])
        );
        // A prolific account with an ordinary complaint is not spam.
        let v = det().check(&SpamInput {
            text: "@EE my bill is wrong again this month",
            ..bot
        });
        assert!(!v.is_spam && v.reasons == vec![reason::BOT_RATE]);
        // A link from it is enough.
        assert!(
            det()
                .check(&SpamInput {
                    text: "@EE best VPN deals here https://t.co/vpn",
                    ..bot
                })
                .is_spam
        );
        let brand = SpamInput {
            verified: Some(true),
            ..established("Win a free iPhone! giveaway, follow and rt https://t.co/x")
        };
        assert!(!det().check(&brand).is_spam);
    }

    fn copy<'a>(text: &'a str, author: &'a str, t: i64) -> SpamInput<'a> {
        SpamInput {
            author: Some(author),
            event_time_ms: t,
            ..established(text)
        }
    }

    const CAMPAIGN: &str =
        "Switched to NetZoom and saved three hundred pounds a year https://t.co/nz";

    #[test]
    fn repetition_from_distinct_authors() {
        let mut d = det();
        let got: Vec<bool> = ["a", "b", "b", "c", "d", "e"]
            .iter()
            .enumerate()
            .map(|(i, a)| d.check(&copy(CAMPAIGN, a, NOW + i as i64 * 1000)).is_spam)
            .collect();
        // The 4th *distinct* author (the same author twice counts once) and later.
        assert_eq!(got, vec![false, false, false, false, true, true]);
        // Normalisation: case, punctuation, handles and links do not matter.
        let v = d.check(&copy(
            "@Other SWITCHED to netzoom, and saved three hundred pounds a year!! https://x.y/z",
            "f",
            NOW + 10_000,
        ));
        assert!(v.reasons.contains(&reason::REPEATED_TEXT) && v.is_spam);
        let stats = d.take_stats();
        assert_eq!((stats.checked, stats.spam), (7, 3));
        assert_eq!(stats.spam_by_reason[6], 3);
    }

    #[test]
    fn repetition_ignores_short_texts_retweets_and_anonymous() {
        let mut d = det();
        for i in 0..10 {
            let a = format!("u{i}");
            assert!(
                !d.check(&copy("@EE no signal?? is EE down", &a, NOW + i))
                    .is_spam
            );
            let rt = SpamInput {
                is_retweet: true,
                ..copy(CAMPAIGN, &a, NOW + i)
            };
            assert!(!d.check(&rt).reasons.contains(&reason::REPEATED_TEXT));
            let anon = SpamInput {
                author: None,
                ..copy(CAMPAIGN, &a, NOW + i)
            };
            assert!(!d.check(&anon).reasons.contains(&reason::REPEATED_TEXT));
        }
        assert_eq!(d.tracked_texts(), 0);
    }

    #[test]
    fn repetition_window_expires_by_event_time() {
        let mut d = det();
        let window = SpamConfig::default().repetition_window_ms;
        // Four authors, each more than a window apart: never repeated.
        for (i, a) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            let v = d.check(&copy(CAMPAIGN, a, NOW + i as i64 * (window + 1)));
            assert!(!v.reasons.contains(&reason::REPEATED_TEXT), "{i}");
            assert_eq!(d.tracked_texts(), 1);
        }
        // Another text far in the future expires the first one.
        d.check(&copy(
            "something else entirely that is long enough to count",
            "z",
            NOW + 100 * window,
        ));
        assert_eq!(d.tracked_texts(), 1);
    }

    #[test]
    fn repetition_memory_is_capped() {
        let cfg = SpamConfig {
            repetition_max_entries: 100,
            ..SpamConfig::default()
        };
        let mut d = SpamDetector::new(cfg).unwrap();
        for i in 0..1_000i64 {
            let text = format!("distinct text number {i} with enough words in it");
            d.check(&copy(&text, "a", NOW + i));
            assert!(d.tracked_texts() <= 100);
            assert!(d.rep.order.len() <= 2 * 100 + 16);
            for e in d.rep.map.values() {
                assert!(e.authors.len() <= SpamConfig::default().repetition_min_distinct_authors);
            }
        }
        // Evicted texts start over; the newest ones are still tracked.
        for (k, a) in ["b", "c", "d"].iter().enumerate() {
            let v = d.check(&copy(
                "distinct text number 999 with enough words in it",
                a,
                NOW + 1_000 + k as i64,
            ));
            assert_eq!(v.reasons.contains(&reason::REPEATED_TEXT), k == 2);
        }
    }

    #[test]
    fn batch_appends_columns() {
        use crate::schema::col as c;
        let ts = |v: Vec<Option<i64>>| {
            Arc::new(TimestampMillisecondArray::from(v).with_timezone("UTC")) as ArrayRef
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new(c::TEXT, DataType::Utf8, false),
            Field::new(c::EVENT_TIME, crate::schema::timestamp_type(), false),
            Field::new(c::AUTHOR_HANDLE, DataType::Utf8, true),
            Field::new(c::AUTHOR_FOLLOWERS, DataType::Int64, true),
            Field::new(c::AUTHOR_STATUSES, DataType::Int64, true),
            Field::new(c::AUTHOR_CREATED_AT, crate::schema::timestamp_type(), true),
            Field::new(c::AUTHOR_VERIFIED, DataType::Boolean, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![
                    "@EE my internet is down",
                    "@EE https://t.co/x",
                    "GIVEAWAY follow and rt",
                ])),
                ts(vec![Some(NOW), Some(NOW), Some(NOW)]),
                Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
                Arc::new(Int64Array::from(vec![Some(0), Some(0), None])),
                Arc::new(Int64Array::from(vec![Some(0), Some(0), None])),
                ts(vec![Some(NOW - 1000), Some(NOW - 1000), None]),
                Arc::new(BooleanArray::from(vec![None, Some(false), None])),
            ],
        )
        .unwrap();
        let out = det().detect_batch(&batch).unwrap();
        let spam = out.column_by_name(col::IS_SPAM).unwrap().as_boolean();
        let why = out
            .column_by_name(col::SPAM_REASON)
            .unwrap()
            .as_string::<i32>();
        assert_eq!((spam.value(0), why.is_null(0)), (false, true));
        assert_eq!(
            (spam.value(1), why.value(1)),
            (true, "link_only,new_account,low_reach")
        );
        assert_eq!((spam.value(2), why.value(2)), (true, "promo_phrase"));
        // Only text and event_time are required.
        let minimal = batch.project(&[0, 1]).unwrap();
        assert_eq!(det().detect_batch(&minimal).unwrap().num_columns(), 4);
        assert!(det().detect_batch(&batch.project(&[0]).unwrap()).is_err());
    }

    #[test]
    fn config_round_trips_and_validates() {
        let cfg = SpamConfig::default();
        let back: SpamConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(cfg, back);
        assert!(serde_json::from_str::<SpamConfig>(r#"{"window_ms": 5}"#).is_err());
        let partial: SpamConfig =
            serde_json::from_str(r#"{"repetition_window_ms": 60000}"#).unwrap();
        assert_eq!(partial.min_score, 2);
        let err = SpamDetector::new(SpamConfig {
            repetition_min_distinct_authors: 1,
            ..cfg.clone()
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("spam.repetition_min_distinct_authors"),
            "{err}"
        );
        let err = SpamDetector::new(SpamConfig {
            promo_phrases: vec!["ok".into(), " ".into()],
            ..cfg
        })
        .unwrap_err();
        assert!(err.to_string().contains("spam.promo_phrases[1]"), "{err}");
    }

    /// Precision and recall on the committed, labelled examples, judged in file order.
    #[test]
    fn fixture_precision_recall() {
        let data = include_str!("../tests/fixtures/spam_examples.jsonl");
        let mut d = det();
        let (mut tp, mut fp, mut fneg, mut total) = (0, 0, 0, 0);
        let mut misses = Vec::new();
        for line in data.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let t = NOW + v["t_s"].as_i64().unwrap() * 1000;
            let input = SpamInput {
                text: v["text"].as_str().unwrap(),
                author: v["author"].as_str(),
                followers: v["followers"].as_i64(),
                statuses: v["statuses"].as_i64(),
                account_created_ms: v["account_age_days"]
                    .as_f64()
                    .map(|d| t - (d * DAY_MS as f64) as i64),
                verified: v["verified"].as_bool(),
                is_retweet: v["is_retweet"].as_bool().unwrap_or(false),
                event_time_ms: t,
            };
            let want = v["is_spam"].as_bool().unwrap();
            let got = d.check(&input);
            total += 1;
            match (want, got.is_spam) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (true, false) => fneg += 1,
                _ => {}
            }
            if want != got.is_spam {
                misses.push(format!(
                    "  want {want}, got {} {:?}: {}",
                    got.is_spam, got.reasons, input.text
                ));
            }
        }
        let precision = tp as f64 / (tp + fp).max(1) as f64;
        let recall = tp as f64 / (tp + fneg).max(1) as f64;
        println!(
            "spam fixture: {total} examples, {} spam; precision {:.1}% ({tp}/{}), recall {:.1}% ({tp}/{})",
            tp + fneg,
            precision * 100.0,
            tp + fp,
            recall * 100.0,
            tp + fneg
        );
        for m in &misses {
            println!("{m}");
        }
        assert!(total >= 60);
        assert!(
            precision >= 0.90 && recall >= 0.90,
            "precision {precision:.3}, recall {recall:.3}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_input_never_panics(
            text in "\\PC{0,300}",
            author in proptest::option::of("\\PC{0,12}"),
            followers in proptest::option::of(any::<i64>()),
            statuses in proptest::option::of(any::<i64>()),
            created in proptest::option::of(any::<i64>()),
            t in any::<i64>(),
        ) {
            let mut d = det();
            for k in 0..3 {
                let input = SpamInput {
                    text: &text,
                    author: author.as_deref(),
                    followers,
                    statuses,
                    account_created_ms: created,
                    verified: None,
                    is_retweet: false,
                    event_time_ms: t.saturating_add(k),
                };
                let v = d.check(&input);
                prop_assert!(!v.is_spam || !v.reasons.is_empty());
            }
        }
    }
}

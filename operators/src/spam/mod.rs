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
//! Batch API: `StatefulOperator::process_batch` appends [`col::IS_SPAM`] and
//! [`col::SPAM_REASON`].

use std::sync::Arc;

use aho_corasick::AhoCorasick;
use arrow::array::{Array, ArrayRef, BooleanBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field};
use arrow::record_batch::RecordBatch;

mod config;
mod repetition;
mod shape;
#[cfg(test)]
mod tests;

pub use config::SpamConfig;

use crate::columns::{
    append_columns, bool_at, bool_column, i64_at, int_column, time_column, StrColumn,
};
use crate::error::{OperatorError, Result};
use crate::operator::{names, StatefulOperator};
use crate::schema::col;
use crate::text::{boundaries, is_whole_match, phrase_automaton};
use repetition::Repetition;
use shape::{fnv, shape, FNV_OFFSET};

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

impl SpamDetector {
    /// Builds the detector; errors name the offending key.
    pub fn new(config: SpamConfig) -> Result<Self> {
        config.validate()?;
        let phrases: Vec<String> = config
            .promo_phrases
            .iter()
            .map(|p| p.trim().to_ascii_lowercase())
            .collect();
        let bounds: Vec<(bool, bool)> = phrases.iter().map(|p| boundaries(p)).collect();
        let promo = phrase_automaton(&phrases).map_err(|e| OperatorError::Config {
            key: "spam.promo_phrases".into(),
            reason: e.to_string(),
        })?;
        let rep = Repetition::new(&config);
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
            if !is_whole_match(m.text, start, end, self.promo_bounds[id]) {
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
}

impl SpamConfig {
    /// Validates the settings and builds the detector.
    pub fn build(&self) -> Result<SpamDetector> {
        SpamDetector::new(self.clone())
    }
}

/// Appends [`col::IS_SPAM`] and [`col::SPAM_REASON`]; the runtime drops the
/// spam rows (a counted drop). No side outputs, no durable state: the
/// repetition window is a few minutes of texts, learnt again after a
/// restart, and moves with the texts it tracks only, so it has no clock
/// and `on_watermark` does nothing.
impl StatefulOperator for SpamDetector {
    type Out = ();

    fn name(&self) -> &'static str {
        names::SPAM
    }

    /// Appends [`col::IS_SPAM`] and [`col::SPAM_REASON`] to a mention batch.
    /// Needs `text` and `event_time`; `author_id`/`author_handle`,
    /// `author_followers`, `author_statuses`, `author_created_at`,
    /// `author_verified` and `is_retweet` are used when present. Rows are
    /// judged in order (the repetition rule is stateful).
    fn process_batch(&mut self, batch: &RecordBatch, _out: &mut ()) -> Result<RecordBatch> {
        let text = StrColumn::get(batch, col::TEXT)?;
        let event_time = time_column(batch, col::EVENT_TIME)?.ok_or_else(|| {
            arrow::error::ArrowError::SchemaError(format!("missing column `{}`", col::EVENT_TIME))
        })?;
        let author_id = StrColumn::opt(batch, col::AUTHOR_ID)?;
        let handle = StrColumn::opt(batch, col::AUTHOR_HANDLE)?;
        let followers = int_column(batch, col::AUTHOR_FOLLOWERS)?;
        let statuses = int_column(batch, col::AUTHOR_STATUSES)?;
        let created = time_column(batch, col::AUTHOR_CREATED_AT)?;
        let verified = bool_column(batch, col::AUTHOR_VERIFIED)?;
        let retweet = bool_column(batch, col::IS_RETWEET)?;

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
                followers: i64_at(followers, i),
                statuses: i64_at(statuses, i),
                account_created_ms: i64_at(created, i),
                verified: bool_at(verified, i),
                is_retweet: retweet.is_some_and(|a| a.is_valid(i) && a.value(i)),
                event_time_ms: event_time.get(i).unwrap_or(0),
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

    fn on_watermark(&mut self, _watermark_ms: i64, _out: &mut ()) {}
}

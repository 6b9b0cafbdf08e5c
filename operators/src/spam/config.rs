//! The spam settings (the `[spam]` config section) and their checks.

use serde::{Deserialize, Serialize};

use crate::error::{OperatorError, Result};

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

impl SpamConfig {
    /// Checks the values; errors name the key (`spam.<field>`).
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, reason: &str| OperatorError::Config {
            key: format!("spam.{key}"),
            reason: reason.into(),
        };
        if self.repetition_window_ms <= 0 {
            return Err(bad("repetition_window_ms", "must be positive"));
        }
        if self.repetition_min_distinct_authors < 2 {
            return Err(bad("repetition_min_distinct_authors", "must be at least 2"));
        }
        if self.repetition_max_entries == 0 {
            return Err(bad("repetition_max_entries", "must be positive"));
        }
        if !(self.min_account_age_days.is_finite() && self.max_statuses_per_day.is_finite()) {
            return Err(bad("min_account_age_days", "day figures must be finite"));
        }
        for (i, p) in self.promo_phrases.iter().enumerate() {
            if p.trim().is_empty() {
                return Err(bad(&format!("promo_phrases[{i}]"), "empty phrase"));
            }
        }
        Ok(())
    }
}

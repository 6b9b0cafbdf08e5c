//! The join's counters: outcomes by channel, for the metrics.

use super::normalize::{channel_index, CHANNEL_LABELS};

/// Outcome labels of [`JoinStats::iter`], indexed by outcome code.
pub const OUTCOME_LABELS: [&str; 6] = [
    "hit",
    "no_identity",
    "unknown_identity",
    "ambiguous_identity",
    "identity_removed",
    "no_snapshot",
];

pub(super) const O_HIT: u8 = 0;
pub(super) const O_NO_IDENTITY: u8 = 1;
pub(super) const O_UNKNOWN: u8 = 2;
pub(super) const O_AMBIGUOUS: u8 = 3;
pub(super) const O_REMOVED: u8 = 4;
pub(super) const O_NO_SNAPSHOT: u8 = 5;

pub(super) const N_CHANNELS: usize = CHANNEL_LABELS.len();
pub(super) const N_OUTCOMES: usize = OUTCOME_LABELS.len();

/// The bounded metrics label of a mention channel: one of `twitter`
/// (also `x`), `facebook`, `instagram`, `web_form`, `app_chat`, `email`,
/// `sms`, `other` (trimmed, case-insensitive).
pub fn channel_label(channel: &str) -> &'static str {
    CHANNEL_LABELS[channel_index(channel)]
}

/// Counters since the last [`IdentityJoin::take_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinStats {
    /// Mention rows joined.
    pub rows: u64,
    /// Rows matched to a customer.
    pub hits: u64,
    /// Misses: no usable identity.
    pub no_identity: u64,
    /// Misses: identity not in the snapshot.
    pub unknown_identity: u64,
    /// Misses: identity claimed by several customers.
    pub ambiguous_identity: u64,
    /// Misses: identity removed by an update.
    pub identity_removed: u64,
    /// Misses: no snapshot loaded.
    pub no_snapshot: u64,
    /// Rows older than every kept version (joined to the oldest).
    pub before_oldest_version: u64,
    /// `[channel][outcome]` counts ([`CHANNEL_LABELS`] × [`OUTCOME_LABELS`]).
    by_channel: [[u64; N_OUTCOMES]; N_CHANNELS],
}

impl JoinStats {
    /// Non-zero `(channel label, outcome label, count)` triples.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> + '_ {
        self.by_channel.iter().enumerate().flat_map(|(c, row)| {
            row.iter()
                .enumerate()
                .filter(|(_, &n)| n > 0)
                .map(move |(o, &n)| (CHANNEL_LABELS[c], OUTCOME_LABELS[o], n))
        })
    }

    /// The count of one `(channel label, outcome label)`; 0 for unknown
    /// labels.
    pub fn count(&self, channel: &str, outcome: &str) -> u64 {
        let c = CHANNEL_LABELS.iter().position(|l| *l == channel);
        let o = OUTCOME_LABELS.iter().position(|l| *l == outcome);
        match (c, o) {
            (Some(c), Some(o)) => self.by_channel[c][o],
            _ => 0,
        }
    }

    pub(super) fn merge(
        &mut self,
        by_channel: &[[u64; N_OUTCOMES]; N_CHANNELS],
        rows: u64,
        before: u64,
    ) {
        self.rows += rows;
        self.before_oldest_version += before;
        let mut per_outcome = [0u64; N_OUTCOMES];
        for (acc, row) in self.by_channel.iter_mut().zip(by_channel) {
            for o in 0..N_OUTCOMES {
                acc[o] += row[o];
                per_outcome[o] += row[o];
            }
        }
        self.hits += per_outcome[O_HIT as usize];
        self.no_identity += per_outcome[O_NO_IDENTITY as usize];
        self.unknown_identity += per_outcome[O_UNKNOWN as usize];
        self.ambiguous_identity += per_outcome[O_AMBIGUOUS as usize];
        self.identity_removed += per_outcome[O_REMOVED as usize];
        self.no_snapshot += per_outcome[O_NO_SNAPSHOT as usize];
    }
}

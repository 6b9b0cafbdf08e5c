//! The repetition rule's bounded state: normalised-text hash → first
//! event time and distinct authors, expired by event time and capped (see
//! the spam module doc for the memory bound).

use std::collections::{HashMap, VecDeque};

use super::config::SpamConfig;

#[derive(Debug)]
pub(super) struct RepEntry {
    first_seen_ms: i64,
    pub(super) authors: Vec<u64>,
}

/// The bounded repetition state (see the module docs).
#[derive(Debug)]
pub(super) struct Repetition {
    /// foldhash, randomly seeded per map (the text hashes are FNV, which
    /// anyone can collide): several times cheaper than SipHash per lookup.
    pub(super) map: HashMap<u64, RepEntry, foldhash::fast::RandomState>,
    /// (first_seen_ms, hash) in insertion order; may hold stale pairs of reset entries.
    pub(super) order: VecDeque<(i64, u64)>,
    watermark_ms: i64,
    window_ms: i64,
    min_authors: usize,
    max_entries: usize,
}

impl Repetition {
    /// Empty state for the config's window, author count and cap.
    pub(super) fn new(config: &SpamConfig) -> Self {
        Repetition {
            map: HashMap::default(),
            order: VecDeque::new(),
            watermark_ms: i64::MIN,
            window_ms: config.repetition_window_ms,
            min_authors: config.repetition_min_distinct_authors,
            max_entries: config.repetition_max_entries,
        }
    }

    /// Records `author` writing text `hash` at `t_ms`; true once the text has
    /// `min_authors` distinct authors within the window.
    pub(super) fn observe(&mut self, hash: u64, author: u64, t_ms: i64) -> bool {
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

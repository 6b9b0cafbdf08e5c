//! Per-key state of the correlator (serde-serialisable, compact): the unit
//! of partitioning and of the state changelog.

use std::mem::size_of;

use serde::{Deserialize, Serialize};

use super::contacts::ContactKind;
use super::intern::Sym;

/// CRM context of an identified key (from the newest mention that had it;
/// the customer id is the key itself, `c:<id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Customer {
    pub segment: Option<Sym>,
    pub tier: Option<Sym>,
    pub region: Option<Sym>,
    pub vulnerable: Option<bool>,
    pub account_status: Option<Sym>,
}

/// How the mention was matched to the customer.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Identity {
    pub matched: bool,
    pub via: Option<Sym>,
    pub snapshot: Option<Sym>,
}

/// One mention kept on an item: id, author and text share one allocation
/// (copied whole into a [`MentionRef`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "MentionSer", from = "MentionSer")]
pub(crate) struct MentionRec {
    /// `uid` (`channel:source_id`) + author + text, concatenated.
    data: Box<str>,
    uid_len: u16,
    /// `u16::MAX` when there is no author.
    author_len: u16,
    /// NaN when unknown.
    sentiment: f32,
    pub channel: Sym,
    pub at_ms: i64,
}

/// The serialised (readable) form of [`MentionRec`].
#[derive(Serialize, Deserialize)]
struct MentionSer {
    uid: String,
    channel: Sym,
    #[serde(default)]
    author: Option<String>,
    text: String,
    at_ms: i64,
    #[serde(default)]
    sentiment: Option<f32>,
}

impl From<MentionRec> for MentionSer {
    fn from(m: MentionRec) -> Self {
        MentionSer {
            uid: m.uid().to_owned(),
            channel: m.channel,
            author: m.author().map(str::to_owned),
            text: m.text().to_owned(),
            at_ms: m.at_ms,
            sentiment: m.sentiment(),
        }
    }
}

impl From<MentionSer> for MentionRec {
    fn from(m: MentionSer) -> Self {
        MentionRec::new(
            &m.uid,
            m.channel,
            m.author.as_deref(),
            &m.text,
            m.at_ms,
            m.sentiment,
        )
    }
}

impl PartialEq for MentionRec {
    fn eq(&self, o: &Self) -> bool {
        self.data == o.data
            && self.uid_len == o.uid_len
            && self.author_len == o.author_len
            && self.sentiment.to_bits() == o.sentiment.to_bits()
            && self.channel == o.channel
            && self.at_ms == o.at_ms
    }
}

impl MentionRec {
    const MAX_PART: usize = u16::MAX as usize - 1;

    pub(crate) fn new(
        uid: &str,
        channel: Sym,
        author: Option<&str>,
        text: &str,
        at_ms: i64,
        sentiment: Option<f32>,
    ) -> Self {
        let uid = truncate(uid, Self::MAX_PART);
        let author = author.map(|a| truncate(a, Self::MAX_PART));
        MentionRec {
            // One exact-size allocation.
            data: [uid, author.unwrap_or(""), text].concat().into_boxed_str(),
            uid_len: uid.len() as u16,
            author_len: author.map_or(u16::MAX, |a| a.len() as u16),
            sentiment: sentiment.unwrap_or(f32::NAN),
            channel,
            at_ms,
        }
    }

    fn author_bytes(&self) -> usize {
        if self.author_len == u16::MAX {
            0
        } else {
            usize::from(self.author_len)
        }
    }

    pub(crate) fn uid(&self) -> &str {
        &self.data[..usize::from(self.uid_len)]
    }

    /// `self.uid() == uid`, without the char-boundary check of slicing a
    /// `str` (the duplicate test runs it against every kept mention). Uids
    /// of one channel share their prefix (`twitter:`) and differ in their
    /// last digits, so the last 8 bytes are compared first, as one word.
    pub(crate) fn uid_is(&self, uid: &str) -> bool {
        let n = uid.len();
        if usize::from(self.uid_len) != n {
            return false;
        }
        let (mine, theirs) = (&self.data.as_bytes()[..n], uid.as_bytes());
        if n >= 8 {
            let tail = |b: &[u8]| u64::from_ne_bytes(b[n - 8..].try_into().unwrap_or([0; 8]));
            tail(mine) == tail(theirs) && mine[..n - 8] == theirs[..n - 8]
        } else {
            mine == theirs
        }
    }

    pub(crate) fn author(&self) -> Option<&str> {
        let u = usize::from(self.uid_len);
        (self.author_len != u16::MAX).then(|| &self.data[u..u + self.author_bytes()])
    }

    pub(crate) fn text(&self) -> &str {
        &self.data[usize::from(self.uid_len) + self.author_bytes()..]
    }

    pub(crate) fn sentiment(&self) -> Option<f32> {
        (!self.sentiment.is_nan()).then_some(self.sentiment)
    }

    pub(crate) fn data_len(&self) -> usize {
        self.data.len()
    }

    /// Uid, author and text, concatenated (what a [`MentionRef`] copies).
    ///
    /// [`MentionRef`]: super::work_item::MentionRef
    pub(crate) fn data(&self) -> &str {
        &self.data
    }
}

impl Item {
    /// Ids of the folded mentions `mentions` no longer keeps.
    pub(crate) fn dropped_ids(&self) -> &[Box<str>] {
        self.dropped.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Every named mention id: the kept mentions' and the dropped ones,
    /// in time order (the dropped ones sit after the earliest kept one, or
    /// before it when only one is kept), `f` called with each.
    pub(crate) fn for_each_id(&self, max_mentions: usize, f: &mut dyn FnMut(&str)) {
        let split = usize::from(max_mentions >= 2).min(self.mentions.len());
        for m in &self.mentions[..split] {
            f(m.uid());
        }
        for id in self.dropped_ids() {
            f(id);
        }
        for m in &self.mentions[split..] {
            f(m.uid());
        }
    }
}

/// One open work item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Item {
    pub id: u64,
    pub group: Sym,
    /// Last emitted revision (0 before the first).
    pub revision: u32,
    /// Category and queue of the lead (most severe, first on ties) mention.
    pub category: Sym,
    pub queue: Sym,
    /// Severity points of the lead mention.
    pub base_points: i32,
    /// Severity reasons of the lead mention, `\n`-joined (one allocation).
    pub lead_reasons: Box<str>,
    pub severity: Sym,
    pub priority: u8,
    pub sla_due_ms: i64,
    pub identity: Identity,
    pub related_case: Option<Box<str>>,
    /// `related_case` is a CRM case id (not a form/call event id).
    pub related_is_case: bool,
    pub incident: Option<Box<str>>,
    /// Previous closed item of the same (key, group): id and closing time.
    pub repeat_of: Option<(u64, i64)>,
    /// Sticky flags and counts behind the stateful points.
    pub open_case: bool,
    pub recent_contact: bool,
    pub missed_appointments: u8,
    /// Sorted by (time, uid); the earliest and the newest are kept.
    pub mentions: Vec<MentionRec>,
    pub mention_count: u32,
    /// `channel:id` of the folded mentions `mentions` no longer keeps, in
    /// the order dropped, at most `max_mention_ids_per_item` (the first
    /// half and the newest); boxed, as most items never drop one.
    // Boxed on purpose: 8 bytes on the many items that drop none (a bare
    // `Vec` is 24, and took the state-size test over its budget).
    #[allow(clippy::box_collection)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<Box<Vec<Box<str>>>>,
    pub first_seen_ms: i64,
    pub last_activity_ms: i64,
}

/// A CRM contact remembered for the contact window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ContactRec {
    pub event_id: Box<str>,
    pub kind: ContactKind,
    pub at_ms: i64,
    pub case_id: Option<Box<str>>,
    pub category: Option<Sym>,
}

/// A CRM case (kept while open, and for the window after closing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CaseRec {
    pub id: Box<str>,
    pub category: Option<Sym>,
    pub opened_ms: i64,
    pub closed_ms: Option<i64>,
}

/// The last closed item of a group (kept for the window: repeat contacts).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ClosedRef {
    pub group: Sym,
    pub id: u64,
    pub closed_ms: i64,
}

/// CRM memory of a key: contacts, cases and the last closed item per group
/// (boxed: most keys have none, and the key map stays small).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Crm {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closed: Vec<ClosedRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<ContactRec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<CaseRec>,
}

impl Crm {
    fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.contacts.is_empty() && self.cases.is_empty()
    }
}

static NO_CRM: Crm = Crm {
    closed: Vec::new(),
    contacts: Vec::new(),
    cases: Vec::new(),
};

/// Everything the correlator holds for one key (customer or unidentified
/// author). This is the unit of partitioning and of the state changelog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct KeyState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Box<Customer>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Item>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm: Option<Box<Crm>>,
    /// Highest mention-topic offset applied per source partition: a replayed
    /// record (at-least-once redelivery, or input re-read after a restore
    /// from the changelog) is recognised and skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied: Vec<(i32, i64)>,
}

/// `Vec::push` with exact growth: state vectors stay tight (memory budget)
/// at the cost of a reallocation per push on these tiny vectors.
pub(crate) fn push_tight<T>(v: &mut Vec<T>, x: T) {
    v.reserve_exact(1);
    v.push(x);
}

/// `Vec::insert` with exact growth, see [`push_tight`].
pub(crate) fn insert_tight<T>(v: &mut Vec<T>, i: usize, x: T) {
    v.reserve_exact(1);
    v.insert(i, x);
}

/// Bytes a heap allocation of `n` bytes really takes (glibc-like malloc:
/// 8-byte header, 16-byte granules, 32-byte minimum); 0 for `n == 0`.
pub(crate) fn alloc_cost(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (n + 8).div_ceil(16).max(2) * 16
    }
}

fn heap_opt(s: &Option<Box<str>>) -> usize {
    s.as_deref().map_or(0, |s| alloc_cost(s.len()))
}

fn vec_cost<T>(v: &Vec<T>) -> usize {
    alloc_cost(v.capacity() * size_of::<T>())
}

impl KeyState {
    /// Nothing left worth keeping.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty() && self.crm.is_none()
    }

    /// The CRM memory (empty when none).
    pub(crate) fn crm(&self) -> &Crm {
        self.crm.as_deref().unwrap_or(&NO_CRM)
    }

    /// The CRM memory, created on first use.
    pub(crate) fn crm_mut(&mut self) -> &mut Crm {
        self.crm.get_or_insert_with(Box::default)
    }

    /// Drops the CRM box when it holds nothing.
    pub(crate) fn tidy(&mut self) {
        if self.crm.as_deref().is_some_and(Crm::is_empty) {
            self.crm = None;
        }
    }

    /// Drops spare capacity (after deserialisation).
    pub(crate) fn shrink(&mut self) {
        self.items.shrink_to_fit();
        for it in &mut self.items {
            it.mentions.shrink_to_fit();
            if let Some(d) = &mut it.dropped {
                d.shrink_to_fit();
            }
        }
        if let Some(c) = &mut self.crm {
            c.closed.shrink_to_fit();
            c.contacts.shrink_to_fit();
            c.cases.shrink_to_fit();
        }
        self.tidy();
    }

    /// Approximate bytes held outside the map entry (all heap allocations,
    /// with allocator overhead, see [`alloc_cost`]).
    pub(crate) fn heap_bytes(&self) -> usize {
        let mut n = 0;
        if self.customer.is_some() {
            n += alloc_cost(size_of::<Customer>());
        }
        n += vec_cost(&self.items);
        n += vec_cost(&self.applied);
        for it in &self.items {
            n += alloc_cost(it.lead_reasons.len());
            n += heap_opt(&it.related_case) + heap_opt(&it.incident);
            n += vec_cost(&it.mentions);
            if let Some(d) = &it.dropped {
                n += alloc_cost(size_of::<Vec<Box<str>>>()) + vec_cost(d);
                n += d.iter().map(|s| alloc_cost(s.len())).sum::<usize>();
            }
            n += it
                .mentions
                .iter()
                .map(|m| alloc_cost(m.data_len()))
                .sum::<usize>();
        }
        if let Some(crm) = &self.crm {
            n += alloc_cost(size_of::<Crm>());
            n += vec_cost(&crm.closed) + vec_cost(&crm.contacts) + vec_cost(&crm.cases);
            for c in &crm.contacts {
                n += alloc_cost(c.event_id.len()) + heap_opt(&c.case_id);
            }
            n += crm
                .cases
                .iter()
                .map(|c| alloc_cost(c.id.len()))
                .sum::<usize>();
        }
        n
    }
}

/// FNV-1a 64-bit: stable across runs, platforms and versions.
pub(crate) fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            // Separator (never in UTF-8) so ("ab","c") ≠ ("a","bc").
            h ^= 0xff;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Truncates to at most `max` bytes on a char boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// `uid_is` (tail word first) agrees with comparing `uid()`, for
        /// uids shorter and longer than a word that differ anywhere.
        #[test]
        fn correlate_uid_is_matches_str_eq(
            a in "[a-z:0-9\u{e9}]{0,20}",
            b in "[a-z:0-9\u{e9}]{0,20}",
            mode in 0u8..3,
            at in any::<prop::sample::Index>(),
        ) {
            let b = match mode {
                0 => a.clone(),
                1 => b,
                // Same length, one byte changed anywhere (ASCII positions).
                _ => {
                    let mut v = a.clone().into_bytes();
                    if !v.is_empty() {
                        let i = at.index(v.len());
                        if v[i].is_ascii() {
                            v[i] = if v[i] == b'0' { b'1' } else { b'0' };
                        }
                    }
                    String::from_utf8(v).unwrap()
                }
            };
            let m = MentionRec::new(&a, Sym::new("twitter"), Some("x"), "text", 0, None);
            prop_assert_eq!(m.uid_is(&b), m.uid() == b);
            prop_assert!(m.uid_is(&a));
        }
    }

    #[test]
    fn correlate_fnv_is_stable() {
        // FNV-1a 64 test vector.
        assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(fnv1a64(&[b"ab", b"c"]), fnv1a64(&[b"a", b"bc"]));
    }

    #[test]
    fn correlate_truncate_on_char_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}

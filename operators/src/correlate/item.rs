//! Per-key state (serde-serialisable, compact) and the work-item event.

use std::borrow::Cow;
use std::collections::HashMap;
use std::mem::size_of;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::contacts::ContactKind;

// ---------------------------------------------------------------- strings

/// Most distinct strings the process-wide interner will ever leak.
const MAX_INTERNED: usize = 65_536;
/// Returned once [`MAX_INTERNED`] is reached (never expected: interned
/// values come from small sets: categories, groups, queues, channels,
/// segments, tiers, regions, statuses, snapshot names).
const OVERFLOW: &str = "(too-many-distinct-values)";

/// Interns `s`: one leaked `&'static str` (and one leaked thin handle to
/// it) per distinct value, for the life of the process.
///
/// Each thread keeps its own copy of what it has looked up, so the hot path
/// (about ten lookups per mention) takes no lock.
fn intern(s: &str) -> &'static &'static str {
    type Table = HashMap<&'static str, &'static &'static str, foldhash::fast::RandomState>;
    thread_local! {
        static LOCAL: std::cell::RefCell<Table> = std::cell::RefCell::new(Table::default());
    }
    if let Some(x) = LOCAL.with(|l| l.borrow().get(s).copied()) {
        return x;
    }
    static SET: OnceLock<Mutex<Table>> = OnceLock::new();
    static OVERFLOW_SYM: &str = OVERFLOW;
    let set = SET.get_or_init(|| Mutex::new(Table::default()));
    let mut g = set.lock().unwrap_or_else(|p| p.into_inner());
    let handle = match g.get(s) {
        Some(&x) => x,
        None if g.len() >= MAX_INTERNED => return &OVERFLOW_SYM,
        None => {
            let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
            let handle: &'static &'static str = Box::leak(Box::new(leaked));
            g.insert(leaked, handle);
            handle
        }
    };
    drop(g);
    LOCAL.with(|l| l.borrow_mut().insert(*handle, handle));
    handle
}

/// An interned string from a small value set: a thin pointer (8 bytes in
/// state, `Option<Sym>` too); serialised as the plain string and
/// re-interned on import.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Sym(&'static &'static str);

impl Sym {
    /// Interns `s`.
    pub(crate) fn new(s: &str) -> Self {
        Sym(intern(s))
    }
    pub(crate) fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Debug for Sym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Sym {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Sym {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Sym::new(&s))
    }
}

// ---------------------------------------------------------------- state

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

// ---------------------------------------------------------------- event

/// What a work-item revision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Revision 1.
    Created,
    /// New information, severity not more urgent.
    Updated,
    /// Severity became more urgent (e.g. P3 → P2).
    Escalated,
    /// Last revision: the case closed or the item went quiet.
    Closed,
}

impl Action {
    /// SPEC spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Escalated => "escalated",
            Action::Closed => "closed",
        }
    }
}

/// CRM context on a work item (SPEC `customer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerRef {
    /// CRM customer id.
    pub customer_id: String,
    /// `consumer`, `business`, `wholesale`.
    pub segment: Option<String>,
    /// `standard`, `plus`, `premier`.
    pub tier: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Vulnerable-customer flag.
    pub vulnerable: Option<bool>,
    /// `active`, `in_arrears`, `suspended`, `closed`.
    pub account_status: Option<String>,
}

/// How the customer was recognised (SPEC `identity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRef {
    /// A customer was found.
    pub matched: bool,
    /// `twitter:handle`, `facebook:author_id`, `email`, `phone`, …
    pub via: Option<String>,
    /// The CRM snapshot version used.
    pub snapshot: Option<String>,
}

/// One mention on a work item (SPEC `mentions[]`).
///
/// The id, author and text are one allocation (a copy of the correlator's
/// `MentionRec`, made for every revision that lists the mention), the
/// channel a borrowed interned string and the time a number: building an
/// event's mentions took five allocations and a timestamp format each.
/// Serialises as the SPEC's object (`mention_id`, `channel`, `author`,
/// `text`, `created_at`, `sentiment`).
#[derive(Clone, PartialEq)]
pub struct MentionRef {
    /// `mention_id` + author + text, concatenated.
    data: Box<str>,
    id_len: usize,
    /// `None` when there is no author.
    author_len: Option<usize>,
    channel: Cow<'static, str>,
    created_at_ms: i64,
    sentiment: Option<f32>,
}

impl MentionRef {
    /// A mention with its own copy of the strings.
    pub fn new(
        mention_id: &str,
        channel: &str,
        author: Option<&str>,
        text: &str,
        created_at_ms: i64,
        sentiment: Option<f32>,
    ) -> Self {
        MentionRef {
            data: [mention_id, author.unwrap_or(""), text]
                .concat()
                .into_boxed_str(),
            id_len: mention_id.len(),
            author_len: author.map(str::len),
            channel: Cow::Owned(channel.to_owned()),
            created_at_ms,
            sentiment: sentiment.filter(|s| s.is_finite()),
        }
    }

    /// The kept mention (one copy of its strings).
    pub(crate) fn from_rec(m: &MentionRec) -> Self {
        MentionRef {
            data: m.data.clone(),
            id_len: usize::from(m.uid_len),
            author_len: m.author().map(str::len),
            channel: Cow::Borrowed(m.channel.as_str()),
            created_at_ms: m.at_ms,
            sentiment: m.sentiment().filter(|s| s.is_finite()),
        }
    }

    /// `channel:source_id`, e.g. `twitter:1234`.
    pub fn mention_id(&self) -> &str {
        &self.data[..self.id_len]
    }

    /// Channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Author handle (or source author id when there is no handle).
    pub fn author(&self) -> Option<&str> {
        self.author_len
            .map(|n| &self.data[self.id_len..self.id_len + n])
    }

    /// Text (truncated to `max_mention_text_bytes`).
    pub fn text(&self) -> &str {
        &self.data[self.id_len + self.author_len.unwrap_or(0)..]
    }

    /// Event time, milliseconds since the epoch.
    pub fn created_at_ms(&self) -> i64 {
        self.created_at_ms
    }

    /// Event time, RFC 3339 UTC with milliseconds.
    pub fn created_at(&self) -> String {
        format_rfc3339_ms(self.created_at_ms)
    }

    /// VADER compound score, when known.
    pub fn sentiment(&self) -> Option<f32> {
        self.sentiment
    }
}

impl std::fmt::Debug for MentionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MentionRef")
            .field("mention_id", &self.mention_id())
            .field("channel", &self.channel())
            .field("author", &self.author())
            .field("text", &self.text())
            .field("created_at", &self.created_at())
            .field("sentiment", &self.sentiment)
            .finish()
    }
}

/// The SPEC form of [`MentionRef`], borrowed for writing and owned for
/// reading.
#[derive(Serialize, Deserialize)]
struct MentionWire<S> {
    mention_id: S,
    channel: S,
    author: Option<S>,
    text: S,
    created_at: S,
    sentiment: Option<f32>,
}

impl Serialize for MentionRef {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        let created_at = self.created_at();
        MentionWire {
            mention_id: self.mention_id(),
            channel: self.channel(),
            author: self.author(),
            text: self.text(),
            created_at: created_at.as_str(),
            sentiment: self.sentiment,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for MentionRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = MentionWire::<String>::deserialize(d)?;
        let at = crate::parse::time::parse_rfc3339(&w.created_at).ok_or_else(|| {
            serde::de::Error::custom(format!("created_at `{}` is not RFC 3339", w.created_at))
        })?;
        Ok(MentionRef::new(
            &w.mention_id,
            &w.channel,
            w.author.as_deref(),
            &w.text,
            at,
            w.sentiment,
        ))
    }
}

/// One work-item event: the whole state of a work item at one revision
/// (SPEC "Work-item events"). Timestamps are RFC 3339 UTC with
/// milliseconds (`2026-11-20T10:00:00.000Z`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkItemEvent {
    /// `wi-` + 16 lower-case hex digits, deterministic.
    pub work_item_id: String,
    /// 1, 2, … consecutive per work item.
    pub revision: u32,
    /// What this revision did.
    pub action: Action,
    /// Queue (from the route/`queue` column, else the default by category).
    pub queue: String,
    /// Category of the lead mention.
    pub category: String,
    /// `P1` … `P4`.
    pub severity: String,
    /// 0–100.
    pub priority: u8,
    /// What raised or lowered the priority, human-readable.
    pub reasons: Vec<String>,
    /// When the SLA runs out.
    pub sla_due_at: String,
    /// CRM context, `null` when unidentified.
    pub customer: Option<CustomerRef>,
    /// How the author was recognised.
    pub identity: IdentityRef,
    /// The CRM case (or complaint-form/call event id) this item belongs to.
    pub related_case_id: Option<String>,
    /// The outage incident this item is part of.
    pub incident_id: Option<String>,
    /// The mentions (earliest and newest, at most `max_mentions_per_item`).
    pub mentions: Vec<MentionRef>,
    /// Event time of the earliest mention.
    pub first_seen_at: String,
    /// Event time of the latest activity (mention or CRM contact).
    pub updated_at: String,
}

impl WorkItemEvent {
    /// The JSON record for the `work-items` topic.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("work-item events always serialise")
    }
}

/// JSON writing as `serde_json` does it (compact), for
/// [`EventView::write_json`](super::EventView::write_json): serde's string
/// escaping tests one byte at a time and was the largest single cost of the
/// work-item emit; [`json::string`] skips clean text 32 and then 8 bytes at
/// a time.
pub(super) mod json {
    /// What follows `\` for a byte that must be escaped (`u`: `\u00XX`),
    /// 0 for a byte written as it is: serde_json's table.
    static ESCAPE: [u8; 256] = {
        let mut t = [0u8; 256];
        let mut b = 0;
        while b < 0x20 {
            t[b] = b'u';
            b += 1;
        }
        t[0x08] = b'b';
        t[0x09] = b't';
        t[0x0a] = b'n';
        t[0x0c] = b'f';
        t[0x0d] = b'r';
        t[b'"' as usize] = b'"';
        t[b'\\' as usize] = b'\\';
        t
    };

    /// Some byte of `chunk` needs an escape (a non-zero [`ESCAPE`] entry):
    /// over a fixed length the compiler turns this into vector compares
    /// (SSE2 on x86-64).
    #[inline]
    fn dirty<const N: usize>(chunk: &[u8; N]) -> bool {
        chunk
            .iter()
            .fold(false, |d, &c| d | (c < 0x20) | (c == b'"') | (c == b'\\'))
    }

    /// Escapes `b` from `*i` on in whole chunks of `N` bytes, testing each
    /// chunk at once and escaping byte by byte only a dirty one.
    #[inline]
    fn chunks<const N: usize>(out: &mut Vec<u8>, b: &[u8], start: &mut usize, i: &mut usize) {
        while *i + N <= b.len() {
            let chunk: &[u8; N] = b[*i..*i + N].try_into().expect("N bytes");
            if dirty(chunk) {
                escape_range(out, b, start, *i, *i + N);
            }
            *i += N;
        }
    }

    /// Escapes the bytes `b[from..to]`, flushing clean runs from `*start`.
    #[inline]
    fn escape_range(out: &mut Vec<u8>, b: &[u8], start: &mut usize, from: usize, to: usize) {
        for (j, &c) in b.iter().enumerate().take(to).skip(from) {
            let e = ESCAPE[usize::from(c)];
            if e == 0 {
                continue;
            }
            out.extend_from_slice(&b[*start..j]);
            if e == b'u' {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(c >> 4)],
                    HEX[usize::from(c & 0xf)],
                ]);
            } else {
                out.extend_from_slice(&[b'\\', e]);
            }
            *start = j + 1;
        }
    }

    /// A JSON string.
    pub(in super::super) fn string(out: &mut Vec<u8>, s: &str) {
        let b = s.as_bytes();
        out.reserve(b.len() + 2);
        out.push(b'"');
        let mut start = 0;
        let mut i = 0;
        // 32 bytes at a time (about 2.5 times faster than 8 on clean text),
        // then 8, then the tail byte by byte.
        chunks::<32>(out, b, &mut start, &mut i);
        chunks::<8>(out, b, &mut start, &mut i);
        escape_range(out, b, &mut start, i, b.len());
        out.extend_from_slice(&b[start..]);
        out.push(b'"');
    }

    /// A time as a JSON string, RFC 3339 UTC with milliseconds.
    pub(in super::super) fn time(out: &mut Vec<u8>, ms: i64) {
        match super::rfc3339_digits(ms) {
            Ok(b) => {
                out.push(b'"');
                out.extend_from_slice(&b);
                out.push(b'"');
            }
            Err(_) => string(out, &super::format_rfc3339_ms(ms)),
        }
    }

    /// The date part (`2026-11-20T`) of the day [`time_cached`] wrote last.
    #[derive(Debug, Clone, Copy)]
    pub(in super::super) struct DayCache {
        day: i64,
        date: [u8; 11],
    }

    impl Default for DayCache {
        fn default() -> Self {
            Self {
                day: i64::MIN,
                date: [0; 11],
            }
        }
    }

    /// [`time`], the date taken from `cache` when it is the same day (an
    /// event's times mostly are): the calendar arithmetic once per day.
    pub(in super::super) fn time_cached(out: &mut Vec<u8>, ms: i64, cache: &mut DayCache) {
        let day = ms.div_euclid(86_400_000);
        if day != cache.day {
            match super::rfc3339_digits(ms) {
                Ok(b) => {
                    cache.day = day;
                    cache.date.copy_from_slice(&b[..11]);
                }
                Err(_) => return time(out, ms),
            }
        }
        let in_day = ms.rem_euclid(86_400_000);
        let mut t = *b"00:00:00.000Z\"";
        super::put_clock(
            &mut t,
            (in_day / 3_600_000) as u64,
            (in_day / 60_000 % 60) as u64,
            (in_day / 1000 % 60) as u64,
            (in_day % 1000) as u64,
        );
        out.push(b'"');
        out.extend_from_slice(&cache.date);
        out.extend_from_slice(&t);
    }

    pub(in super::super) fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
        match s {
            Some(s) => string(out, s),
            None => out.extend_from_slice(b"null"),
        }
    }

    pub(in super::super) fn opt_bool(out: &mut Vec<u8>, v: Option<bool>) {
        out.extend_from_slice(match v {
            Some(true) => b"true",
            Some(false) => b"false",
            None => b"null",
        });
    }

    pub(in super::super) fn uint(out: &mut Vec<u8>, v: u64) {
        out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    /// `null` when absent or not finite (serde_json writes NaN and the
    /// infinities as `null`), else the shortest form (zmij), as serde_json.
    pub(in super::super) fn opt_f32(out: &mut Vec<u8>, v: Option<f32>) {
        match v {
            Some(x) if x.is_finite() => {
                out.extend_from_slice(zmij::Buffer::new().format_finite(x).as_bytes());
            }
            _ => out.extend_from_slice(b"null"),
        }
    }
}

// ---------------------------------------------------------------- helpers

/// Days since the epoch → (year, month, day) (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Year, month, day, hour, minute, second, millisecond (UTC).
type Civil = (i64, u32, u32, i64, i64, i64, i64);

fn split(ms: i64) -> Civil {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    (y, m, d, sod / 3600, sod % 3600 / 60, sod % 60, milli)
}

/// `2026-11-20T10:00:00.000Z`.
///
/// Digits are written directly (years 0–9999; `format!` otherwise): the
/// formatting machinery was about 7 % of the whole topology's CPU, every
/// work-item event carrying several timestamps.
pub fn format_rfc3339_ms(ms: i64) -> String {
    match rfc3339_digits(ms) {
        Ok(b) => String::from_utf8(b.to_vec()).expect("ASCII digits"),
        Err((y, m, d, h, mi, s, milli)) => {
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
        }
    }
}

/// `2026-11-20 10:00` (UTC), for reasons.
pub(crate) fn format_minute(ms: i64) -> String {
    match rfc3339_digits(ms) {
        Ok(mut b) => {
            b[10] = b' ';
            String::from_utf8(b[..16].to_vec()).expect("ASCII digits")
        }
        Err((y, m, d, h, mi, _, _)) => format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}"),
    }
}

/// `2026-11-20T10:00:00.000Z` as bytes for years 0–9999; the split fields
/// otherwise (for `format!`, which widens the year).
fn rfc3339_digits(ms: i64) -> Result<[u8; 24], Civil> {
    let (y, m, d, h, mi, s, milli) = split(ms);
    if !(0..=9999).contains(&y) {
        return Err((y, m, d, h, mi, s, milli));
    }
    let mut b = *b"0000-00-00T00:00:00.000Z";
    put_digits(&mut b[0..4], y as u64);
    put_digits(&mut b[5..7], u64::from(m));
    put_digits(&mut b[8..10], u64::from(d));
    put_clock(&mut b[11..23], h as u64, mi as u64, s as u64, milli as u64);
    Ok(b)
}

/// Writes the time of day into the `00:00:00.000` that `out` holds.
fn put_clock(out: &mut [u8], h: u64, mi: u64, s: u64, milli: u64) {
    put_digits(&mut out[0..2], h);
    put_digits(&mut out[3..5], mi);
    put_digits(&mut out[6..8], s);
    put_digits(&mut out[9..12], milli);
}

/// Writes `v` as decimal digits filling `out`, zero-padded (`v` must fit).
fn put_digits(out: &mut [u8], mut v: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
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

/// `wi-` + 16 hex.
pub(crate) fn item_id_string(id: u64) -> String {
    String::from_utf8(item_id_bytes(id).to_vec()).expect("ASCII hex")
}

/// [`item_id_string`] without the allocation.
pub(crate) fn item_id_bytes(id: u64) -> [u8; 19] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = *b"wi-0000000000000000";
    for (i, slot) in b[3..].iter_mut().enumerate() {
        *slot = HEX[((id >> (60 - 4 * i)) & 0xf) as usize];
    }
    b
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
pub(super) mod tests {
    use super::*;
    use crate::parse::time::parse_rfc3339;

    #[test]
    fn correlate_time_format_round_trips() {
        for s in [
            "1970-01-01T00:00:00.000Z",
            "2026-11-20T10:00:00.000Z",
            "2024-02-29T23:59:59.999Z",
            "2000-03-01T00:00:00.001Z",
        ] {
            let ms = parse_rfc3339(s).unwrap();
            assert_eq!(format_rfc3339_ms(ms), s);
        }
        assert_eq!(
            format_minute(parse_rfc3339("2026-11-20T10:00:30Z").unwrap()),
            "2026-11-20 10:00"
        );
    }

    use proptest::prelude::*;

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

        /// The digit writers print what `format!` printed, for any time
        /// (including years outside 0–9999, which take `format!`).
        #[test]
        fn correlate_fast_formats_match_format(ms in any::<i64>().prop_map(|v| v / 1024), id in any::<u64>()) {
            let (y, m, d, h, mi, s, milli) = split(ms);
            prop_assert_eq!(
                format_rfc3339_ms(ms),
                format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
            );
            prop_assert_eq!(format_minute(ms), format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}"));
            prop_assert_eq!(item_id_string(id), format!("wi-{id:016x}"));
        }

        #[test]
        fn correlate_fast_formats_match_format_in_this_era(ms in -62_135_596_800_000i64..253_402_300_799_999) {
            let (y, m, d, h, mi, s, milli) = split(ms);
            prop_assert_eq!(
                format_rfc3339_ms(ms),
                format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
            );
        }
    }

    /// Text with what JSON must escape (quotes, backslashes, every control
    /// byte) mixed into ASCII and any Unicode.
    pub(in crate::correlate) fn json_text() -> impl Strategy<Value = String> {
        let ch = prop_oneof![
            4 => (0x20u8..0x7f).prop_map(char::from),
            2 => (0u8..0x20).prop_map(char::from),
            1 => Just('"'),
            1 => Just('\\'),
            1 => Just('\u{7f}'),
            2 => any::<char>(),
        ];
        proptest::collection::vec(ch, 0..40).prop_map(String::from_iter)
    }

    fn opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(json_text())
    }

    pub(in crate::correlate) fn sentiment() -> impl Strategy<Value = Option<f32>> {
        proptest::option::of(prop_oneof![
            any::<f32>(),
            -1.0f32..1.0,
            Just(f32::NAN),
            Just(f32::INFINITY),
            Just(f32::NEG_INFINITY),
            Just(-0.0f32),
        ])
    }

    fn mention_ref() -> impl Strategy<Value = MentionRef> {
        (
            json_text(),
            json_text(),
            opt_text(),
            json_text(),
            // Years 0–9999 (written digit by digit) and beyond (`format!`).
            prop_oneof![
                -62_167_219_200_000i64..253_402_300_799_999,
                any::<i64>().prop_map(|v| v / 1024),
            ],
            sentiment(),
        )
            .prop_map(|(mention_id, channel, author, text, at, sentiment)| {
                MentionRef::new(
                    &mention_id,
                    &channel,
                    author.as_deref(),
                    &text,
                    at,
                    sentiment,
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The day-cached time is the plain one, whatever the order of the
        /// times (same day, next day, years outside 0–9999).
        #[test]
        fn correlate_cached_time_is_the_time(times in proptest::collection::vec(prop_oneof![
            3 => 1_700_000_000_000i64..1_700_000_000_000 + 3 * 86_400_000,
            1 => any::<i64>().prop_map(|t| t / 4),
        ], 1..20)) {
            let mut cache = json::DayCache::default();
            for t in times {
                let (mut plain, mut cached) = (Vec::new(), Vec::new());
                json::time(&mut plain, t);
                json::time_cached(&mut cached, t, &mut cache);
                prop_assert_eq!(String::from_utf8_lossy(&cached), String::from_utf8_lossy(&plain));
            }
        }

        /// A mention reads back as it was written (years 0–9999; a
        /// non-finite sentiment is written and read as null).
        #[test]
        fn correlate_mention_ref_round_trips(m in mention_ref()) {
            prop_assume!((0..=253_402_300_799_999).contains(&m.created_at_ms()));
            let back: MentionRef = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
            prop_assert_eq!(back, m);
        }

        /// The 32- and 8-bytes-at-a-time tests find every byte that needs
        /// an escape, wherever it sits in the chunk.
        #[test]
        fn correlate_json_string_escapes_like_serde(s in json_text(), pad in 0usize..40) {
            let s = format!("{}{}", "a".repeat(pad), s);
            let mut fast = Vec::new();
            json::string(&mut fast, &s);
            prop_assert_eq!(fast, serde_json::to_vec(&s).unwrap());
        }
    }

    #[test]
    fn correlate_json_string_every_byte() {
        // Each ASCII byte alone, at each position of a 32-byte chunk, of
        // the 8-byte word after it and of the byte tail.
        for c in 0u8..0x80 {
            for at in 0..43 {
                let mut s = "x".repeat(43);
                s.replace_range(at..at + 1, &char::from(c).to_string());
                let mut fast = Vec::new();
                json::string(&mut fast, &s);
                assert_eq!(fast, serde_json::to_vec(&s).unwrap(), "byte {c:#x} at {at}");
            }
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

//! The work-item event (SPEC "Work-item events") and its parts, as the API,
//! tests and observers see them.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::state::MentionRec;
use crate::time::{format_rfc3339_ms, parse_rfc3339};

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
            data: m.data().into(),
            id_len: m.uid().len(),
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
        let at = parse_rfc3339(&w.created_at).ok_or_else(|| {
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
    /// Mentions folded into the item (duplicates and replays not counted).
    #[serde(default)]
    pub mention_count: u32,
    /// `channel:id` of every folded mention in the order folded, at most
    /// `max_mention_ids_per_item` (then the first half and the newest).
    #[serde(default)]
    pub mention_ids: Vec<String>,
    /// Folded mentions whose id `mention_ids` leaves out (the cap; 0 below it).
    #[serde(default)]
    pub mention_ids_omitted: u32,
    /// The mentions (earliest and newest, at most `max_mentions_per_item`).
    pub mentions: Vec<MentionRef>,
    /// Folded mentions `mentions` leaves out (the text cap).
    #[serde(default)]
    pub mentions_omitted: u32,
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::correlate::json::tests::{json_text, sentiment};

    fn opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(json_text())
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
        #[test]
        fn correlate_item_id_is_hex(id in any::<u64>()) {
            prop_assert_eq!(item_id_string(id), format!("wi-{id:016x}"));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// A mention reads back as it was written (years 0–9999; a
        /// non-finite sentiment is written and read as null).
        #[test]
        fn correlate_mention_ref_round_trips(m in mention_ref()) {
            prop_assume!((0..=253_402_300_799_999).contains(&m.created_at_ms()));
            let back: MentionRef = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
            prop_assert_eq!(back, m);
        }
    }
}

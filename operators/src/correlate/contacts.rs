//! CRM contact events (`crm-contacts`, SPEC "CRM contact events") and their
//! parser.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::time::parse_rfc3339;

/// What happened in the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// A web complaint form was submitted.
    ComplaintForm,
    /// The customer phoned (or was phoned by) the contact centre.
    Call,
    /// A CRM case was opened.
    CaseOpened,
    /// A CRM case was updated.
    CaseUpdated,
    /// A CRM case was closed.
    CaseClosed,
    /// An engineer appointment was booked.
    AppointmentBooked,
    /// An engineer did not turn up (or the customer missed the slot).
    AppointmentMissed,
}

impl ContactKind {
    /// All kinds, in SPEC order.
    pub const ALL: [ContactKind; 7] = [
        ContactKind::ComplaintForm,
        ContactKind::Call,
        ContactKind::CaseOpened,
        ContactKind::CaseUpdated,
        ContactKind::CaseClosed,
        ContactKind::AppointmentBooked,
        ContactKind::AppointmentMissed,
    ];

    /// SPEC spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::ComplaintForm => "complaint_form",
            ContactKind::Call => "call",
            ContactKind::CaseOpened => "case_opened",
            ContactKind::CaseUpdated => "case_updated",
            ContactKind::CaseClosed => "case_closed",
            ContactKind::AppointmentBooked => "appointment_booked",
            ContactKind::AppointmentMissed => "appointment_missed",
        }
    }

    /// Parses the SPEC spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Human wording used in work-item reasons.
    pub(crate) fn words(self) -> &'static str {
        match self {
            ContactKind::ComplaintForm => "complaint form",
            ContactKind::Call => "call",
            ContactKind::CaseOpened => "case opened",
            ContactKind::CaseUpdated => "case updated",
            ContactKind::CaseClosed => "case closed",
            ContactKind::AppointmentBooked => "engineer appointment booked",
            ContactKind::AppointmentMissed => "engineer appointment missed",
        }
    }
}

/// One CRM contact event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactEvent {
    /// Unique id of the event (used for de-duplication).
    pub event_id: String,
    /// The CRM customer the event belongs to.
    pub customer_id: String,
    /// What happened.
    pub kind: ContactKind,
    /// CRM case id, when the event belongs to a case.
    pub case_id: Option<String>,
    /// Taxonomy category (`billing`, `broadband_fault`, …), if the CRM gives one.
    pub category: Option<String>,
    /// Event time, milliseconds since the epoch, UTC (from `occurred_at`).
    pub occurred_at_ms: i64,
    /// CRM channel (`phone`, `web`, …), if given.
    pub channel: Option<String>,
    /// Free-text note, if given.
    pub note: Option<String>,
}

/// Why a contact record was rejected (goes to a DLQ with these as headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRejection {
    /// Short code: `invalid_utf8`, `invalid_json`, `missing_field`, `invalid_field`.
    pub reason: &'static str,
    /// What exactly, naming the field.
    pub detail: String,
}

impl std::fmt::Display for ContactRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

fn reject(reason: &'static str, detail: impl Into<String>) -> ContactRejection {
    ContactRejection {
        reason,
        detail: detail.into(),
    }
}

/// An optional string field: absent, `null` or `""` is `None`.
fn opt_str(m: &Map<String, Value>, name: &str) -> Result<Option<String>, ContactRejection> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // Numeric ids are common in CRM exports; accept them as text.
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(reject(
            "invalid_field",
            format!("`{name}` must be a string"),
        )),
    }
}

fn req_str(m: &Map<String, Value>, name: &str) -> Result<String, ContactRejection> {
    opt_str(m, name)?.ok_or_else(|| reject("missing_field", format!("`{name}` is missing")))
}

/// Parses one `crm-contacts` record.
pub fn parse_contact(payload: &[u8]) -> Result<ContactEvent, ContactRejection> {
    let text = std::str::from_utf8(payload)
        .map_err(|e| reject("invalid_utf8", format!("not UTF-8: {e}")))?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| reject("invalid_json", e.to_string()))?;
    let Value::Object(m) = value else {
        return Err(reject("invalid_json", "top level is not an object"));
    };
    let event_id = req_str(&m, "event_id")?;
    let customer_id = req_str(&m, "customer_id")?;
    let kind_s = req_str(&m, "kind")?;
    let kind = ContactKind::parse(&kind_s)
        .ok_or_else(|| reject("invalid_field", format!("`kind` `{kind_s}` is not known")))?;
    let occurred = req_str(&m, "occurred_at")?;
    let occurred_at_ms = parse_rfc3339(&occurred).ok_or_else(|| {
        reject(
            "invalid_field",
            format!("`occurred_at` `{occurred}` is not RFC 3339"),
        )
    })?;
    let case_id = opt_str(&m, "case_id")?;
    if matches!(
        kind,
        ContactKind::CaseOpened | ContactKind::CaseUpdated | ContactKind::CaseClosed
    ) && case_id.is_none()
    {
        return Err(reject(
            "missing_field",
            format!("`case_id` is required for `{}`", kind.as_str()),
        ));
    }
    Ok(ContactEvent {
        event_id,
        customer_id,
        kind,
        case_id,
        category: opt_str(&m, "category")?,
        occurred_at_ms,
        channel: opt_str(&m, "channel")?,
        note: opt_str(&m, "note")?,
    })
}

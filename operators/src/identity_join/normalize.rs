//! Identity normalisation shared by the snapshot loader and the mention
//! lookup, so that both sides of the join agree byte for byte.
//!
//! - handles (Twitter, Instagram, Facebook ids): trimmed, lower-case, without
//!   leading `@`;
//! - emails: trimmed, lower-case;
//! - phone numbers: E.164 (`+<country><national>`), a national number with a
//!   leading trunk `0` taking the configured default country calling code.

/// The kind of an identity, as in the snapshot's `identities.kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum IdentityKind {
    /// Twitter/X screen name.
    Twitter = 0,
    /// Facebook user id (PSID).
    Facebook = 1,
    /// Instagram handle.
    Instagram = 2,
    /// Email address.
    Email = 3,
    /// Phone number (E.164 after normalisation).
    Phone = 4,
}

impl IdentityKind {
    /// The snapshot spelling (`twitter`, `facebook`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Twitter => "twitter",
            Self::Facebook => "facebook",
            Self::Instagram => "instagram",
            Self::Email => "email",
            Self::Phone => "phone",
        }
    }

    /// Parses the snapshot spelling, case-insensitively and trimmed.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "twitter" => Some(Self::Twitter),
            "facebook" => Some(Self::Facebook),
            "instagram" => Some(Self::Instagram),
            "email" => Some(Self::Email),
            "phone" => Some(Self::Phone),
            _ => None,
        }
    }

    /// Compact code used as the index key.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Trimmed, lower-case, without leading `@`.
pub fn normalize_handle(s: &str) -> String {
    s.trim().trim_start_matches('@').trim().to_lowercase()
}

/// Trimmed and lower-case.
pub fn normalize_email(s: &str) -> String {
    s.trim().to_lowercase()
}

/// E.164 normalisation. `default_cc` is the country calling code (digits
/// only, e.g. `"44"`) applied to national numbers written with a trunk `0`.
///
/// Accepts digits, spaces, `+`, `(`, `)`, `-` and `.`; `+CC…` and `00CC…`
/// are international; `0…` is national; bare digits without `0` are taken as
/// already international. Returns `None` for anything else or fewer than 7
/// digits (or more than 15, the E.164 maximum).
pub fn normalize_phone(s: &str, default_cc: &str) -> Option<String> {
    let s = s.trim();
    let mut digits = String::with_capacity(s.len());
    let mut plus = false;
    for (i, c) in s.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            ' ' | '(' | ')' | '-' | '.' => {}
            _ => return None,
        }
    }
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else if let Some(rest) = digits.strip_prefix('0') {
        format!("{default_cc}{rest}")
    } else {
        digits
    };
    // A national trunk 0 written after the country code: `+44 (0)7700 …`.
    let international = match international.strip_prefix(default_cc) {
        Some(rest) if rest.starts_with('0') => format!("{default_cc}{}", &rest[1..]),
        _ => international,
    };
    if international.len() < 7 || international.len() > 15 || international.starts_with('0') {
        return None;
    }
    Some(format!("+{international}"))
}

/// The identity kind of an envelope author from the handle's shape: an
/// email address (`@` with a dot after it, not at the start) or a phone
/// number (only digits, spaces, `+()-.`, at least 7 digits).
pub fn kind_by_shape(handle: &str) -> Option<IdentityKind> {
    let h = handle.trim();
    if let Some(at) = h.find('@') {
        if at > 0 && h[at + 1..].contains('.') && !h.contains(char::is_whitespace) {
            return Some(IdentityKind::Email);
        }
        return None;
    }
    let ok_chars = h
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '(' | ')' | '-' | '.'));
    let n_digits = h.chars().filter(char::is_ascii_digit).count();
    (ok_chars && n_digits >= 7).then_some(IdentityKind::Phone)
}

/// Which identity kind a mention of `channel` is looked up as, and which
/// mention field holds the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Look up the author handle as this kind.
    Handle(IdentityKind),
    /// Look up the author id as this kind.
    AuthorId(IdentityKind),
    /// Envelope channel: the kind comes from the handle's shape.
    ByShape,
}

/// Channel → lookup rule: `twitter`/`instagram` by handle, `facebook` by
/// author id, everything else by the handle's shape.
pub fn lookup_for_channel(channel: &str) -> Lookup {
    match channel.trim().to_ascii_lowercase().as_str() {
        "twitter" | "x" => Lookup::Handle(IdentityKind::Twitter),
        "instagram" => Lookup::Handle(IdentityKind::Instagram),
        "facebook" => Lookup::AuthorId(IdentityKind::Facebook),
        _ => Lookup::ByShape,
    }
}

/// Normalises `value` as an identity of `kind`; `None` when it cannot be
/// (empty, or not a phone number).
pub fn normalize(kind: IdentityKind, value: &str, default_cc: &str) -> Option<String> {
    let v = match kind {
        IdentityKind::Twitter | IdentityKind::Instagram | IdentityKind::Facebook => {
            normalize_handle(value)
        }
        IdentityKind::Email => normalize_email(value),
        IdentityKind::Phone => return normalize_phone(value, default_cc),
    };
    (!v.is_empty()).then_some(v)
}

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
        let s = s.trim();
        // Exact spelling first (the common case), then case-insensitively;
        // no allocation either way.
        Self::ALL.into_iter().find(|k| k.as_str() == s).or_else(|| {
            Self::ALL
                .into_iter()
                .find(|k| k.as_str().eq_ignore_ascii_case(s))
        })
    }

    /// Every kind, in code order.
    pub const ALL: [Self; 5] = [
        Self::Twitter,
        Self::Facebook,
        Self::Instagram,
        Self::Email,
        Self::Phone,
    ];

    /// Compact code used as the index key.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Trimmed, lower-case, without leading `@`.
pub fn normalize_handle(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_lower(s.trim().trim_start_matches('@').trim(), &mut out);
    out
}

/// Trimmed and lower-case.
pub fn normalize_email(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_lower(s.trim(), &mut out);
    out
}

/// Appends `s` lower-cased (ASCII fast path; full Unicode lower-casing,
/// as [`str::to_lowercase`], otherwise).
fn push_lower(s: &str, out: &mut String) {
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        out[start..].make_ascii_lowercase();
    } else {
        out.push_str(&s.to_lowercase());
    }
}

/// E.164 normalisation. `default_cc` is the country calling code (digits
/// only, e.g. `"44"`) applied to national numbers written with a trunk `0`.
///
/// Accepts digits, spaces, `+`, `(`, `)`, `-` and `.`; `+CC…` and `00CC…`
/// are international; `0…` is national; bare digits without `0` are taken as
/// already international. Returns `None` for anything else or fewer than 7
/// digits (or more than 15, the E.164 maximum).
pub fn normalize_phone(s: &str, default_cc: &str) -> Option<String> {
    let mut out = String::new();
    push_phone(s, default_cc, &mut out).then_some(out)
}

/// [`normalize_phone`] appending to `out` without allocating; `false` (and
/// `out` unchanged) when `s` is not a phone number.
fn push_phone(s: &str, default_cc: &str, out: &mut String) -> bool {
    // Longer digit strings can never give at most 15 digits after removing
    // a `00` prefix and one trunk `0`.
    const MAX: usize = 24;
    let s = s.trim();
    let mut digits = [0u8; MAX];
    let mut n = 0;
    let mut plus = false;
    for (i, c) in s.bytes().enumerate() {
        match c {
            b'0'..=b'9' => {
                if n == MAX {
                    return false;
                }
                digits[n] = c;
                n += 1;
            }
            b'+' if i == 0 => plus = true,
            b' ' | b'(' | b')' | b'-' | b'.' => {}
            _ => return false,
        }
    }
    let digits = &digits[..n];
    let cc = default_cc.as_bytes();
    let mut intl = [0u8; MAX + 4];
    let mut m = 0;
    let mut put = |part: &[u8], m: &mut usize| -> bool {
        if *m + part.len() > intl.len() {
            return false;
        }
        intl[*m..*m + part.len()].copy_from_slice(part);
        *m += part.len();
        true
    };
    let ok = if plus {
        put(digits, &mut m)
    } else if let Some(rest) = digits.strip_prefix(b"00") {
        put(rest, &mut m)
    } else if let Some(rest) = digits.strip_prefix(b"0") {
        put(cc, &mut m) && put(rest, &mut m)
    } else {
        put(digits, &mut m)
    };
    if !ok {
        return false;
    }
    let mut intl: &[u8] = &intl[..m];
    // A national trunk 0 written after the country code: `+44 (0)7700 …`.
    let mut fixed = [0u8; MAX + 4];
    if let Some(rest) = intl.strip_prefix(cc) {
        if rest.first() == Some(&b'0') {
            let k = cc.len() + rest.len() - 1;
            fixed[..cc.len()].copy_from_slice(cc);
            fixed[cc.len()..k].copy_from_slice(&rest[1..]);
            intl = &fixed[..k];
        }
    }
    if intl.len() < 7 || intl.len() > 15 || intl[0] == b'0' {
        return false;
    }
    out.reserve(intl.len() + 1);
    out.push('+');
    out.extend(intl.iter().map(|&b| b as char));
    true
}

/// The identity kind of an envelope author from the handle's shape: an
/// email address (`@` with a dot after it, not at the start) or a phone
/// number (only digits, spaces, `+()-.`, at least 7 digits).
pub fn kind_by_shape(handle: &str) -> Option<IdentityKind> {
    let h = handle.trim();
    if let Some(at) = h.find('@') {
        let white = if h.is_ascii() {
            // `char::is_whitespace` on ASCII, without decoding.
            h.bytes().any(|b| matches!(b, b' ' | b'\t'..=b'\r'))
        } else {
            h.contains(char::is_whitespace)
        };
        if at > 0 && h[at + 1..].contains('.') && !white {
            return Some(IdentityKind::Email);
        }
        return None;
    }
    // One pass over the bytes: every allowed character is ASCII.
    let mut n_digits = 0usize;
    for b in h.bytes() {
        match b {
            b'0'..=b'9' => n_digits += 1,
            b' ' | b'+' | b'(' | b')' | b'-' | b'.' => {}
            _ => return None,
        }
    }
    (n_digits >= 7).then_some(IdentityKind::Phone)
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
    lookup_of(channel_index(channel))
}

/// Channel labels for metrics, indexed by [`channel_index`].
pub const CHANNEL_LABELS: [&str; 8] = [
    "twitter",
    "facebook",
    "instagram",
    "web_form",
    "app_chat",
    "email",
    "sms",
    "other",
];

/// Index into [`CHANNEL_LABELS`] of a mention channel (trimmed,
/// case-insensitive; `x` is Twitter; anything unknown is `other`). No
/// allocation.
pub(crate) fn channel_index(channel: &str) -> usize {
    // Exact spellings as byte-string patterns (compiled to length and word
    // compares), then trimmed and case-insensitively.
    match channel.as_bytes() {
        b"twitter" => return 0,
        b"facebook" => return 1,
        b"instagram" => return 2,
        b"web_form" => return 3,
        b"app_chat" => return 4,
        b"email" => return 5,
        b"sms" => return 6,
        _ => {}
    }
    let c = channel.trim();
    if c.eq_ignore_ascii_case("x") {
        return 0;
    }
    CHANNEL_LABELS[..7]
        .iter()
        .position(|l| l.eq_ignore_ascii_case(c))
        .unwrap_or(7)
}

/// The lookup rule of a [`channel_index`].
pub(crate) fn lookup_of(channel_index: usize) -> Lookup {
    match channel_index {
        0 => Lookup::Handle(IdentityKind::Twitter),
        1 => Lookup::AuthorId(IdentityKind::Facebook),
        2 => Lookup::Handle(IdentityKind::Instagram),
        _ => Lookup::ByShape,
    }
}

/// Normalises `value` as an identity of `kind`; `None` when it cannot be
/// (empty, or not a phone number).
pub fn normalize(kind: IdentityKind, value: &str, default_cc: &str) -> Option<String> {
    let mut out = String::new();
    normalize_into(kind, value, default_cc, &mut out).then_some(out)
}

/// [`normalize`] appending to `out` (a reusable buffer: no allocation once
/// it has grown); returns `false`, leaving `out` unchanged, when `value`
/// does not normalise.
pub fn normalize_into(kind: IdentityKind, value: &str, default_cc: &str, out: &mut String) -> bool {
    let start = out.len();
    match kind {
        IdentityKind::Twitter | IdentityKind::Instagram | IdentityKind::Facebook => {
            push_lower(value.trim().trim_start_matches('@').trim(), out)
        }
        IdentityKind::Email => push_lower(value.trim(), out),
        IdentityKind::Phone => return push_phone(value, default_cc, out),
    }
    out.len() > start
}

/// The index key of an identity: the kind's code byte followed by the
/// normalised value, written into `out` (cleared first). `false` when the
/// value does not normalise.
pub(crate) fn key_into(
    kind: IdentityKind,
    value: &str,
    default_cc: &str,
    out: &mut String,
) -> bool {
    out.clear();
    push_key(kind, value, default_cc, out)
}

/// [`key_into`] appending to `out` instead of replacing it; `false`, with
/// `out` unchanged, when the value does not normalise.
pub(crate) fn push_key(
    kind: IdentityKind,
    value: &str,
    default_cc: &str,
    out: &mut String,
) -> bool {
    let start = out.len();
    out.push(kind.code() as char);
    if normalize_into(kind, value, default_cc, out) {
        true
    } else {
        out.truncate(start);
        false
    }
}

//! Identities: which kinds a customer has (Twitter, Facebook, e-mail,
//! phone, Instagram) and their values, spelt the way the CRM holds them.

use super::customers::*;
use super::salts::*;
use crate::generate::enc::{below, h3, unit, weighted};

/// Identity kinds of the `identities` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityKind {
    /// Twitter/X screen name.
    Twitter,
    /// Facebook user (page-scoped) id.
    Facebook,
    /// E-mail address.
    Email,
    /// Phone number (UK, written in mixed styles).
    Phone,
    /// Instagram username.
    Instagram,
}

impl IdentityKind {
    /// All kinds, in the order identities are written per customer.
    pub const ALL: [IdentityKind; 5] = [
        IdentityKind::Twitter,
        IdentityKind::Facebook,
        IdentityKind::Email,
        IdentityKind::Phone,
        IdentityKind::Instagram,
    ];

    /// The `kind` column value.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Twitter => "twitter",
            IdentityKind::Facebook => "facebook",
            IdentityKind::Email => "email",
            IdentityKind::Phone => "phone",
            IdentityKind::Instagram => "instagram",
        }
    }

    fn index(self) -> u64 {
        self as u64
    }

    /// Probability that a customer has this kind (before the e-mail fallback).
    fn share(self) -> f64 {
        match self {
            IdentityKind::Twitter => 0.38,
            IdentityKind::Facebook => 0.25,
            IdentityKind::Email => 0.70,
            IdentityKind::Phone => 0.55,
            IdentityKind::Instagram => 0.10,
        }
    }
}

static EMAIL_DOMAINS: [&str; 10] = [
    "gmail.com",
    "hotmail.co.uk",
    "outlook.com",
    "yahoo.co.uk",
    "btinternet.com",
    "icloud.com",
    "albionmail.co.uk",
    "live.co.uk",
    "aol.com",
    "sky.com",
];
static EMAIL_DOMAIN_WEIGHTS: [u32; 10] = [30, 18, 12, 8, 8, 8, 6, 4, 3, 3];

fn raw_has(seed: u64, i: usize, kind: IdentityKind) -> bool {
    unit(h3(seed, i as u64, S_HAS + kind.index())) < kind.share()
}

/// Whether customer `i` has an identity of `kind` (about 2 per customer on
/// average; everyone has at least one: a customer with nothing else has an
/// e-mail address).
pub fn has_identity(seed: u64, i: usize, kind: IdentityKind) -> bool {
    match kind {
        IdentityKind::Email => {
            raw_has(seed, i, IdentityKind::Email)
                || !(raw_has(seed, i, IdentityKind::Twitter)
                    || raw_has(seed, i, IdentityKind::Facebook)
                    || raw_has(seed, i, IdentityKind::Phone)
                    || raw_has(seed, i, IdentityKind::Instagram))
        }
        k => raw_has(seed, i, k),
    }
}

/// The identity `value` of customer `i` for `kind`, exactly as in the
/// `identities` table (whether or not the customer has that kind).
pub fn identity_value(seed: u64, i: usize, kind: IdentityKind) -> String {
    match kind {
        IdentityKind::Twitter => twitter_handle(seed, i),
        IdentityKind::Facebook => facebook_id(seed, i),
        IdentityKind::Email => email(seed, i),
        IdentityKind::Phone => phone(seed, i),
        IdentityKind::Instagram => instagram_handle(seed, i),
    }
}

/// Number suffix that makes handles and e-mail local parts unique: the
/// customer index plus a seed-dependent offset.
fn uniq(seed: u64, i: usize) -> u64 {
    i as u64 + h3(seed, 0, S_OFFSET) % 1000
}

fn push_alpha(out: &mut String, s: &str, lower: bool) {
    for c in s.chars().filter(|c| c.is_ascii_alphabetic()) {
        out.push(if lower { c.to_ascii_lowercase() } else { c });
    }
}

/// The Twitter screen name of customer `i` as Twitter shows it (mixed case,
/// `[A-Za-z0-9_]`, at most 15 characters, always ending in digits), e.g.
/// `SarahJ1042`. Unique per customer.
pub fn twitter_screen_name(seed: u64, i: usize) -> String {
    let (f, l) = name_parts(seed, i);
    let digits = uniq(seed, i).to_string();
    let mut p = String::with_capacity(24);
    match below(
        h3(seed, i as u64, S_STYLE + IdentityKind::Twitter.index()),
        5,
    ) {
        0 => {
            push_alpha(&mut p, f, false);
            p.push_str(&l[..1]);
        }
        1 => {
            push_alpha(&mut p, f, true);
            p.push('_');
            push_alpha(&mut p, l, true);
        }
        2 => {
            push_alpha(&mut p, f, false);
            push_alpha(&mut p, l, false);
        }
        3 => {
            push_alpha(&mut p, l, true);
            p.push('_');
            p.push_str(&f[..1].to_ascii_uppercase());
        }
        _ => {
            p.push_str("The");
            push_alpha(&mut p, f, false);
        }
    }
    p.truncate(15usize.saturating_sub(digits.len()).max(1));
    p.push_str(&digits);
    p
}

/// The Twitter handle of customer `i` as the CRM holds it: the screen name,
/// sometimes lower-cased, sometimes with a leading `@` (the join must match
/// case-insensitively and without `@`).
pub fn twitter_handle(seed: u64, i: usize) -> String {
    let name = twitter_screen_name(seed, i);
    match below(
        h3(seed, i as u64, S_CASE + IdentityKind::Twitter.index()),
        4,
    ) {
        0 => name.to_ascii_lowercase(),
        1 => format!("@{name}"),
        _ => name,
    }
}

/// Numeric Twitter user id of customer `i` (for `user.id_str` / `author_id`).
pub fn twitter_user_id(seed: u64, i: usize) -> u64 {
    // Bijective on 40 bits: unique per customer.
    let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4B) ^ (h3(seed, 1, S_OFFSET) & 0xFF_FFFF_FFFF);
    100_000_000 + (x & 0xFF_FFFF_FFFF)
}

/// Facebook (page-scoped) user id of customer `i`: 15 digits starting `100`,
/// unique per customer.
pub fn facebook_id(seed: u64, i: usize) -> String {
    let x = (i as u64).wrapping_mul(0x2545_F491_4F6D) ^ (h3(seed, 2, S_OFFSET) & 0xFF_FFFF_FFFF);
    (100_000_000_000_000 + (x & 0xFF_FFFF_FFFF)).to_string()
}

/// The e-mail address of customer `i` in lower case (how people type it).
pub fn email_address(seed: u64, i: usize) -> String {
    let (f, l) = name_parts(seed, i);
    let n = uniq(seed, i);
    let hi = h3(seed, i as u64, S_STYLE + IdentityKind::Email.index());
    let mut s = String::with_capacity(40);
    match below(hi, 4) {
        0 => {
            push_alpha(&mut s, f, true);
            s.push('.');
            push_alpha(&mut s, l, true);
        }
        1 => {
            push_alpha(&mut s, &f[..1], true);
            push_alpha(&mut s, l, true);
        }
        2 => push_alpha(&mut s, f, true),
        _ => {
            push_alpha(&mut s, f, true);
            s.push('_');
            push_alpha(&mut s, l, true);
        }
    }
    s.push_str(&n.to_string());
    s.push('@');
    if segment_idx(seed, i) == 0 {
        s.push_str(EMAIL_DOMAINS[weighted(h3(seed, i as u64, S_DOMAIN), &EMAIL_DOMAIN_WEIGHTS)]);
    } else {
        push_alpha(&mut s, l, true);
        s.push_str(["-ltd.co.uk", ".co.uk", "group.com"][below(hi >> 8, 3)]);
    }
    s
}

/// The e-mail address of customer `i` as the CRM holds it: mostly lower
/// case, sometimes capitalised (`Sarah.Jones42@Gmail.com`) or upper case.
pub fn email(seed: u64, i: usize) -> String {
    let s = email_address(seed, i);
    match weighted(
        h3(seed, i as u64, S_CASE + IdentityKind::Email.index()),
        &[70, 20, 10],
    ) {
        0 => s,
        1 => {
            let mut out = String::with_capacity(s.len());
            let mut up = true;
            for c in s.chars() {
                out.push(if up { c.to_ascii_uppercase() } else { c });
                up = matches!(c, '.' | '_' | '@');
            }
            out
        }
        _ => s.to_ascii_uppercase(),
    }
}

/// National significant number (10 digits, `7…`) of customer `i`'s mobile:
/// in 07700 000000 – 07999 999999, unique per customer (< 300 M customers).
pub(crate) fn phone_nsn(seed: u64, i: usize) -> u64 {
    const SPAN: u64 = 300_000_000;
    let off = h3(seed, 3, S_OFFSET) % SPAN;
    7_700_000_000 + ((i as u64 % SPAN) * 1_000_003 + off) % SPAN
}

/// Customer `i`'s mobile number in E.164, e.g. `+447700900123`.
pub fn phone_e164(seed: u64, i: usize) -> String {
    format!("+44{}", phone_nsn(seed, i))
}

/// Number of phone writing styles understood by [`format_phone`].
pub(crate) const PHONE_STYLES: usize = 7;

/// Writes a UK mobile NSN (`7700900123`) in one of several human styles.
pub(crate) fn format_phone(nsn: u64, style: usize) -> String {
    let d = nsn.to_string(); // 10 digits
    let (a, b) = d.split_at(4); // "7700", "900123"
    match style % PHONE_STYLES {
        0 => format!("0{a} {b}"),
        1 => format!("+44 {a} {b}"),
        2 => format!("+44{d}"),
        3 => format!("0{d}"),
        4 => format!("(0{a}) {} {}", &b[..3], &b[3..]),
        5 => format!("0044 {a} {b}"),
        _ => format!("0{a}-{}-{}", &b[..3], &b[3..]),
    }
}

/// Customer `i`'s mobile number as the CRM holds it, in mixed styles such as
/// `07700 900123`, `+44 7700 900123`, `(07700) 900 123`.
pub fn phone(seed: u64, i: usize) -> String {
    let style = below(
        h3(seed, i as u64, S_STYLE + IdentityKind::Phone.index()),
        PHONE_STYLES,
    );
    format_phone(phone_nsn(seed, i), style)
}

/// Instagram username of customer `i` (lower case, unique).
pub fn instagram_handle(seed: u64, i: usize) -> String {
    let (f, l) = name_parts(seed, i);
    let mut s = String::with_capacity(32);
    push_alpha(&mut s, f, true);
    s.push(
        ['.', '_'][below(
            h3(seed, i as u64, S_STYLE + IdentityKind::Instagram.index()),
            2,
        )],
    );
    push_alpha(&mut s, l, true);
    s.push('.');
    s.push_str(&uniq(seed, i).to_string());
    s
}

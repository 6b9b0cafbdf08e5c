//! Small, allocation-free building blocks shared by the generators:
//! stable hashing, a seedable PRNG, a JSON string escaper and fast
//! timestamp / integer formatting into a reused `String`.
//!
//! Everything here is deterministic and independent of crate versions, so
//! a seed produces the same bytes on every machine and after dependency
//! upgrades.

use chrono::{DateTime, Datelike, Timelike};

/// SplitMix64 finaliser: a strong 64-bit mixing function.
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of `(seed, index, salt)`; the basis of every pure per-customer value.
#[inline]
pub(crate) fn h3(seed: u64, i: u64, salt: u64) -> u64 {
    mix(mix(seed ^ mix(salt)).wrapping_add(i))
}

/// Maps a hash to a uniform `f64` in `[0, 1)`.
#[inline]
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Maps a hash to `0..n` (multiply-high, no modulo bias worth caring about).
#[inline]
pub(crate) fn below(h: u64, n: usize) -> usize {
    ((h as u128 * n as u128) >> 64) as usize
}

/// Picks an index from cumulative-free integer weights using hash `h`.
pub(crate) fn weighted(h: u64, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = below(h, total as usize) as u32;
    for (i, &w) in weights.iter().enumerate() {
        if x < w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// A small, fast, seedable PRNG (wyrand). Its output sequence is fixed by
/// this code, not by an external crate.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose stream is a pure function of `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: mix(seed) }
    }

    /// Next 64 random bits.
    #[inline]
    pub(crate) fn u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0xA076_1D64_78BD_642F);
        let t = (self.state as u128).wrapping_mul((self.state ^ 0xE703_7ED1_A0B4_28DB) as u128);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub(crate) fn f64(&mut self) -> f64 {
        unit(self.u64())
    }

    /// Uniform in `0..n` (`n > 0`).
    #[inline]
    pub(crate) fn below(&mut self, n: usize) -> usize {
        below(self.u64(), n)
    }

    /// Uniform in `lo..=hi`.
    #[inline]
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + below(self.u64(), (hi - lo + 1) as usize) as u64
    }

    /// True with probability `p`.
    #[inline]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// A uniformly chosen element.
    #[inline]
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// An index chosen by integer weights.
    #[inline]
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        weighted(self.u64(), weights)
    }
}

/// Appends `s` as a JSON string literal (with quotes). Escapes `"`, `\` and
/// all control characters; keeps other characters as UTF-8.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    push_json_escaped(out, s, false);
    out.push('"');
}

/// Appends `s` as a JSON string literal with every non-ASCII character
/// written as `\uXXXX` (surrogate pairs above U+FFFF), as Twitter's API does.
pub(crate) fn push_json_str_ascii(out: &mut String, s: &str) {
    out.push('"');
    push_json_escaped(out, s, true);
    out.push('"');
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_u_escape(out: &mut String, u: u16) {
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((u >> shift) & 0xF) as usize] as char);
    }
}

/// Per byte: 0 = copy as is, 1 = needs a JSON escape, 2 = non-ASCII.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if i < 0x20 || i == b'"' as usize || i == b'\\' as usize {
            1
        } else if i >= 0x80 {
            2
        } else {
            0
        };
        i += 1;
    }
    t
};

fn push_json_escaped(out: &mut String, s: &str, ascii_only: bool) {
    let bytes = s.as_bytes();
    // Class 0 is always copied; class 2 (non-ASCII) too unless `ascii_only`.
    let skip = if ascii_only { 0 } else { 2 };
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let class = CLASS[bytes[i] as usize];
        if class == 0 || class == skip {
            i += 1;
            continue;
        }
        out.push_str(&s[start..i]);
        if class == 2 {
            // a whole non-ASCII char as \uXXXX (surrogate pair above U+FFFF)
            let ch = s[i..].chars().next().expect("char boundary");
            let mut units = [0u16; 2];
            for u in ch.encode_utf16(&mut units) {
                push_u_escape(out, *u);
            }
            i += ch.len_utf8();
            start = i;
            continue;
        }
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0C => out.push_str("\\f"),
            b => push_u_escape(out, b as u16),
        }
        i += 1;
        start = i;
    }
    out.push_str(&s[start..]);
}

/// Appends a decimal unsigned integer.
#[inline]
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.reserve(buf.len() - i);
    for &d in &buf[i..] {
        out.push(d as char);
    }
}

/// Appends a decimal signed integer.
#[inline]
pub(crate) fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Appends `n` zero-padded to `width` digits.
#[inline]
pub(crate) fn push_padded(out: &mut String, n: u64, width: usize) {
    let mut digits = 1;
    let mut m = n;
    while m >= 10 {
        m /= 10;
        digits += 1;
    }
    for _ in digits..width {
        out.push('0');
    }
    push_u64(out, n);
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn utc(ms: i64) -> DateTime<chrono::Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Twitter v1.1 `created_at`: `Sun Aug 31 00:29:15 +0000 2014`.
pub(crate) fn push_twitter_time(out: &mut String, ms: i64) {
    let t = utc(ms);
    out.push_str(WEEKDAYS[t.weekday().num_days_from_monday() as usize]);
    out.push(' ');
    out.push_str(MONTHS[t.month0() as usize]);
    out.push(' ');
    push_padded(out, t.day() as u64, 2);
    out.push(' ');
    push_hms(out, &t);
    out.push_str(" +0000 ");
    push_u64(out, t.year() as u64);
}

fn push_hms(out: &mut String, t: &DateTime<chrono::Utc>) {
    push_padded(out, t.hour() as u64, 2);
    out.push(':');
    push_padded(out, t.minute() as u64, 2);
    out.push(':');
    push_padded(out, t.second() as u64, 2);
}

fn push_date(out: &mut String, t: &DateTime<chrono::Utc>) {
    push_padded(out, t.year() as u64, 4);
    out.push('-');
    push_padded(out, t.month() as u64, 2);
    out.push('-');
    push_padded(out, t.day() as u64, 2);
}

/// RFC 3339 UTC with milliseconds: `2014-08-31T00:29:15.123Z`.
pub(crate) fn push_rfc3339_ms(out: &mut String, ms: i64) {
    let t = utc(ms);
    push_date(out, &t);
    out.push('T');
    push_hms(out, &t);
    out.push('.');
    push_padded(out, ms.rem_euclid(1000) as u64, 3);
    out.push('Z');
}

/// RFC 3339 UTC to the second: `2014-08-31T00:29:15Z`.
pub(crate) fn push_rfc3339_s(out: &mut String, ms: i64) {
    let t = utc(ms);
    push_date(out, &t);
    out.push('T');
    push_hms(out, &t);
    out.push('Z');
}

/// RFC 3339 local time with a `+HH:MM` offset (same instant as `ms`).
pub(crate) fn push_rfc3339_offset(out: &mut String, ms: i64, offset_min: i32) {
    let t = utc(ms + offset_min as i64 * 60_000);
    push_date(out, &t);
    out.push('T');
    push_hms(out, &t);
    out.push(if offset_min < 0 { '-' } else { '+' });
    let m = offset_min.unsigned_abs() as u64;
    push_padded(out, m / 60, 2);
    out.push(':');
    push_padded(out, m % 60, 2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escaper_round_trips_through_serde() {
        let nasty = "quote\" back\\ nl\n cr\r tab\t bell\u{7} nul\u{0} £ 😡 ü \u{1F}";
        for ascii in [false, true] {
            let mut out = String::new();
            if ascii {
                push_json_str_ascii(&mut out, nasty);
            } else {
                push_json_str(&mut out, nasty);
            }
            assert!(!out.contains('\n'));
            if ascii {
                assert!(out.is_ascii());
            }
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, nasty);
        }
    }

    #[test]
    fn time_formats() {
        // 2014-08-31T00:29:15.042Z
        let ms = 1_409_444_955_042;
        let mut s = String::new();
        push_twitter_time(&mut s, ms);
        assert_eq!(s, "Sun Aug 31 00:29:15 +0000 2014");
        s.clear();
        push_rfc3339_ms(&mut s, ms);
        assert_eq!(s, "2014-08-31T00:29:15.042Z");
        s.clear();
        push_rfc3339_offset(&mut s, ms, 60);
        assert_eq!(s, "2014-08-31T01:29:15+01:00");
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(&s)
                .unwrap()
                .timestamp(),
            ms / 1000
        );
        s.clear();
        push_i64(&mut s, -120);
        push_padded(&mut s, 7, 3);
        assert_eq!(s, "-120007");
    }

    #[test]
    fn weighted_and_below_stay_in_range() {
        let mut r = Rng::new(1);
        let mut counts = [0u32; 3];
        for _ in 0..10_000 {
            counts[r.weighted(&[1, 2, 7])] += 1;
            assert!(r.below(5) < 5);
            let x = r.range(3, 4);
            assert!((3..=4).contains(&x));
        }
        assert!(counts[2] > 6_500 && counts[0] < 1_300);
    }
}

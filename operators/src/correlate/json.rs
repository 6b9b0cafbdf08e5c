//! JSON writing as `serde_json` does it (compact), for
//! [`EventView::write_json`](super::event::EventView::write_json): serde's string
//! escaping tests one byte at a time and was the largest single cost of the
//! work-item emit; [`string`] skips clean text 32 and then 8 bytes at
//! a time.

use crate::time::{clamp_rfc3339, put_clock, rfc3339_digits};

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
pub(super) fn string(out: &mut Vec<u8>, s: &str) {
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

/// The date part (`2026-11-20T`) of the day [`time_cached`] wrote last.
#[derive(Debug, Clone, Copy)]
pub(super) struct DayCache {
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

/// A time as a JSON string, RFC 3339 UTC with milliseconds (years
/// 0000–9999: [`clamp_rfc3339`]), the date taken from `cache` when it is the same day (an
/// event's times mostly are): the calendar arithmetic once per day.
pub(super) fn time_cached(out: &mut Vec<u8>, ms: i64, cache: &mut DayCache) {
    let ms = clamp_rfc3339(ms);
    let day = ms.div_euclid(86_400_000);
    if day != cache.day {
        cache.day = day;
        cache.date.copy_from_slice(&rfc3339_digits(ms)[..11]);
    }
    let in_day = ms.rem_euclid(86_400_000);
    let mut t = *b"00:00:00.000Z\"";
    put_clock(
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

pub(super) fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

pub(super) fn opt_bool(out: &mut Vec<u8>, v: Option<bool>) {
    out.extend_from_slice(match v {
        Some(true) => b"true",
        Some(false) => b"false",
        None => b"null",
    });
}

pub(super) fn uint(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// `null` when absent or not finite (serde_json writes NaN and the
/// infinities as `null`), else the shortest form (zmij), as serde_json.
pub(super) fn opt_f32(out: &mut Vec<u8>, v: Option<f32>) {
    match v {
        Some(x) if x.is_finite() => {
            out.extend_from_slice(zmij::Buffer::new().format_finite(x).as_bytes());
        }
        _ => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use proptest::prelude::*;

    use super::*;

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

    /// A sentiment score as the state may hold it (also NaN and the infinities).
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The day-cached time is the plain one, whatever the order of the
        /// times (same day, next day, years outside 0–9999).
        #[test]
        fn correlate_cached_time_is_the_time(times in proptest::collection::vec(prop_oneof![
            3 => 1_700_000_000_000i64..1_700_000_000_000 + 3 * 86_400_000,
            1 => any::<i64>().prop_map(|t| t / 4),
        ], 1..20)) {
            let mut cache = DayCache::default();
            for t in times {
                let (mut plain, mut cached) = (Vec::new(), Vec::new());
                string(&mut plain, &crate::time::format_rfc3339_ms(t));
                time_cached(&mut cached, t, &mut cache);
                prop_assert_eq!(String::from_utf8_lossy(&cached), String::from_utf8_lossy(&plain));
            }
        }

        /// The 32- and 8-bytes-at-a-time tests find every byte that needs
        /// an escape, wherever it sits in the chunk.
        #[test]
        fn correlate_json_string_escapes_like_serde(s in json_text(), pad in 0usize..40) {
            let s = format!("{}{}", "a".repeat(pad), s);
            let mut fast = Vec::new();
            string(&mut fast, &s);
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
                string(&mut fast, &s);
                assert_eq!(fast, serde_json::to_vec(&s).unwrap(), "byte {c:#x} at {at}");
            }
        }
    }
}

//! The crate's one date module: civil-date arithmetic (H. Hinnant's
//! `days_from_civil` / `civil_from_days`), the timestamp parsers of the
//! mention formats and CRM events, and the timestamp writers of the
//! work-item and incident events. Hand-written, fixed positions, no
//! allocation in the parsers: the parsers run once per mention and the
//! writers several times per work-item event (the `format!` machinery was
//! about 7 % of the whole topology's CPU).
//!
//! Every time is milliseconds since the Unix epoch, UTC. The parsers return
//! `None` when the text is not a valid date in the expected shape.

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`). `m` is 1..=12, `d` is 1..=31.
#[inline]
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400; // [0, 399]
    let mp = (i64::from(m) + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

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

#[inline]
fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

#[inline]
fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

#[inline]
fn digit(b: u8) -> Option<u32> {
    let d = b.wrapping_sub(b'0');
    if d < 10 {
        Some(u32::from(d))
    } else {
        None
    }
}

#[inline]
fn two(b: &[u8], i: usize) -> Option<u32> {
    Some(digit(*b.get(i)?)? * 10 + digit(*b.get(i + 1)?)?)
}

#[inline]
fn four(b: &[u8], i: usize) -> Option<u32> {
    Some(two(b, i)? * 100 + two(b, i + 2)?)
}

/// Validates the calendar fields and combines them into epoch milliseconds.
#[inline]
#[allow(clippy::too_many_arguments)]
fn combine(
    y: u32,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    ms: u32,
    offset_secs: i64,
) -> Option<i64> {
    let y = i64::from(y);
    // Second 60 is accepted (leap second) and rolls into the next minute.
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60
    {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let secs =
        days * 86_400 + i64::from(h) * 3_600 + i64::from(mi) * 60 + i64::from(s) - offset_secs;
    Some(secs * 1_000 + i64::from(ms))
}

/// Parses a UTC offset `+HHMM`, `+HH:MM` starting at `b[i]` (the sign) that
/// must run to the end of `b`. Returns the offset in seconds east of UTC.
#[inline]
fn offset(b: &[u8], i: usize) -> Option<i64> {
    let sign = match *b.get(i)? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hh = two(b, i + 1)?;
    let (mm, end) = if b.get(i + 3) == Some(&b':') {
        (two(b, i + 4)?, i + 6)
    } else {
        (two(b, i + 3)?, i + 5)
    };
    if end != b.len() || hh > 23 || mm > 59 {
        return None;
    }
    Some(sign * (i64::from(hh) * 3_600 + i64::from(mm) * 60))
}

/// Parses the Twitter v1.1 `created_at` shape, `Sun Aug 31 00:29:15 +0000 2014`.
/// The weekday is checked for shape only.
pub fn parse_twitter_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 30
        || b[3] != b' '
        || b[7] != b' '
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b' '
        || b[25] != b' '
    {
        return None;
    }
    if !b[..3].iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let mo = match &b[4..7] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    let d = two(b, 8)?;
    let h = two(b, 11)?;
    let mi = two(b, 14)?;
    let sec = two(b, 17)?;
    let off = offset(&b[..25], 20)?;
    let y = four(b, 26)?;
    combine(y, mo, d, h, mi, sec, 0, off)
}

/// Parses an RFC 3339 timestamp: `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`.
/// Also accepts a space or lower-case `t` as separator, lower-case `z`, and
/// an offset without colon (`+0000`, as Facebook writes it). Fractions
/// beyond milliseconds are truncated.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let y = four(b, 0)?;
    let mo = two(b, 5)?;
    let d = two(b, 8)?;
    let h = two(b, 11)?;
    let mi = two(b, 14)?;
    let sec = two(b, 17)?;
    let mut i = 19;
    let mut ms = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                ms = ms * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..3 {
            ms *= 10;
        }
    }
    let off = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        b'+' | b'-' => offset(b, i)?,
        _ => return None,
    };
    combine(y, mo, d, h, mi, sec, ms, off)
}

// ---------------------------------------------------------------- writing

/// Year, month, day, hour, minute, second, millisecond (UTC).
pub(crate) type Civil = (i64, u32, u32, i64, i64, i64, i64);

/// The calendar fields of a time.
pub(crate) fn split(ms: i64) -> Civil {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    (y, m, d, sod / 3600, sod % 3600 / 60, sod % 60, milli)
}

/// The earliest time an RFC 3339 timestamp can carry: `0000-01-01T00:00:00.000Z`.
pub const MIN_RFC3339_MS: i64 = -62_167_219_200_000;
/// The latest time an RFC 3339 timestamp can carry: `9999-12-31T23:59:59.999Z`.
pub const MAX_RFC3339_MS: i64 = 253_402_300_799_999;
/// The default earliest accepted event time: `2006-01-01T00:00:00Z` (before
/// any social network Switchboard reads carried care mentions).
pub const DEFAULT_MIN_EVENT_TIME_MS: i64 = 1_136_073_600_000;

/// `ms` clamped into what RFC 3339 can write (years 0000–9999).
#[inline]
pub fn clamp_rfc3339(ms: i64) -> i64 {
    ms.clamp(MIN_RFC3339_MS, MAX_RFC3339_MS)
}

/// `2026-11-20T10:00:00.000Z`.
///
/// Digits are written directly: the formatting machinery was about 7 % of
/// the whole topology's CPU, every work-item event carrying several
/// timestamps. A time outside years 0000–9999 is written as the nearest
/// one inside (event times are bounded long before this; the writers
/// never emit a year RFC 3339 cannot hold).
pub fn format_rfc3339_ms(ms: i64) -> String {
    String::from_utf8(rfc3339_digits(ms).to_vec()).expect("ASCII digits")
}

/// `2026-11-20T10:00:00Z` (whole seconds, the milliseconds dropped): the
/// incident events' times.
pub fn format_rfc3339_secs(ms: i64) -> String {
    let mut b = rfc3339_digits(ms);
    b[19] = b'Z';
    String::from_utf8(b[..20].to_vec()).expect("ASCII digits")
}

/// `20261120T100000000Z` (no separators, milliseconds kept): the time part
/// of an incident id.
pub fn format_compact_ms(ms: i64) -> String {
    let (y, m, d, h, mi, s, milli) = split(clamp_rfc3339(ms));
    format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s:02}{milli:03}Z")
}

/// `2026-11-20 10:00` (UTC), for reason lines.
pub fn format_minute(ms: i64) -> String {
    let mut b = rfc3339_digits(ms);
    b[10] = b' ';
    String::from_utf8(b[..16].to_vec()).expect("ASCII digits")
}

/// `2026-11-20T10:00:00.000Z` as bytes, `ms` clamped into years 0000–9999
/// ([`clamp_rfc3339`]).
pub(crate) fn rfc3339_digits(ms: i64) -> [u8; 24] {
    let (y, m, d, h, mi, s, milli) = split(clamp_rfc3339(ms));
    let mut b = *b"0000-00-00T00:00:00.000Z";
    put_digits(&mut b[0..4], y as u64);
    put_digits(&mut b[5..7], u64::from(m));
    put_digits(&mut b[8..10], u64::from(d));
    put_clock(&mut b[11..23], h as u64, mi as u64, s as u64, milli as u64);
    b
}

/// Writes the time of day into the `00:00:00.000` that `out` holds.
pub(crate) fn put_clock(out: &mut [u8], h: u64, mi: u64, s: u64, milli: u64) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2026, 11, 22), 20_779);
    }

    #[test]
    fn twitter_dates() {
        assert_eq!(
            parse_twitter_date("Sun Aug 31 00:29:15 +0000 2014"),
            Some(1_409_444_955_000)
        );
        // 02:29:15 at +0200 is 00:29:15 UTC.
        assert_eq!(
            parse_twitter_date("Sun Aug 31 02:29:15 +0200 2014"),
            Some(1_409_444_955_000)
        );
        assert_eq!(
            parse_twitter_date("Sat Aug 30 19:29:15 -0500 2014"),
            Some(1_409_444_955_000)
        );
        assert_eq!(
            parse_twitter_date("Thu Feb 29 12:00:00 +0000 2024"),
            Some(1_709_208_000_000)
        );
        for bad in [
            "",
            "Sun Aug 31 00:29:15 +0000 201",
            "Sun Aug 31 00:29:15 +0000 2014 ",
            "Sun Foo 31 00:29:15 +0000 2014",
            "Sun Aug 32 00:29:15 +0000 2014",
            "Sun Aug 00 00:29:15 +0000 2014",
            "Thu Feb 29 12:00:00 +0000 2023",
            "Sun Aug 31 24:29:15 +0000 2014",
            "Sun Aug 31 00:60:15 +0000 2014",
            "Sun Aug 31 00:29:15 *0000 2014",
            "Sun Aug 31 00:29:15 +00:0 2014",
            "2014-08-31T00:29:15Z",
            "Sun Aug 3a 00:29:15 +0000 2014",
            "Sun Aug 31 00:29:15 +0000 20é",
        ] {
            assert_eq!(parse_twitter_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(
            parse_rfc3339("2014-08-31T00:29:15Z"),
            Some(1_409_444_955_000)
        );
        assert_eq!(
            parse_rfc3339("2014-08-31T00:29:15.123Z"),
            Some(1_409_444_955_123)
        );
        assert_eq!(
            parse_rfc3339("2014-08-31T00:29:15.1Z"),
            Some(1_409_444_955_100)
        );
        assert_eq!(
            parse_rfc3339("2014-08-31T00:29:15.123456789Z"),
            Some(1_409_444_955_123)
        );
        assert_eq!(
            parse_rfc3339("2014-08-31T02:29:15+02:00"),
            Some(1_409_444_955_000)
        );
        assert_eq!(
            parse_rfc3339("2014-08-30T19:29:15-05:00"),
            Some(1_409_444_955_000)
        );
        assert_eq!(
            parse_rfc3339("2014-08-31 00:29:15z"),
            Some(1_409_444_955_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T10:00:00+0000"),
            Some(1_795_341_600_000)
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1_000));
        for bad in [
            "",
            "2014-08-31",
            "2014-08-31T00:29:15",
            "2014-08-31T00:29:15.Z",
            "2014-08-31T00:29:15ZZ",
            "2014-13-01T00:00:00Z",
            "2014-02-29T00:00:00Z",
            "2014-08-31T00:29:15+2:00",
            "2014-08-31T00:29:15+02:00x",
            "2014-08-31T00:29:15+24:00",
            "2014/08/31T00:29:15Z",
            "Sun Aug 31 00:29:15 +0000 2014",
            "2014-08-31T00:29:1éZ",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn time_format_round_trips() {
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
        let t = parse_rfc3339("2026-11-20T12:00:05.250Z").unwrap();
        assert_eq!(format_rfc3339_secs(t), "2026-11-20T12:00:05Z");
        assert_eq!(format_compact_ms(t), "20261120T120005250Z");
    }

    use proptest::prelude::*;

    proptest! {
        /// The digit writers print what `format!` printed, for any time
        /// RFC 3339 can write (outside, they clamp: see below).
        #[test]
        fn time_fast_formats_match_format(ms in MIN_RFC3339_MS..=MAX_RFC3339_MS) {
            let (y, m, d, h, mi, s, milli) = split(ms);
            prop_assert_eq!(
                format_rfc3339_ms(ms),
                format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
            );
            prop_assert_eq!(format_minute(ms), format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}"));
            prop_assert_eq!(
                format_rfc3339_secs(ms),
                format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
            );
        }

        #[test]
        fn time_fast_formats_match_format_in_this_era(ms in -62_135_596_800_000i64..253_402_300_799_999) {
            let (y, m, d, h, mi, s, milli) = split(ms);
            prop_assert_eq!(
                format_rfc3339_ms(ms),
                format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
            );
        }

        /// The incident writers print what chrono printed before them, for
        /// years 0–9999 (every time a mention format can carry).
        #[test]
        fn time_incident_formats_match_chrono(ms in -62_167_219_200_000i64..253_402_300_799_999) {
            let t = chrono::DateTime::from_timestamp_millis(ms).unwrap();
            prop_assert_eq!(format_rfc3339_secs(ms), t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            prop_assert_eq!(format_compact_ms(ms), t.format("%Y%m%dT%H%M%S%3fZ").to_string());
        }

        /// Parsing what the writer wrote gives the time back.
        #[test]
        fn time_parse_inverts_format(ms in -62_167_219_200_000i64..253_402_300_799_999) {
            prop_assert_eq!(parse_rfc3339(&format_rfc3339_ms(ms)), Some(ms));
        }
    }

    /// Every writer emits RFC 3339 (four-digit year) for any time at all:
    /// issue 27 found `-001-12-31T…` and `10000-01-01T…` in work items.
    fn assert_writers_rfc3339(ms: i64) {
        let full = format_rfc3339_ms(ms);
        assert_eq!(full.len(), 24, "{ms} → {full}");
        assert_eq!(
            parse_rfc3339(&full),
            Some(clamp_rfc3339(ms)),
            "{ms} → {full}"
        );
        let secs = format_rfc3339_secs(ms);
        assert!(parse_rfc3339(&secs).is_some(), "{ms} → {secs}");
        assert_eq!(format_minute(ms).len(), 16);
        assert_eq!(format_compact_ms(ms).len(), 19);
    }

    #[test]
    fn writers_stay_rfc3339_at_the_edges() {
        for ms in [
            i64::MIN,
            i64::MIN + 1,
            MIN_RFC3339_MS - 1,
            MIN_RFC3339_MS,
            -62_198_755_200_000, // year -1
            0,
            MAX_RFC3339_MS,
            MAX_RFC3339_MS + 1,  // 10000-01-01
            999_999_999_999_000, // Facebook created_time "999999999999": year 33658
            i64::MAX - 1,
            i64::MAX,
        ] {
            assert_writers_rfc3339(ms);
        }
        assert_eq!(
            format_rfc3339_ms(MAX_RFC3339_MS + 1),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(format_rfc3339_ms(i64::MIN), "0000-01-01T00:00:00.000Z");
    }

    proptest! {
        #[test]
        fn writers_stay_rfc3339_for_any_time(ms in any::<i64>()) {
            assert_writers_rfc3339(ms);
        }
    }
}

//! The stated outage length: "down for 3 days", "48hrs", "since
//! yesterday" (see [`stated_outage`] and the severity module doc for the
//! grammar).

use aho_corasick::AhoCorasick;

use crate::text::phrase_automaton;

/// A stated duration found in a text by [`stated_outage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatedOutage {
    /// Duration in hours.
    pub hours: u32,
    /// The phrase, lower case, single-spaced (`3 days`, `48 hrs`, `since yesterday`).
    pub phrase: String,
}

fn number_word(t: &str) -> Option<u32> {
    Some(match t {
        "a" | "an" | "one" => 1,
        "two" | "couple" => 2,
        "three" | "few" | "several" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        _ => return None,
    })
}

pub(super) fn unit_hours(t: &str) -> Option<u32> {
    Some(match t {
        "h" | "hr" | "hrs" | "hour" | "hours" => 1,
        "day" | "days" => 24,
        "wk" | "wks" | "week" | "weeks" => 168,
        "fortnight" | "fortnights" => 336,
        _ => return None,
    })
}

/// Lower-case tokens: runs of ASCII digits or of letters (`48hrs` → `48`,
/// `hrs`); everything else separates. Apostrophes are dropped inside words.
/// The tokens are written into one string, separated by single spaces
/// (lower-casing never yields a space), instead of one allocation each.
pub(super) fn token_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_token = false;
    let mut cur_digit = false;
    for ch in text.chars() {
        let is_digit = ch.is_ascii_digit();
        if is_digit || ch.is_alphabetic() {
            if !out.is_empty() && (!in_token || cur_digit != is_digit) {
                out.push(' ');
            }
            in_token = true;
            cur_digit = is_digit;
            if ch.is_ascii() {
                out.push(ch.to_ascii_lowercase());
            } else {
                out.extend(ch.to_lowercase());
            }
        } else if (ch == '\'' || ch == '\u{2019}') && in_token && !cur_digit {
            continue;
        } else {
            in_token = false;
        }
    }
    out
}

/// Whether `text` may state an outage length: it has a token `since` or
/// a unit token (`h`, `hr(s)`, `hour(s)`, `day(s)`, `wk(s)`, `week(s)`,
/// `fortnight(s)`), which [`stated_outage`] needs. A superset test on the
/// raw bytes, without tokenising: a substring `since`, `hr`, `hour`, `day`,
/// `wk`, `week` or `fortnight` in any ASCII case; an `h` or `H` without an
/// ASCII letter either side; or the Kelvin sign, the one non-ASCII letter
/// other than `İ` (whose lower case keeps a combining dot) that lower-cases
/// to an ASCII letter. Most texts state no length, and tokenising them all
/// was about a third of the severity operator.
fn may_state_outage(text: &str) -> bool {
    static HINTS: std::sync::LazyLock<Option<AhoCorasick>> = std::sync::LazyLock::new(|| {
        phrase_automaton(&[
            "since",
            "hr",
            "hour",
            "day",
            "wk",
            "week",
            "fortnight",
            "\u{212A}",
        ])
        .ok()
    });
    let Some(hints) = HINTS.as_ref() else {
        return true;
    };
    if hints.is_match(text) {
        return true;
    }
    let b = text.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        (c | 0x20) == b'h'
            && (i == 0 || !b[i - 1].is_ascii_alphabetic())
            && b.get(i + 1).is_none_or(|n| !n.is_ascii_alphabetic())
    })
}

/// The longest outage length stated in `text` that is at most `max_hours`
/// (see the module doc for the grammar), or `None`.
pub fn stated_outage(text: &str, max_hours: u32) -> Option<StatedOutage> {
    if !may_state_outage(text) {
        return None;
    }
    stated_outage_tokens(text, max_hours)
}

/// [`stated_outage`] without the byte prefilter.
pub(super) fn stated_outage_tokens(text: &str, max_hours: u32) -> Option<StatedOutage> {
    let text = token_text(text);
    let toks: Vec<&str> = text.split(' ').filter(|t| !t.is_empty()).collect();
    let mut best: Option<StatedOutage> = None;
    let mut consider = |hours: u32, phrase: String| {
        if hours > 0 && hours <= max_hours && best.as_ref().is_none_or(|b| hours > b.hours) {
            best = Some(StatedOutage { hours, phrase });
        }
    };
    let t = |i: usize| toks.get(i).copied();
    for i in 0..toks.len() {
        let tok = toks[i];
        if tok == "since" {
            let (hours, words) = match (t(i + 1), t(i + 2)) {
                (Some("yesterday"), _) => (24, 1),
                (Some("last"), Some("night")) => (12, 2),
                (Some("last"), Some("week")) => (168, 2),
                (Some("the"), Some("weekend")) => (48, 2),
                (Some("weekend"), _) => (48, 1),
                _ => continue,
            };
            consider(hours, toks[i..=i + words].join(" "));
            continue;
        }
        let n = if tok.bytes().all(|b| b.is_ascii_digit()) {
            if tok.len() > 5 {
                continue;
            }
            tok.parse::<u32>().ok()
        } else {
            number_word(tok)
        };
        let Some(n) = n else { continue };
        // Frequencies and prices: "twice a day", "3 times a week", "every 2
        // hours", "5 a week", "£5 per week", "2 hours a day".
        if i > 0 {
            let prev = toks[i - 1];
            if matches!(
                prev,
                "once" | "twice" | "times" | "per" | "every" | "each" | "x"
            ) || prev.bytes().all(|b| b.is_ascii_digit())
                || unit_hours(prev).is_some()
            {
                continue;
            }
        }
        let mut j = i + 1;
        while matches!(
            t(j),
            Some("of" | "more" | "whole" | "full" | "entire" | "straight")
        ) && j < i + 3
        {
            j += 1;
        }
        let Some(unit) = t(j).and_then(unit_hours) else {
            continue;
        };
        if matches!(t(j + 1), Some("a" | "per")) {
            // "2 hours a day": a frequency, not a length.
            continue;
        }
        consider(n.saturating_mul(unit), toks[i..=j].join(" "));
    }
    best
}

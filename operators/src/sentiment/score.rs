//! `polarity_scores(text)`: the VADER pipeline of [`super::vader`], with
//! the telco layer of [`super::telco`] hooked in where it applies (emoji
//! kept as tokens, phrases fixed before the valences, sarcasm after).
//!
//! It sits above both so that they do not depend on each other in a
//! circle: `telco` builds on the VADER rules (`vader` knows nothing of
//! `telco`), and this module drives the two.

use super::lexicon::{emoji_table, is_py_space, word, WordTable};
use super::telco::CompiledTelco;
use super::vader::{but_check, score_valence, sentiment_valence, Polarity, Scratch};

/// Step 1 of `polarity_scores`: replace each emoji code point by its description.
/// In telco mode, emoji the telco layer scores itself are kept as tokens of their own.
fn translate_emoji(text: &str, telco: Option<&CompiledTelco>, out: &mut String) {
    let emoji = emoji_table();
    out.clear();
    out.reserve(text.len() + 32);
    let mut prev_space = true;
    for c in text.chars() {
        if let Some(t) = telco {
            if t.is_emoji_token(c) {
                if !prev_space {
                    out.push(' ');
                }
                out.push(c);
                out.push(' ');
                prev_space = true;
                continue;
            }
        }
        if let Some(desc) = emoji.get(c) {
            if !prev_space {
                out.push(' ');
            }
            out.push_str(desc);
            prev_space = false;
        } else {
            out.push(c);
            prev_space = c == ' ';
        }
    }
}

/// `polarity_scores(text)`, with the telco layer when `telco` is given.
pub(crate) fn polarity(
    words: &WordTable,
    telco: Option<&CompiledTelco>,
    text: &str,
    s: &mut Scratch,
) -> Polarity {
    let mut buf = std::mem::take(&mut s.text);
    let (translated, ascii): (&str, bool) = if text.is_ascii() {
        (text, true)
    } else {
        translate_emoji(text, telco, &mut buf);
        (&buf, buf.is_ascii())
    };
    let text = if ascii {
        translated.trim_matches(|c: char| c.is_ascii() && is_py_space(c))
    } else {
        translated.trim_matches(is_py_space)
    };
    s.tokenize(words, text, ascii);

    let n = s.toks.len();
    let allcap = s.toks.iter().filter(|t| t.upper).count();
    let cap_differential = n - allcap;
    let is_cap_diff = 0 < cap_differential && cap_differential < n;

    if let Some(t) = telco {
        t.prepare(s, is_cap_diff);
    }

    let mut sent = std::mem::take(&mut s.sent);
    sent.clear();
    for i in 0..n {
        let t = &s.toks[i];
        let v = if let Some(f) = t.fixed {
            f
        } else if t.e.booster != 0.0
            || (i < n - 1 && t.e.word == word::KIND && s.toks[i + 1].e.word == word::OF)
        {
            0.0
        } else {
            sentiment_valence(s, i, is_cap_diff)
        };
        sent.push(v);
    }
    if let Some(t) = telco {
        t.apply_sarcasm(s, &mut sent);
        t.apply_complaint_prior(s, &mut sent);
    }
    but_check(&s.toks, &mut sent);
    let p = score_valence(&sent, text);
    s.sent = sent;
    s.text = buf;
    p
}

//! A line-by-line port of `SentimentIntensityAnalyzer.polarity_scores` from
//! vaderSentiment 3.3.2, quirks included (parity is the contract).
//!
//! The Python builds lists of lower-cased strings over and over; here each
//! token is lower-cased once into a scratch buffer and looked up once in the
//! word table, and every rule works on the resulting [`Tok`]s. Arithmetic is
//! done in `f64` in the same order as the Python so that results are
//! bit-identical, and rounding reproduces Python's `round()` (correctly
//! rounded, ties to even).
//!
//! Quirks of 3.3.2 that are reproduced on purpose:
//! * emoji are replaced by their description one code point at a time, with a
//!   space inserted before (not after) the description;
//! * a token whose punctuation-stripped form has ≤ 2 characters keeps its
//!   punctuation (`"no,"` is not the word `no`);
//! * lexicon keys keep their case, so `:D` never matches;
//! * the negation, booster and idiom checks for the word `k` places back only
//!   run when that word is *not* itself a lexicon word;
//! * the 3-back check multiplies by 1.25 whenever the word just before is
//!   `so`/`this` (operator precedence in the Python);
//! * a zero valence in ALL CAPS, or under a capitalised booster, moves
//!   negative;
//! * the "but" rule rescales the *first* sentiment equal to each value while
//!   mutating the list it iterates (`list.index` on floats).

use super::lexicon::{idioms, is_py_space, word, Entry, WordTable, C_INCR, F_NEGATE, N_SCALAR};

/// One token of `SentiText.words_and_emoticons`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tok {
    /// Byte range of the lower-cased token in [`Scratch::lower`].
    pub ls: u32,
    pub le: u32,
    /// `str.isupper()` of the token as written.
    pub upper: bool,
    /// `negated([token])`: in `NEGATE` or contains `n't`.
    pub neg: bool,
    /// Word-table entry of the lower-cased token.
    pub e: Entry,
    /// Telco layer: a valence fixed in advance (phrase end), if any.
    pub fixed: Option<f64>,
}

/// Reusable buffers for scoring; keep one per thread to score without allocating.
#[derive(Debug, Default)]
pub struct Scratch {
    pub(crate) text: String,
    pub(crate) lower: String,
    pub(crate) toks: Vec<Tok>,
    pub(crate) sent: Vec<f64>,
    /// Telco layer: token ranges `[a, b]` of sarcasm-pattern matches.
    pub(crate) sarcasm: Vec<(u32, u32)>,
    /// Telco layer: token ranges `[a, b]` and base valences of phrase matches.
    pub(crate) phrases: Vec<(u32, u32, f64)>,
}

/// Raw, unrounded-then-rounded VADER output, in `f64` like the Python.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Polarity {
    pub compound: f64,
    pub pos: f64,
    pub neu: f64,
    pub neg: f64,
}

/// Python's `round(x, ndigits)` for floats: the double nearest to the
/// correctly rounded (half-to-even on the exact binary value) decimal.
pub(crate) fn py_round(x: f64, ndigits: i32) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let p = 10f64.powi(ndigits);
    let ax = x.abs();
    let hi = ax * p;
    // Far from a tie the rounded product decides; only near .5 do we need
    // the exact product (`mul_add` may be a slow libm call without FMA).
    let frac = hi - hi.floor();
    if (frac - 0.5).abs() > 1e-6 && hi < 1e12 {
        let r = if frac > 0.5 {
            hi.floor() + 1.0
        } else {
            hi.floor()
        };
        return (r / p).copysign(x);
    }
    let lo = ax.mul_add(p, -hi); // ax * p == hi + lo exactly
    let mut fl = hi.floor();
    if hi == fl && lo < 0.0 {
        fl -= 1.0;
    }
    let d = (hi - fl) - 0.5;
    let up = if d != 0.0 {
        d > 0.0
    } else if lo != 0.0 {
        lo > 0.0
    } else {
        fl % 2.0 != 0.0
    };
    let r = if up { fl + 1.0 } else { fl };
    (r / p).copysign(x)
}

/// VADER's `normalize` with alpha = 15.
#[inline]
pub(crate) fn normalize(score: f64) -> f64 {
    let n = score / (score * score + 15.0).sqrt();
    n.clamp(-1.0, 1.0)
}

/// Unicode titlecase letters (general category Lt), for Python's `isupper`.
fn is_titlecase(c: char) -> bool {
    matches!(c as u32,
        0x01C5 | 0x01C8 | 0x01CB | 0x01F2 | 0x1F88..=0x1F8F | 0x1F98..=0x1F9F
        | 0x1FA8..=0x1FAF | 0x1FBC | 0x1FCC | 0x1FFC)
}

/// Python's `str.isupper()`.
pub(crate) fn py_isupper(s: &str) -> bool {
    let mut cased = false;
    for c in s.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        } else if !cased && c.is_uppercase() {
            cased = true;
        }
    }
    cased
}

/// Longest word-table key we look up (longer tokens cannot be keys: the
/// lexicon's longest key has 19 bytes; telco keys longer than this are
/// rejected when the rules are compiled).
pub(crate) const MAX_KEY_LEN: usize = 48;

/// `"n't" in word`.
#[inline]
fn contains_nt(w: &[u8]) -> bool {
    w.len() >= 3 && w.windows(3).any(|x| x == b"n't")
}

/// Python's whitespace for ASCII bytes (`\t\n\v\f\r`, 0x1c-0x1f, space).
#[inline]
fn is_py_space_byte(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=0x1f | b' ')
}

impl Scratch {
    #[inline]
    pub(crate) fn lw(&self, i: usize) -> &str {
        let t = &self.toks[i];
        &self.lower[t.ls as usize..t.le as usize]
    }

    /// `_strip_punc_if_word`, lower-casing and lookup of one raw token.
    #[inline]
    fn push_token(&mut self, words: &WordTable, raw: &str, ascii: bool) {
        // ASCII punctuation is one byte, so stripping can work on bytes.
        let b = raw.as_bytes();
        let (mut lo, mut hi) = (0, b.len());
        while lo < hi && b[lo].is_ascii_punctuation() {
            lo += 1;
        }
        while hi > lo && b[hi - 1].is_ascii_punctuation() {
            hi -= 1;
        }
        let stripped = &raw[lo..hi];
        let short = if ascii || stripped.is_ascii() {
            stripped.len() <= 2
        } else {
            stripped.chars().nth(2).is_none()
        };
        let tok = if short { raw } else { stripped };
        let ls = self.lower.len();
        let upper;
        if ascii || tok.is_ascii() {
            let tb = tok.as_bytes();
            let has_upper = tb.iter().any(u8::is_ascii_uppercase);
            let has_lower = tb.iter().any(u8::is_ascii_lowercase);
            // SAFETY: pushing ASCII bytes keeps the String valid UTF-8.
            let v = unsafe { self.lower.as_mut_vec() };
            v.extend(tb.iter().map(u8::to_ascii_lowercase));
            upper = has_upper && !has_lower;
        } else {
            upper = py_isupper(tok);
            self.lower.push_str(&tok.to_lowercase());
        }
        let le = self.lower.len();
        let lowered = &self.lower[ls..le];
        let e = if lowered.len() <= MAX_KEY_LEN {
            words.get(lowered).unwrap_or_default()
        } else {
            Entry::default()
        };
        let neg = e.flags & F_NEGATE != 0 || contains_nt(lowered.as_bytes());
        self.toks.push(Tok {
            ls: ls as u32,
            le: le as u32,
            upper,
            neg,
            e,
            fixed: None,
        });
    }

    /// `SentiText(text).words_and_emoticons`.
    pub(super) fn tokenize(&mut self, words: &WordTable, text: &str, ascii: bool) {
        self.toks.clear();
        self.lower.clear();
        if ascii {
            for raw in text
                .as_bytes()
                .split(|&b| is_py_space_byte(b))
                .filter(|w| !w.is_empty())
            {
                // SAFETY: an ASCII text split on ASCII bytes gives ASCII slices.
                let raw = unsafe { std::str::from_utf8_unchecked(raw) };
                self.push_token(words, raw, true);
            }
        } else {
            for raw in text.split(is_py_space).filter(|w| !w.is_empty()) {
                self.push_token(words, raw, false);
            }
        }
    }
}

/// `scalar_inc_dec`.
#[inline]
fn scalar_inc_dec(t: &Tok, valence: f64, is_cap_diff: bool) -> f64 {
    let mut scalar = 0.0;
    if t.e.booster != 0.0 {
        scalar = t.e.booster;
        if valence < 0.0 {
            scalar *= -1.0;
        }
        if t.upper && is_cap_diff {
            if valence > 0.0 {
                scalar += C_INCR;
            } else {
                scalar -= C_INCR;
            }
        }
    }
    scalar
}

/// `_negation_check`.
#[inline]
fn negation_check(mut v: f64, toks: &[Tok], start_i: usize, i: usize) -> f64 {
    let w = |k: usize| toks[k].e.word;
    let so_this = |k: usize| matches!(toks[k].e.word, word::SO | word::THIS);
    match start_i {
        0 => {
            if toks[i - 1].neg {
                v *= N_SCALAR;
            }
        }
        1 => {
            if w(i - 2) == word::NEVER && so_this(i - 1) {
                v *= 1.25;
            } else if w(i - 2) == word::WITHOUT && w(i - 1) == word::DOUBT {
            } else if toks[i - 2].neg {
                v *= N_SCALAR;
            }
        }
        _ => {
            if (w(i - 3) == word::NEVER && so_this(i - 2)) || so_this(i - 1) {
                v *= 1.25;
            } else if w(i - 3) == word::WITHOUT
                && (w(i - 2) == word::DOUBT || w(i - 1) == word::DOUBT)
            {
            } else if toks[i - 3].neg {
                v *= N_SCALAR;
            }
        }
    }
    v
}

/// The `SPECIAL_CASES` value of the token sequence `idx`, if it is one.
#[inline]
fn special_case(toks: &[Tok], idx: &[usize]) -> Option<f64> {
    idioms()
        .special
        .iter()
        .find(|(ids, _)| {
            ids.len() == idx.len() && ids.iter().zip(idx).all(|(&id, &k)| toks[k].e.idiom == id)
        })
        .map(|&(_, v)| v)
}

/// `_special_idioms_check` (only called with `i >= 3`).
fn special_idioms_check(mut v: f64, toks: &[Tok], i: usize) -> f64 {
    let n = toks.len();
    let hi = (i + 2).min(n - 1);
    // Every sequence compared below lies in i-3 ..= i+2 and needs at least
    // two idiom words (SPECIAL_CASES keys and multi-word boosters).
    if toks[i - 3..=hi].iter().filter(|t| t.e.idiom != 0).count() < 2 {
        return v;
    }
    let onezero = [i - 1, i];
    let twoonezero = [i - 2, i - 1, i];
    let twoone = [i - 2, i - 1];
    let threetwoone = [i - 3, i - 2, i - 1];
    let threetwo = [i - 3, i - 2];
    for seq in [
        &onezero[..],
        &twoonezero[..],
        &twoone[..],
        &threetwoone[..],
        &threetwo[..],
    ] {
        if let Some(x) = special_case(toks, seq) {
            v = x;
            break;
        }
    }
    if n - 1 > i {
        if let Some(x) = special_case(toks, &[i, i + 1]) {
            v = x;
        }
    }
    if n - 1 > i + 1 {
        if let Some(x) = special_case(toks, &[i, i + 1, i + 2]) {
            v = x;
        }
    }
    // Booster bi-grams ("kind of", "sort of", "just enough"); a 3-gram never matches.
    for (a, b) in [(i - 3, i - 2), (i - 2, i - 1)] {
        let pair = [toks[a].e.idiom, toks[b].e.idiom];
        if let Some(&(_, x)) = idioms().bigrams.iter().find(|(ids, _)| *ids == pair) {
            v += x;
        }
    }
    v
}

/// `_least_check`.
#[inline]
fn least_check(mut v: f64, toks: &[Tok], i: usize) -> f64 {
    if i > 1 && !toks[i - 1].e.in_lex() && toks[i - 1].e.word == word::LEAST {
        if toks[i - 2].e.word != word::AT && toks[i - 2].e.word != word::VERY {
            v *= N_SCALAR;
        }
    } else if i > 0 && !toks[i - 1].e.in_lex() && toks[i - 1].e.word == word::LEAST {
        v *= N_SCALAR;
    }
    v
}

/// The modifier scan of `sentiment_valence` (boosters, negation, "never so",
/// idioms when `idioms`) and `_least_check`, for a valence anchored at `i`.
#[inline]
pub(crate) fn apply_modifiers(
    mut v: f64,
    s: &Scratch,
    i: usize,
    is_cap_diff: bool,
    idioms: bool,
) -> f64 {
    let toks = &s.toks[..];
    for start_i in 0..3 {
        if i > start_i && !toks[i - (start_i + 1)].e.in_lex() {
            let mut sc = scalar_inc_dec(&toks[i - (start_i + 1)], v, is_cap_diff);
            if start_i == 1 && sc != 0.0 {
                sc *= 0.95;
            }
            if start_i == 2 && sc != 0.0 {
                sc *= 0.9;
            }
            v += sc;
            v = negation_check(v, toks, start_i, i);
            if start_i == 2 && idioms {
                v = special_idioms_check(v, toks, i);
            }
        }
    }
    least_check(v, toks, i)
}

/// `sentiment_valence` for token `i`.
#[inline]
pub(super) fn sentiment_valence(s: &Scratch, i: usize, is_cap_diff: bool) -> f64 {
    let toks = &s.toks[..];
    let t = &toks[i];
    if !t.e.in_lex() {
        return 0.0;
    }
    let lex = t.e.valence;
    let mut v = lex;
    let n = toks.len();
    if t.e.word == word::NO && i != n - 1 && toks[i + 1].e.in_lex() {
        v = 0.0;
    }
    if (i > 0 && toks[i - 1].e.word == word::NO)
        || (i > 1 && toks[i - 2].e.word == word::NO)
        || (i > 2
            && toks[i - 3].e.word == word::NO
            && matches!(toks[i - 1].e.word, word::OR | word::NOR))
    {
        v = lex * N_SCALAR;
    }
    if t.upper && is_cap_diff {
        if v > 0.0 {
            v += C_INCR;
        } else {
            v -= C_INCR;
        }
    }
    apply_modifiers(v, s, i, is_cap_diff, true)
}

/// `_but_check`, including its `list.index` behaviour.
pub(super) fn but_check(toks: &[Tok], sent: &mut [f64]) {
    let Some(bi) = toks.iter().position(|t| t.e.word == word::BUT) else {
        return;
    };
    for k in 0..sent.len() {
        let v = sent[k];
        let si = sent[..=k].iter().position(|&x| x == v).unwrap_or(k);
        if si < bi {
            sent[si] = v * 0.5;
        } else if si > bi {
            sent[si] = v * 1.5;
        }
    }
}

/// `score_valence` (unrounded compound and proportions, then rounded).
pub(super) fn score_valence(sent: &[f64], text: &str) -> Polarity {
    if sent.is_empty() {
        return Polarity {
            compound: 0.0,
            pos: 0.0,
            neu: 0.0,
            neg: 0.0,
        };
    }
    let mut sum_s = 0.0f64;
    for &x in sent {
        sum_s += x;
    }
    let (mut ep, mut qm) = (0usize, 0usize);
    for &b in text.as_bytes() {
        ep += (b == b'!') as usize;
        qm += (b == b'?') as usize;
    }
    let ep_amp = ep.min(4) as f64 * 0.292;
    let qm_amp = if qm > 1 {
        if qm <= 3 {
            qm as f64 * 0.18
        } else {
            0.96
        }
    } else {
        0.0
    };
    let amp = ep_amp + qm_amp;
    if sum_s > 0.0 {
        sum_s += amp;
    } else if sum_s < 0.0 {
        sum_s -= amp;
    }
    let compound = normalize(sum_s);
    let (mut pos_sum, mut neg_sum, mut neu_count) = (0.0f64, 0.0f64, 0usize);
    for &x in sent {
        if x > 0.0 {
            pos_sum += x + 1.0;
        }
        if x < 0.0 {
            neg_sum += x - 1.0;
        }
        if x == 0.0 {
            neu_count += 1;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += amp;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= amp;
    }
    let total = pos_sum + neg_sum.abs() + neu_count as f64;
    Polarity {
        compound: py_round(compound, 4),
        pos: py_round((pos_sum / total).abs(), 3),
        neu: py_round((neu_count as f64 / total).abs(), 3),
        neg: py_round((neg_sum / total).abs(), 3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentiment_py_round_matches_python() {
        // Values checked against CPython 3.11 `round`.
        assert_eq!(py_round(0.0625, 3), 0.062);
        assert_eq!(py_round(0.9375, 3), 0.938);
        assert_eq!(py_round(2.675, 2), 2.67);
        assert_eq!(py_round(0.03125, 4), 0.0312);
        assert_eq!(py_round(-0.12345, 4), -0.1235);
        assert_eq!(py_round(0.5, 0), 0.0);
        assert_eq!(py_round(1.5, 0), 2.0);
        assert_eq!(py_round(0.4588, 4), 0.4588);
    }

    #[test]
    fn sentiment_py_isupper() {
        assert!(py_isupper("GREAT"));
        assert!(py_isupper("A1!"));
        assert!(!py_isupper("Great"));
        assert!(!py_isupper("123"));
        assert!(py_isupper("ÉTÉ"));
        assert!(!py_isupper("ǅ"));
    }
}

//! Language operator: the source's language when it gives one, otherwise
//! detected with [`whatlang`] (trigram models, no network, no model files).
//!
//! Rules, in order:
//! 1. A language code given by the source (`lang` column) is trusted after
//!    normalisation: lower case, primary subtag only (`en-GB` → `en`), legacy
//!    codes mapped (`in` → `id`, `iw` → `he`, `ji` → `yi`), ISO 639-3 codes
//!    that whatlang knows mapped to ISO 639-1 (`cym` → `cy`). Twitter's
//!    non-language codes (`und`, `zxx`, `qme`, `qht`, `qam`, `qct`, `qst`,
//!    `mul`) and empty strings count as "not given".
//! 2. Otherwise, if `detect_when_missing`, the text is cleaned (handles,
//!    hashtags, links and digits removed) and, when at least `min_letters`
//!    letters are left, passed to whatlang restricted to `candidate_langs`.
//!    A detection with confidence ≥ `min_confidence` gives the language
//!    (ISO 639-1).
//! 3. Everything else is `und` (undetermined): too short ("lol", "??",
//!    emoji), unsure, or detection switched off.
//!
//! **Undetermined texts are scored as `default_lang`** (`is_english` is
//! true for them when `default_lang` is `en`): for a UK care desk a short
//! text such as "@EE ??" is far more likely English than not, and flagging
//! it as foreign would only hide it from the English scorers. The
//! `language` column still says `und`, so nothing is claimed that was not
//! found. A text whose language is known and is not English gets
//! `is_english = false`: downstream scorers score what they can (the
//! category phrases, the account, the CRM context) and flag it.
//!
//! Batch API: `Operator::process_batch` reads
//! [`col::TEXT`] and (if present) [`col::LANG`],
//! and appends [`col::LANGUAGE`], [`col::IS_ENGLISH`], [`col::LANGUAGE_SOURCE`].

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use whatlang::{Detector, Lang};

use crate::columns::{append_columns, StrColumn};
use crate::error::{OperatorError, Result};
use crate::operator::{names, Operator};
use crate::schema::col;

/// Language settings (the `[language]` config section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LanguageConfig {
    /// Language assumed for scoring when the language is undetermined
    /// (ISO 639-1); decides `is_english` for `und` texts.
    pub default_lang: String,
    /// Detections with a whatlang confidence below this (0.0–1.0) are undetermined.
    pub min_confidence: f64,
    /// Detect the language when the source does not give one.
    pub detect_when_missing: bool,
    /// Texts with fewer letters than this, after removing handles, hashtags,
    /// links and digits, are undetermined without running detection.
    pub min_letters: usize,
    /// Languages detection may choose from (ISO 639-1 or 639-3 codes);
    /// empty means every language whatlang knows (about 70).
    pub candidate_langs: Vec<String>,
    /// Latin-script languages detection may choose from (ISO 639-1 or 639-3
    /// codes), on top of `candidate_langs`; languages of other scripts are
    /// not affected. Empty means all 37 Latin-script languages whatlang
    /// knows. The default is [`DEFAULT_LATIN_LANGS`]: the Latin-script
    /// languages most written in the UK. Scoring a text against every
    /// Latin-script model was a third of the enrichment workers' CPU, and on
    /// tweet-length text the extra candidates mostly produce misreads.
    pub latin_langs: Vec<String>,
    /// Take a Latin-script text as English when at least two of its words,
    /// and at least a fifth of them, are common English function words
    /// ("the", "my", "have", "since", …). Trigram models are unsure on
    /// tweet-length text; this prior fixes most English misreads.
    pub english_prior: bool,
}

impl Default for LanguageConfig {
    fn default() -> Self {
        Self {
            default_lang: "en".into(),
            min_confidence: 0.3,
            detect_when_missing: true,
            min_letters: 10,
            candidate_langs: Vec::new(),
            latin_langs: DEFAULT_LATIN_LANGS.iter().map(|c| c.to_string()).collect(),
            english_prior: true,
        }
    }
}

/// The default `latin_langs`: English, Welsh, and the Latin-script
/// languages with the most speakers in England and Wales after English
/// (Polish, Romanian, Portuguese, Spanish, Italian, Lithuanian, French,
/// German, Turkish), plus Dutch and Tagalog.
pub const DEFAULT_LATIN_LANGS: &[&str] = &[
    "en", "cy", "pl", "ro", "pt", "es", "it", "lt", "fr", "de", "tr", "nl", "tl",
];

/// Where a verdict's language came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LangSource {
    /// The source gave it.
    Given,
    /// Detected from the text.
    Detected,
    /// Not given and not detectable: `und`.
    Undetermined,
}

impl LangSource {
    /// Label used in the `language_source` column and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            LangSource::Given => "given",
            LangSource::Detected => "detected",
            LangSource::Undetermined => "undetermined",
        }
    }
}

/// The language of one text.
#[derive(Debug, Clone, PartialEq)]
pub struct LangVerdict {
    /// ISO 639-1 code (or the source's normalised code), or `und`.
    pub lang: String,
    /// Where it came from.
    pub source: LangSource,
    /// English, or undetermined with an English `default_lang`.
    pub is_english: bool,
    /// Detection confidence (0.0–1.0); 1.0 when given, 0.0 when undetermined.
    pub confidence: f64,
}

/// The configured detector. Cheap to clone and share.
#[derive(Debug, Clone)]
pub struct LanguageDetector {
    detector: Arc<Detector>,
    default_is_english: bool,
    min_confidence: f64,
    detect_when_missing: bool,
    min_letters: usize,
    english_prior: bool,
}

/// Language code used when the language is undetermined.
pub const UNDETERMINED: &str = "und";

/// ISO 639-1 code of a whatlang language.
pub fn iso639_1(lang: Lang) -> &'static str {
    use Lang::*;
    match lang {
        Epo => "eo",
        Eng => "en",
        Rus => "ru",
        Cmn => "zh",
        Spa => "es",
        Por => "pt",
        Ita => "it",
        Ben => "bn",
        Fra => "fr",
        Deu => "de",
        Ukr => "uk",
        Kat => "ka",
        Ara => "ar",
        Hin => "hi",
        Jpn => "ja",
        Heb => "he",
        Yid => "yi",
        Pol => "pl",
        Amh => "am",
        Jav => "jv",
        Kor => "ko",
        Nob => "nb",
        Dan => "da",
        Swe => "sv",
        Fin => "fi",
        Tur => "tr",
        Nld => "nl",
        Hun => "hu",
        Ces => "cs",
        Ell => "el",
        Bul => "bg",
        Bel => "be",
        Mar => "mr",
        Kan => "kn",
        Ron => "ro",
        Slv => "sl",
        Hrv => "hr",
        Srp => "sr",
        Mkd => "mk",
        Lit => "lt",
        Lav => "lv",
        Est => "et",
        Tam => "ta",
        Vie => "vi",
        Urd => "ur",
        Tha => "th",
        Guj => "gu",
        Uzb => "uz",
        Pan => "pa",
        Aze => "az",
        Ind => "id",
        Tel => "te",
        Pes => "fa",
        Mal => "ml",
        Ori => "or",
        Mya => "my",
        Nep => "ne",
        Sin => "si",
        Khm => "km",
        Tuk => "tk",
        Aka => "ak",
        Zul => "zu",
        Sna => "sn",
        Afr => "af",
        Lat => "la",
        Slk => "sk",
        Cat => "ca",
        Tgl => "tl",
        Hye => "hy",
        Cym => "cy",
    }
}

/// The whatlang language for an ISO 639-1 or 639-3 code.
fn lang_from_code(code: &str) -> Option<Lang> {
    let code = code.trim().to_ascii_lowercase();
    Lang::from_code(code.as_str())
        .or_else(|| Lang::all().iter().copied().find(|l| iso639_1(*l) == code))
}

/// Normalises a source-given code; `None` when it names no language.
fn normalise_given(code: &str) -> Option<Cow<'_, str>> {
    let primary = code.trim().split(['-', '_']).next().unwrap_or("");
    if primary.is_empty() || primary.len() > 8 || !primary.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return None;
    }
    let lower: Cow<'_, str> = if primary.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(primary.to_ascii_lowercase())
    } else {
        Cow::Borrowed(primary)
    };
    Some(match lower.as_ref() {
        "und" | "zxx" | "mul" | "mis" | "qme" | "qht" | "qam" | "qct" | "qst" | "xx" => {
            return None
        }
        "in" => Cow::Borrowed("id"),
        "iw" => Cow::Borrowed("he"),
        "ji" => Cow::Borrowed("yi"),
        "jw" => Cow::Borrowed("jv"),
        c if c.len() == 3 => match Lang::from_code(c) {
            Some(l) => Cow::Borrowed(iso639_1(l)),
            None => lower,
        },
        _ => lower,
    })
}

impl LanguageDetector {
    /// Builds the detector; errors name the offending key.
    pub fn new(config: &LanguageConfig) -> Result<Self> {
        let bad = |key: &str, reason: String| OperatorError::Config {
            key: format!("language.{key}"),
            reason,
        };
        if !(0.0..=1.0).contains(&config.min_confidence) {
            return Err(bad("min_confidence", "must be between 0.0 and 1.0".into()));
        }
        let default = normalise_given(&config.default_lang).ok_or_else(|| {
            bad(
                "default_lang",
                format!("`{}` is not a language code", config.default_lang),
            )
        })?;
        let codes = |key: &str, list: &[String]| -> Result<Vec<Lang>> {
            list.iter()
                .enumerate()
                .map(|(i, code)| {
                    lang_from_code(code).ok_or_else(|| {
                        bad(
                            &format!("{key}[{i}]"),
                            format!("unknown or unsupported language `{code}`"),
                        )
                    })
                })
                .collect()
        };
        let candidates = codes("candidate_langs", &config.candidate_langs)?;
        let latin = codes("latin_langs", &config.latin_langs)?;
        let latin_script = whatlang::Script::Latin.langs();
        if let Some(i) = latin.iter().position(|l| !latin_script.contains(l)) {
            return Err(bad(
                &format!("latin_langs[{i}]"),
                format!(
                    "`{}` is not written in the Latin script",
                    config.latin_langs[i]
                ),
            ));
        }
        let allowed: Vec<Lang> = Lang::all()
            .iter()
            .copied()
            .filter(|l| candidates.is_empty() || candidates.contains(l))
            .filter(|l| latin.is_empty() || !latin_script.contains(l) || latin.contains(l))
            .collect();
        let detector = if allowed.len() == Lang::all().len() {
            Detector::new()
        } else {
            Detector::with_allowlist(allowed)
        };
        Ok(Self {
            detector: Arc::new(detector),
            default_is_english: default == "en",
            min_confidence: config.min_confidence,
            detect_when_missing: config.detect_when_missing,
            min_letters: config.min_letters,
            english_prior: config.english_prior,
        })
    }

    /// The language of one text, given the source's code if any.
    pub fn detect(&self, text: &str, source_lang: Option<&str>) -> LangVerdict {
        let mut buf = String::new();
        let (lang, source, confidence) = self.resolve(text, source_lang, &mut buf);
        LangVerdict {
            is_english: self.is_english(&lang),
            lang: lang.into_owned(),
            source,
            confidence,
        }
    }

    fn is_english(&self, lang: &str) -> bool {
        lang == "en" || (lang == UNDETERMINED && self.default_is_english)
    }

    /// Core of [`detect`](Self::detect); `buf` is scratch space for the cleaned text.
    fn resolve<'a>(
        &self,
        text: &str,
        source_lang: Option<&'a str>,
        buf: &mut String,
    ) -> (Cow<'a, str>, LangSource, f64) {
        if let Some(code) = source_lang.and_then(normalise_given) {
            return (code, LangSource::Given, 1.0);
        }
        let undetermined = (Cow::Borrowed(UNDETERMINED), LangSource::Undetermined, 0.0);
        if !self.detect_when_missing {
            return undetermined;
        }
        let letters = clean_for_detection(text, buf);
        if letters < self.min_letters.max(1) {
            return undetermined;
        }
        // The English prior first: it decides most UK traffic without
        // running the trigram models (same verdicts as checking it after a
        // non-English or unsure detection, since a confident English
        // detection also yields `en`).
        if self.english_prior && whatlang::detect_script(buf) == Some(whatlang::Script::Latin) {
            let (markers, words) = english_markers(buf);
            if markers >= 2 && markers * 5 >= words {
                return (
                    Cow::Borrowed("en"),
                    LangSource::Detected,
                    (markers as f64 / words as f64).min(1.0),
                );
            }
        }
        let Some(info) = self.detector.detect(buf) else {
            return undetermined;
        };
        if info.script() != whatlang::Script::Latin {
            // The script alone says "not English"; the language within the
            // script is whatlang's best guess even when it is unsure.
            return (
                Cow::Borrowed(iso639_1(info.lang())),
                LangSource::Detected,
                info.confidence(),
            );
        }
        if info.confidence() >= self.min_confidence {
            (
                Cow::Borrowed(iso639_1(info.lang())),
                LangSource::Detected,
                info.confidence(),
            )
        } else {
            undetermined
        }
    }
}

/// Frequent English words that are not also frequent words of the other
/// Latin-script languages common in the UK (so no "a", "i", "in", "is",
/// "me", "no", "on", "to", "was", "we", "will", "do", "so").
const ENGLISH_MARKERS: &[&str] = &[
    "the", "my", "and", "you", "your", "for", "since", "it", "of", "have", "has", "had", "been",
    "this", "that", "why", "what", "when", "how", "can", "please", "not", "with", "at", "again",
    "still", "just", "don't", "dont", "can't", "cant", "i'm", "im", "it's", "are", "any", "get",
    "getting", "got", "our", "from", "all", "today", "now", "they", "them", "their", "be", "but",
    "there", "if", "yet", "every", "week", "days", "who", "would", "could", "should", "need",
    "because", "after", "about", "thanks", "thank", "i've", "i'll", "didn't", "doesn't", "isn't",
    "won't", "hasn't", "haven't", "wasn't", "you're", "we're", "going", "out", "up", "off", "work",
    "working", "than", "which", "where", "were", "some", "much", "very", "only", "like", "know",
    "into", "does", "did", "back", "way", "being", "one", "more", "time", "day", "help", "anyone",
    "someone", "nothing",
];

/// [`ENGLISH_MARKERS`] packed into little-endian `u64`s (every marker is
/// ASCII, at most 8 bytes and NUL-free), sorted for binary search.
fn packed_markers() -> &'static [u64] {
    static PACKED: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    PACKED.get_or_init(|| {
        let mut v: Vec<u64> = ENGLISH_MARKERS
            .iter()
            .map(|m| {
                let mut b = [0u8; 8];
                b[..m.len()].copy_from_slice(m.as_bytes());
                u64::from_le_bytes(b)
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    })
}

/// Whether a word (at most 8 bytes) is an English marker: ASCII
/// case-insensitively, with `’` read as `'` (the same verdict as comparing
/// with `eq_ignore_ascii_case` against every marker, without the scan).
#[inline]
fn is_english_marker(w: &str, packed: &[u64]) -> bool {
    let b = w.as_bytes();
    let mut out = [0u8; 8];
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        let c = b[i];
        if c.is_ascii() {
            out[n] = c.to_ascii_lowercase();
            i += 1;
        } else if b[i..].starts_with("\u{2019}".as_bytes()) {
            out[n] = b'\'';
            i += 3;
        } else {
            // Markers are ASCII: any other non-ASCII character cannot match.
            return false;
        }
        n += 1;
    }
    packed.binary_search(&u64::from_le_bytes(out)).is_ok()
}

/// Counts (English marker words, all words) in a cleaned text.
fn english_markers(clean: &str) -> (usize, usize) {
    let packed = packed_markers();
    let (mut markers, mut words) = (0, 0);
    for w in clean
        .split(|c: char| !(c.is_alphabetic() || c == '\'' || c == '\u{2019}'))
        .filter(|w| !w.is_empty())
    {
        words += 1;
        if w.len() <= 8 && is_english_marker(w, packed) {
            markers += 1;
        }
    }
    (markers, words)
}

/// Copies `text` into `buf` without @handles, #hashtags, links and digits;
/// returns the number of letters kept.
fn clean_for_detection(text: &str, buf: &mut String) -> usize {
    buf.clear();
    let mut letters = 0;
    for word in text.split_whitespace() {
        if word.starts_with(['@', '#']) || word.starts_with("http") || word.starts_with("www.") {
            continue;
        }
        let mut any = false;
        for c in word.chars() {
            if c.is_alphabetic() {
                letters += 1;
                if !any && !buf.is_empty() {
                    buf.push(' ');
                }
                any = true;
                buf.push(c);
            } else if any && !c.is_numeric() {
                buf.push(c);
            }
        }
    }
    letters
}

#[cfg(test)]
mod whatlang_golden;

#[cfg(test)]
mod tests;

impl LanguageConfig {
    /// Validates the settings and builds the detector.
    pub fn build(&self) -> Result<LanguageDetector> {
        LanguageDetector::new(self)
    }

    /// Checks the settings (by building the detector).
    pub fn validate(&self) -> Result<()> {
        self.build().map(drop)
    }
}

impl Operator for LanguageDetector {
    fn name(&self) -> &'static str {
        names::LANGUAGE
    }

    /// Appends [`col::LANGUAGE`], [`col::IS_ENGLISH`] and [`col::LANGUAGE_SOURCE`]
    /// to a batch with a `text` column (and optionally `lang`). Existing columns
    /// of the same names are replaced.
    fn process_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let text = StrColumn::get(batch, col::TEXT)?;
        let given = StrColumn::opt(batch, col::LANG)?;
        let n = batch.num_rows();
        let mut lang_b = StringBuilder::with_capacity(n, n * 2);
        let mut eng_b = BooleanBuilder::with_capacity(n);
        let mut src_b = StringBuilder::with_capacity(n, n * 8);
        let mut buf = String::with_capacity(320);
        for i in 0..n {
            let source_lang = given.as_ref().and_then(|g| g.value(i));
            let (lang, source, _) =
                self.resolve(text.value(i).unwrap_or(""), source_lang, &mut buf);
            eng_b.append_value(self.is_english(&lang));
            lang_b.append_value(lang);
            src_b.append_value(source.as_str());
        }
        append_columns(
            batch,
            vec![
                (
                    Field::new(col::LANGUAGE, DataType::Utf8, false),
                    Arc::new(lang_b.finish()) as ArrayRef,
                ),
                (
                    Field::new(col::IS_ENGLISH, DataType::Boolean, false),
                    Arc::new(eng_b.finish()) as ArrayRef,
                ),
                (
                    Field::new(col::LANGUAGE_SOURCE, DataType::Utf8, false),
                    Arc::new(src_b.finish()) as ArrayRef,
                ),
            ],
        )
    }
}

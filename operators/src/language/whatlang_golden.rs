//! Golden check of the trigram detector (`vendor/whatlang`, see
//! docs/decisions.md "Language detection: whatlang's trigram distance from
//! an inverted index").
//!
//! `tests/fixtures/whatlang_golden.txt` holds, for every text of a fixed
//! corpus, what whatlang 0.18.0 *as published on crates.io* answered: the
//! language and the confidence (shortest round-trip `f64`), from the
//! configured detector (13 Latin-script languages, every other script) and
//! from the unrestricted one. The vendored copy computes the trigram
//! distances another way; this test says its answers are the same, bit for
//! bit, on that corpus.
//!
//! Regenerate (only with the published crate, i.e. with the `[patch]` entry
//! of the workspace `Cargo.toml` removed) with
//! `SWITCHBOARD_BLESS_WHATLANG=1 cargo test -p switchboard-operators whatlang_golden`:
//! the run writes the file and then fails on purpose, so that a bless can
//! never pass as a test run.
//!
//! Ties between languages are ordered by `sort_unstable`, so a new Rust
//! release could in principle reorder an exact tie and change an answer
//! with no change to the patch; the file was recorded with Rust 1.95 (then
//! re-record it from the published crate and compare).

use std::fmt::Write as _;

use whatlang::Detector;

use super::{LanguageConfig, LanguageDetector};

const GOLDEN: &str = "tests/fixtures/whatlang_golden.txt";

/// Words of several languages and scripts the synthetic texts are made of.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    // English and telco English
    "the", "broadband", "is", "down", "again", "no", "signal", "since", "yesterday", "engineer",
    "never", "turned", "up", "bill", "router", "thanks", "a", "lot", "internet", "wifi",
    // Welsh
    "dim", "band", "eang", "ers", "diwrnod", "mae'r", "rhyngrwyd", "lawr", "diolch", "fawr",
    // Polish
    "nie", "mam", "internetu", "od", "dni", "dlaczego", "mój", "rachunek", "wzrósł", "awaria",
    // Spanish, Portuguese, Italian, French, Romanian
    "llevo", "días", "sin", "señal", "avería", "estou", "há", "vergonha", "sono", "senza",
    "giorni", "nessuno", "toujours", "pas", "après", "jours", "zile", "vă", "rog", "ajutați-mă",
    // German, Dutch, Turkish, Lithuanian, Tagalog, Swedish, Czech
    "kein", "seit", "tagen", "störung", "geen", "sinds", "dagen", "yok", "gündür", "neturiu",
    "interneto", "dienų", "walang", "araw", "ingen", "sedan", "dagar", "nemám", "už", "dní",
    // Cyrillic, Arabic, Urdu, Hebrew, Devanagari, Gurmukhi, Greek, CJK
    "нет", "интернета", "уже", "дня", "немає", "зв'язку", "الإنترنت", "مقطوع", "منذ", "أيام",
    "میرا", "انٹرنیٹ", "بند", "אין", "אינטרנט", "כבר", "मेरा", "इंटरनेट", "बंद", "ਮੇਰਾ",
    "ਇੰਟਰਨੈੱਟ", "δεν", "έχω", "ίντερνετ", "网络", "断了", "インターネット", "인터넷",
    // noise
    "@EE", "#outage", "https://t.co/AbC123xyZ9", "3", "72h", "!!", "??", "😡", "🙄", "👍", "£25",
];

/// Splitmix64: a fixed, dependency-free stream.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A word of [`WORDS`]' ten-word block `block` with odds
    /// `(one_in - 1) / one_in`, else any word.
    fn word(&mut self, block: usize, one_in: usize) -> &'static str {
        if block * 10 < WORDS.len() && self.below(one_in) != 0 {
            WORDS[(block * 10 + self.below(10)).min(WORDS.len() - 1)]
        } else {
            WORDS[self.below(WORDS.len())]
        }
    }
}

/// The corpus: every text of the committed text fixtures, 60 long texts
/// made of 10 to 187 consecutive fixture sentences, then 4,000 synthetic
/// texts (runs of words from one language family, mixtures of families,
/// case changes and repeated words, from 1 to 60 words), plus 200 long
/// synthetic texts (200 to 800 words).
fn corpus() -> Vec<String> {
    let mut out = Vec::new();
    for data in [
        include_str!("../../tests/fixtures/language_examples.jsonl"),
        include_str!("../../tests/fixtures/classify_examples.jsonl"),
        include_str!("../../tests/fixtures/spam_examples.jsonl"),
        include_str!("../../tests/fixtures/telco_labelled.jsonl"),
        include_str!("../../tests/fixtures/vader_parity.jsonl"),
    ] {
        for line in data.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            out.push(v["text"].as_str().unwrap().to_string());
        }
    }
    // Long texts (posts, emails): more than 300 and more than 600 distinct
    // trigrams, where text positions pass the profiles' 300 and the
    // 600-trigram cut applies. Runs of consecutive fixture sentences.
    let sentences = out.clone();
    for k in 0..60 {
        let (start, len) = (k * 97 % sentences.len(), 10 + k * 3);
        let mut text = String::new();
        for s in sentences.iter().cycle().skip(start).take(len) {
            text.push_str(s);
            text.push(' ');
        }
        out.push(text);
    }
    let mut rng = Mix(0x5717_C4B0_A4D0);
    for _ in 0..4000 {
        let words = 1 + rng.below(60);
        // Mostly one block of ten related words, sometimes anything.
        let block = rng.below(WORDS.len() / 10 + 1);
        let mut text = String::new();
        for _ in 0..words {
            let w = rng.word(block, 4);
            if !text.is_empty() {
                text.push(' ');
            }
            match rng.below(8) {
                0 => text.push_str(&w.to_uppercase()),
                1 => {
                    text.push_str(w);
                    text.push_str(w);
                }
                _ => text.push_str(w),
            }
        }
        out.push(text);
    }
    for _ in 0..200 {
        let words = 200 + rng.below(600);
        let block = rng.below(WORDS.len() / 10 + 1);
        let mut text = String::new();
        for _ in 0..words {
            let w = rng.word(block, 3);
            text.push_str(w);
            text.push(' ');
        }
        out.push(text);
    }
    out
}

/// One line per text: the configured detector's answer, then the
/// unrestricted detector's (`-` when there is none).
fn answers() -> String {
    let configured = LanguageDetector::new(&LanguageConfig::default()).unwrap();
    let every = Detector::new();
    let mut out = String::new();
    for text in corpus() {
        for d in [&*configured.detector, &every] {
            match d.detect(&text) {
                Some(info) => write!(out, "{} {} ", info.lang().code(), info.confidence()),
                None => write!(out, "- - "),
            }
            .unwrap();
        }
        out.pop();
        out.push('\n');
    }
    out
}

#[test]
fn whatlang_golden() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    let got = answers();
    if std::env::var_os("SWITCHBOARD_BLESS_WHATLANG").is_some() {
        std::fs::write(&path, &got).unwrap();
        panic!(
            "wrote {GOLDEN}; check that it was recorded with the published crate, \
             then run the test again without SWITCHBOARD_BLESS_WHATLANG"
        );
    }
    let want = std::fs::read_to_string(&path).unwrap();
    let texts = corpus();
    let (got, want): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    assert_eq!(got.len(), want.len(), "corpus size changed");
    let differ: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
    for &i in differ.iter().take(10) {
        println!(
            "text {i}: got `{}`, want `{}`: {:?}",
            got[i], want[i], texts[i]
        );
    }
    assert!(
        differ.is_empty(),
        "{} of {} texts answered differently from published whatlang 0.18.0",
        differ.len(),
        got.len()
    );
    // Not vacuous: the corpus reaches several scripts and languages.
    let langs: std::collections::BTreeSet<&str> =
        want.iter().flat_map(|l| l.split(' ').step_by(2)).collect();
    assert!(
        langs.len() >= 20,
        "only {} languages: {langs:?}",
        langs.len()
    );
    // And long texts: over 700 distinct character trigrams (whatlang
    // counts a few fewer: it folds punctuation and digits to spaces).
    let long = texts
        .iter()
        .filter(|t| {
            let c: Vec<char> = t.to_lowercase().chars().collect();
            let distinct: std::collections::HashSet<&[char]> = c.windows(3).collect();
            distinct.len() >= 700
        })
        .count();
    assert!(long >= 100, "only {long} long texts");
}

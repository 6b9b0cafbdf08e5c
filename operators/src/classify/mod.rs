//! Category classifier: multi-label classification of a mention's text into
//! the SPEC taxonomy ("Default taxonomy") from configurable phrase rules.
//!
//! How it works:
//! - Every phrase of every rule, every negator and every ignore phrase is
//!   compiled into **one** [`AhoCorasick`] automaton (ASCII case-insensitive;
//!   phrases with `'` also match the typographic `’`).
//! - All matches are found (overlapping), those that do not sit on word
//!   boundaries are dropped (`bill` does not match inside `billion`; a
//!   boundary is only required at a phrase end that is itself a word
//!   character, so `£` matches before a digit), and then the leftmost-longest
//!   non-overlapping set is kept. A phrase that contains a negator itself
//!   (`no signal`, `not arrived`) is longer than the bare negator and wins.
//! - A topic match is *negated* when a negator (`not`, `isn't`, `nothing to
//!   do with`, …) comes before it in the same clause (no `.`, `,`, `!`, `?`,
//!   `;`, `:`, `but`, … in between), at most `negation_window_tokens` tokens
//!   before it, and every token in between is a filler word (`a`, `the`, `my`,
//!   `about`, …). So "not a billing question" negates billing but "not happy
//!   with my bill" and "not able to log in" do not negate anything.
//!   A negated match adds nothing to its category and is kept as evidence
//!   with `negated: true`.
//! - Bare `no` and `never` are deliberately **not** default negators: in care
//!   traffic they state the absence that *is* the problem ("no engineer
//!   turned up", "never received my parcel"). Topic denials with them are
//!   covered by multi-word negators (`no issue with`, `never had a problem
//!   with`). A deployment may add `no` to `negators`; phrases such as
//!   `no signal` still count because the longer phrase wins.
//! - Scores are the sums of the weights of the non-negated matches, per
//!   category. `labels` are the categories with a positive score, best first.
//!   The primary category is `complaint_escalation` whenever it scores
//!   (regulatory/legal threats, if `escalation_precedence`), otherwise the
//!   highest score, ties broken by [`Category::ALL`] order, and
//!   `general_enquiry` when nothing scores.
//!
//! Batch API: `Operator::process_batch` reads [`col::TEXT`]
//! and appends [`col::CATEGORY`], [`col::CATEGORIES`], [`col::CATEGORY_EVIDENCE`].

mod config;
mod rules;
mod rules_account;
mod rules_service;
mod taxonomy;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use arrow::array::{ArrayRef, StringBuilder};
use arrow::datatypes::{DataType, Field};
use arrow::record_batch::RecordBatch;

pub use config::ClassifyConfig;
pub(crate) use taxonomy::check_category;
pub use taxonomy::{Category, PhraseRule};

use crate::columns::{append_columns, StrColumn};
use crate::error::{config_err, Result};
use crate::operator::{names, Operator};
use crate::schema::col;
use crate::text::{boundaries, is_whole_match, is_word_char, phrase_automaton};

/// One matched phrase kept as the reason for a label.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The category the phrase belongs to.
    pub category: Category,
    /// The configured phrase (lower case), not the text's spelling.
    pub phrase: String,
    /// True when a negator cancelled the match (it did not score).
    pub negated: bool,
    /// Byte offset of the match in the text.
    pub start: usize,
    /// Byte offset one past the match.
    pub end: usize,
}

/// The classification of one text.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifyResult {
    /// Primary category; `general_enquiry` when nothing scored (then `labels` is empty).
    pub primary: Category,
    /// Every category with a positive score, best first (ties in [`Category::ALL`] order).
    pub labels: Vec<(Category, f32)>,
    /// Matched phrases in text order, negated ones included, distinct, capped.
    pub evidence: Vec<Evidence>,
}

/// What a compiled pattern means.
#[derive(Debug, Default)]
struct PatInfo {
    /// Canonical phrase (lower case, single spaces).
    phrase: Box<str>,
    /// Categories scored by the phrase.
    topics: Vec<(Category, f32)>,
    negator: bool,
    /// Word boundaries needed before and after the match
    /// ([`crate::text::boundaries`]).
    bounds: (bool, bool),
}

/// A match kept after boundary checks: (start, end, info index).
#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    info: u32,
}

/// Per-call working memory, reused across rows by the batch path.
#[derive(Debug, Default)]
struct Scratch {
    cands: Vec<Hit>,
    sel: Vec<Hit>,
    scores: [f32; 10],
    /// (info, category, negated, start, end) in text order.
    evidence: Vec<(u32, Category, bool, usize, usize)>,
}

/// The compiled classifier. Cheap to share (`&self` everywhere).
#[derive(Debug, Clone)]
pub struct Classifier {
    ac: Arc<AhoCorasick>,
    /// Automaton pattern id → index into `infos`.
    pat_to_info: Arc<[u32]>,
    infos: Arc<[PatInfo]>,
    fillers: Arc<[Box<str>]>,
    window: usize,
    escalation_precedence: bool,
    max_evidence: usize,
}

/// Lower-cases (ASCII) and collapses whitespace; `None` if nothing is left.
fn canonical(phrase: &str) -> Option<String> {
    let mut out = String::with_capacity(phrase.len());
    for word in phrase.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word.to_ascii_lowercase());
    }
    (!out.is_empty()).then_some(out)
}

impl Classifier {
    /// Compiles the config into one automaton. Errors name the offending key.
    pub fn new(config: &ClassifyConfig) -> Result<Self> {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut infos: Vec<PatInfo> = Vec::new();
        let mut slot = |phrase: &str, key: &dyn Fn() -> String| -> Result<usize> {
            let canon = canonical(phrase).ok_or_else(|| config_err(key(), "empty phrase"))?;
            Ok(*index.entry(canon.clone()).or_insert_with(|| {
                infos.push(PatInfo {
                    bounds: boundaries(&canon),
                    phrase: canon.into(),
                    ..Default::default()
                });
                infos.len() - 1
            }))
        };
        let mut topic_slots = Vec::new();
        let all_rules = config.rules.iter().map(|r| ("rules", r)).enumerate().chain(
            config
                .extra_rules
                .iter()
                .map(|r| ("extra_rules", r))
                .enumerate(),
        );
        for (i, (table, rule)) in all_rules {
            if !rule.weight.is_finite() {
                return Err(config_err(
                    format!("classify.{table}[{i}].weight"),
                    "must be a finite number",
                ));
            }
            if rule.phrases.is_empty() {
                return Err(config_err(
                    format!("classify.{table}[{i}].phrases"),
                    "must not be empty",
                ));
            }
            for (j, p) in rule.phrases.iter().enumerate() {
                let s = slot(p, &|| format!("classify.{table}[{i}].phrases[{j}]"))?;
                topic_slots.push((s, rule.category, rule.weight));
            }
        }
        let mut neg_slots = Vec::new();
        for (j, p) in config.negators.iter().enumerate() {
            neg_slots.push(slot(p, &|| format!("classify.negators[{j}]"))?);
        }
        for (j, p) in config.ignore_phrases.iter().enumerate() {
            slot(p, &|| format!("classify.ignore_phrases[{j}]"))?;
        }
        for (s, cat, w) in topic_slots {
            let topics = &mut infos[s].topics;
            match topics.iter_mut().find(|(c, _)| *c == cat) {
                // The same phrase listed twice for one category keeps the larger weight.
                Some(t) => t.1 = if w.abs() > t.1.abs() { w } else { t.1 },
                None => topics.push((cat, w)),
            }
        }
        for s in neg_slots {
            // A phrase that is both a topic and a negator is a topic.
            infos[s].negator = infos[s].topics.is_empty();
        }
        let mut fillers = Vec::new();
        for (j, w) in config.negation_filler_words.iter().enumerate() {
            fillers.push(
                canonical(w)
                    .ok_or_else(|| {
                        config_err(format!("classify.negation_filler_words[{j}]"), "empty word")
                    })?
                    .into_boxed_str(),
            );
        }

        let mut patterns: Vec<String> = Vec::with_capacity(infos.len() + 16);
        let mut pat_to_info: Vec<u32> = Vec::with_capacity(infos.len() + 16);
        for (i, info) in infos.iter().enumerate() {
            patterns.push(info.phrase.to_string());
            pat_to_info.push(i as u32);
            if info.phrase.contains('\'') {
                patterns.push(info.phrase.replace('\'', "\u{2019}"));
                pat_to_info.push(i as u32);
            }
        }
        let ac =
            phrase_automaton(&patterns).map_err(|e| config_err("classify.rules", e.to_string()))?;
        Ok(Self {
            ac: Arc::new(ac),
            pat_to_info: pat_to_info.into(),
            infos: infos.into(),
            fillers: fillers.into(),
            window: config.negation_window_tokens,
            escalation_precedence: config.escalation_precedence,
            max_evidence: config.max_evidence_per_text,
        })
    }

    /// Number of distinct phrases compiled (topics, negators, ignore phrases).
    pub fn phrase_count(&self) -> usize {
        self.infos.len()
    }

    /// Classifies one text.
    pub fn classify(&self, text: &str) -> ClassifyResult {
        let mut s = Scratch::default();
        self.scan(text, &mut s);
        let primary = self.primary(&s.scores);
        let mut labels = Vec::new();
        self.labels_into(&s.scores, &mut labels);
        let evidence = s
            .evidence
            .iter()
            .map(|&(info, category, negated, start, end)| Evidence {
                category,
                phrase: self.infos[info as usize].phrase.to_string(),
                negated,
                start,
                end,
            })
            .collect();
        ClassifyResult {
            primary,
            labels,
            evidence,
        }
    }

    /// Formats the evidence of the last scan as in [`col::CATEGORY_EVIDENCE`].
    fn write_evidence(&self, s: &Scratch, out: &mut String) {
        for (k, &(info, cat, negated, _, _)) in s.evidence.iter().enumerate() {
            if k > 0 {
                out.push_str("; ");
            }
            let _ = write!(
                out,
                "{}:\"{}\"",
                cat.as_str(),
                self.infos[info as usize].phrase
            );
            if negated {
                out.push_str(" (negated)");
            }
        }
    }

    fn primary(&self, scores: &[f32; 10]) -> Category {
        if self.escalation_precedence && scores[Category::ComplaintEscalation.index()] > 0.0 {
            return Category::ComplaintEscalation;
        }
        let mut best = Category::GeneralEnquiry;
        let mut best_score = 0.0f32;
        for c in Category::ALL {
            if scores[c.index()] > best_score {
                best = c;
                best_score = scores[c.index()];
            }
        }
        best
    }

    fn labels_into(&self, scores: &[f32; 10], out: &mut Vec<(Category, f32)>) {
        out.clear();
        out.extend(
            Category::ALL
                .into_iter()
                .filter(|c| scores[c.index()] > 0.0)
                .map(|c| (c, scores[c.index()])),
        );
        // Stable sort keeps ALL order for ties.
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
    }

    /// Finds, selects and scores the matches of `text` into `s`.
    fn scan(&self, text: &str, s: &mut Scratch) {
        s.cands.clear();
        s.sel.clear();
        s.evidence.clear();
        s.scores = [0.0; 10];
        for m in self.ac.find_overlapping_iter(text) {
            let info_idx = self.pat_to_info[m.pattern().as_usize()];
            let info = &self.infos[info_idx as usize];
            let (start, end) = (m.start(), m.end());
            if !is_whole_match(text, start, end, info.bounds)
                && !unit_after_number(text, start, end, info.bounds)
            {
                continue;
            }
            s.cands.push(Hit {
                start,
                end,
                info: info_idx,
            });
        }
        if s.cands.is_empty() {
            return;
        }
        s.cands
            .sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut last_end = 0;
        for h in &s.cands {
            if h.start >= last_end {
                s.sel.push(*h);
                last_end = h.end;
            }
        }
        let mut last_negator: Option<usize> = None;
        for k in 0..s.sel.len() {
            let h = s.sel[k];
            let info = &self.infos[h.info as usize];
            if info.negator {
                last_negator = Some(k);
                continue;
            }
            if info.topics.is_empty() {
                continue; // ignore phrase
            }
            let negated = last_negator.is_some_and(|n| self.negates(&text[s.sel[n].end..h.start]));
            for &(cat, w) in &info.topics {
                if !negated {
                    s.scores[cat.index()] += w;
                }
                if s.evidence.len() < self.max_evidence
                    && !s
                        .evidence
                        .iter()
                        .any(|e| e.0 == h.info && e.1 == cat && e.2 == negated)
                {
                    s.evidence.push((h.info, cat, negated, h.start, h.end));
                }
            }
        }
    }

    /// Whether the text between a negator and a phrase lets the negation through:
    /// same clause, at most `window` tokens, all of them filler words.
    fn negates(&self, gap: &str) -> bool {
        if gap.contains(['.', ',', '!', '?', ';', ':', '(', ')', '\n', '-', '"']) {
            return false;
        }
        let mut tokens = 0;
        for tok in gap
            .split(|c: char| !(is_word_char(c) || c == '\'' || c == '\u{2019}'))
            .filter(|t| !t.is_empty())
        {
            tokens += 1;
            if tokens > self.window {
                return false;
            }
            let is_filler = self.fillers.iter().any(|f| {
                f.len() == tok.len() && f.eq_ignore_ascii_case(tok)
                    || (tok.contains('\u{2019}')
                        && f.eq_ignore_ascii_case(&tok.replace('\u{2019}', "'")))
            });
            if !is_filler {
                return false;
            }
        }
        true
    }
}

/// A phrase that starts with a letter also matches right after a digit
/// (`mbps` in "paying for 200mbps", `hrs` in "6hrs"): units glued to their
/// number are common in care tweets.
fn unit_after_number(text: &str, start: usize, end: usize, bounds: (bool, bool)) -> bool {
    let b = text.as_bytes();
    bounds.0
        && start > 0
        && start < b.len()
        && b[start - 1].is_ascii_digit()
        && b[start].is_ascii_alphabetic()
        && is_whole_match(text, start, end, (false, bounds.1))
}

#[cfg(test)]
mod tests;

impl ClassifyConfig {
    /// Validates the rules and compiles the classifier.
    pub fn build(&self) -> Result<Classifier> {
        Classifier::new(self)
    }

    /// Checks the rules (by compiling them).
    pub fn validate(&self) -> Result<()> {
        self.build().map(drop)
    }
}

impl Operator for Classifier {
    fn name(&self) -> &'static str {
        names::CLASSIFY
    }

    /// Appends [`col::CATEGORY`], [`col::CATEGORIES`] and
    /// [`col::CATEGORY_EVIDENCE`] to a batch that has a `text` column
    /// (a null text classifies as empty: `general_enquiry`). Existing columns
    /// of the same names are replaced.
    fn process_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let text = StrColumn::get(batch, col::TEXT)?;
        let n = batch.num_rows();
        let mut cat_b = StringBuilder::with_capacity(n, n * 12);
        let mut cats_b = StringBuilder::with_capacity(n, n * 16);
        let mut ev_b = StringBuilder::with_capacity(n, n * 32);
        let mut s = Scratch::default();
        let mut labels = Vec::with_capacity(10);
        let mut buf = String::with_capacity(256);
        for i in 0..n {
            self.scan(text.value(i).unwrap_or(""), &mut s);
            cat_b.append_value(self.primary(&s.scores).as_str());
            self.labels_into(&s.scores, &mut labels);
            buf.clear();
            for (k, (c, _)) in labels.iter().enumerate() {
                if k > 0 {
                    buf.push(',');
                }
                buf.push_str(c.as_str());
            }
            cats_b.append_value(&buf);
            buf.clear();
            self.write_evidence(&s, &mut buf);
            ev_b.append_value(&buf);
        }
        append_columns(
            batch,
            vec![
                (
                    Field::new(col::CATEGORY, DataType::Utf8, false),
                    Arc::new(cat_b.finish()) as ArrayRef,
                ),
                (
                    Field::new(col::CATEGORIES, DataType::Utf8, false),
                    Arc::new(cats_b.finish()) as ArrayRef,
                ),
                (
                    Field::new(col::CATEGORY_EVIDENCE, DataType::Utf8, false),
                    Arc::new(ev_b.finish()) as ArrayRef,
                ),
            ],
        )
    }
}

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
//! Batch API: [`Classifier::classify_batch`] reads [`crate::schema::col::TEXT`]
//! and appends [`col::CATEGORY`], [`col::CATEGORIES`], [`col::CATEGORY_EVIDENCE`].

mod rules;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use arrow::array::{Array, ArrayRef, StringBuilder};
use arrow::datatypes::{DataType, Field};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::error::{config_err, Result};

/// The phrase automaton of the text operators (classify, severity, spam):
/// ASCII-case-insensitive, all overlapping matches. A DFA when one can be
/// built (it scanned tweet-length texts about 1.8× faster than the
/// contiguous NFA the builder picks for a few hundred phrases: 307 against
/// 565 ns per text for 561 phrases, at about 0.8 MB), else whatever the
/// builder picks (a very large configured phrase list).
pub(crate) fn phrase_automaton<P: AsRef<[u8]>>(
    patterns: &[P],
) -> std::result::Result<AhoCorasick, aho_corasick::BuildError> {
    let mut b = AhoCorasickBuilder::new();
    b.ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard);
    b.kind(Some(AhoCorasickKind::DFA))
        .build(patterns)
        .or_else(|_| b.kind(None).build(patterns))
}

/// Names of the columns appended by [`Classifier::classify_batch`].
pub mod col {
    /// Primary category ([`super::Category::as_str`]), Utf8, never null.
    pub const CATEGORY: &str = "category";
    /// Every category that scored, best first, comma-joined (`billing,general_enquiry`);
    /// Utf8, never null, empty when nothing matched (primary is then `general_enquiry`).
    pub const CATEGORIES: &str = "categories";
    /// The matched evidence, `; `-joined: `billing:"overcharged"; network_outage:"no signal"`,
    /// a negated match is suffixed ` (negated)`. Utf8, never null, empty when nothing matched.
    pub const CATEGORY_EVIDENCE: &str = "category_evidence";
}

/// The SPEC taxonomy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Mobile network down, no signal, mast, area outage.
    NetworkOutage,
    /// Home broadband / landline fault: no internet, router, speeds, drops.
    BroadbandFault,
    /// Engineer visits, installations, missed appointments.
    EngineerAppointment,
    /// Bills, charges, refunds, direct debits, price rises.
    Billing,
    /// Logins, passwords, locked accounts, the app.
    AccountAccess,
    /// Cancelling, leaving, PAC/STAC codes, contract ends.
    SwitchingCancellation,
    /// Orders, parcels, couriers, SIMs and handsets in the post.
    Delivery,
    /// Regulatory or legal threats: Ofcom, ombudsman, solicitors.
    ComplaintEscalation,
    /// Thanks and compliments.
    Praise,
    /// Questions and everything else.
    GeneralEnquiry,
}

impl Category {
    /// All categories, in SPEC order (also the tie-break order).
    pub const ALL: [Category; 10] = [
        Category::NetworkOutage,
        Category::BroadbandFault,
        Category::EngineerAppointment,
        Category::Billing,
        Category::AccountAccess,
        Category::SwitchingCancellation,
        Category::Delivery,
        Category::ComplaintEscalation,
        Category::Praise,
        Category::GeneralEnquiry,
    ];

    /// Stable snake_case label used in columns, configs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::NetworkOutage => "network_outage",
            Category::BroadbandFault => "broadband_fault",
            Category::EngineerAppointment => "engineer_appointment",
            Category::Billing => "billing",
            Category::AccountAccess => "account_access",
            Category::SwitchingCancellation => "switching_cancellation",
            Category::Delivery => "delivery",
            Category::ComplaintEscalation => "complaint_escalation",
            Category::Praise => "praise",
            Category::GeneralEnquiry => "general_enquiry",
        }
    }

    /// Index into [`Category::ALL`] and per-category arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Parses a label produced by [`Category::as_str`].
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One phrase rule: any of `phrases` found in a text adds `weight` to `category`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhraseRule {
    /// The category this rule scores.
    pub category: Category,
    /// Phrases, matched case-insensitively on word boundaries.
    pub phrases: Vec<String>,
    /// Score added per non-negated match (may be negative to dampen a category).
    #[serde(default = "default_weight")]
    pub weight: f32,
}

fn default_weight() -> f32 {
    1.0
}

/// Classifier settings (the `[classify]` config section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifyConfig {
    /// The phrase rules; the default is the built-in UK telco rule set.
    /// Setting this replaces the built-in set; use `extra_rules` to extend it.
    pub rules: Vec<PhraseRule>,
    /// Rules added to `rules` (for local additions without restating the defaults).
    pub extra_rules: Vec<PhraseRule>,
    /// Phrases that negate a following topic phrase in the same clause.
    pub negators: Vec<String>,
    /// A negator negates a topic phrase at most this many tokens after it.
    pub negation_window_tokens: usize,
    /// The only tokens allowed between a negator and the phrase it negates.
    pub negation_filler_words: Vec<String>,
    /// Phrases that match nothing but shield shorter phrases inside them
    /// (`leaving me` keeps `leaving` from meaning switching).
    pub ignore_phrases: Vec<String>,
    /// When true, `complaint_escalation` is primary whenever it scores.
    pub escalation_precedence: bool,
    /// At most this many evidence entries are kept per text (distinct entries).
    pub max_evidence_per_text: usize,
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        Self {
            rules: rules::default_rules(),
            extra_rules: Vec::new(),
            negators: rules::strings(rules::NEGATORS),
            negation_window_tokens: 3,
            negation_filler_words: rules::strings(rules::FILLERS),
            ignore_phrases: rules::strings(rules::IGNORE),
            escalation_precedence: true,
            max_evidence_per_text: 8,
        }
    }
}

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
    /// Word boundary needed before the match (first char is a word char).
    bound_start: bool,
    /// Word boundary needed after the match (last char is a word char).
    bound_end: bool,
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

/// Parses a category name given in config under `key`; the error lists the
/// valid names.
pub(crate) fn check_category(key: String, label: &str) -> Result<Category> {
    Category::parse(label).ok_or_else(|| {
        config_err(
            key,
            format!(
                "unknown category `{label}` (one of: {})",
                Category::ALL.map(Category::as_str).join(", ")
            ),
        )
    })
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

pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl Classifier {
    /// Compiles the config into one automaton. Errors name the offending key.
    pub fn new(config: &ClassifyConfig) -> Result<Self> {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut infos: Vec<PatInfo> = Vec::new();
        let mut slot = |phrase: &str, key: &dyn Fn() -> String| -> Result<usize> {
            let canon = canonical(phrase).ok_or_else(|| config_err(key(), "empty phrase"))?;
            Ok(*index.entry(canon.clone()).or_insert_with(|| {
                let first = canon.chars().next().is_some_and(is_word_char);
                let last = canon.chars().next_back().is_some_and(is_word_char);
                infos.push(PatInfo {
                    phrase: canon.into(),
                    bound_start: first,
                    bound_end: last,
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

    /// Appends [`col::CATEGORY`], [`col::CATEGORIES`] and
    /// [`col::CATEGORY_EVIDENCE`] to a batch that has a `text` column
    /// (a null text classifies as empty: `general_enquiry`). Existing columns
    /// of the same names are replaced.
    pub fn classify_batch(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let text = StrColumn::get(batch, crate::schema::col::TEXT)?;
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
        let bytes = text.as_bytes();
        for m in self.ac.find_overlapping_iter(text) {
            let info_idx = self.pat_to_info[m.pattern().as_usize()];
            let info = &self.infos[info_idx as usize];
            let (start, end) = (m.start(), m.end());
            // Matches are on ASCII-case-folded bytes, so ends are char boundaries
            // except when a pattern byte meets a multi-byte char: check anyway.
            if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
                continue;
            }
            if info.bound_start && text[..start].chars().next_back().is_some_and(is_word_char) {
                continue;
            }
            if info.bound_end
                && end < bytes.len()
                && text[end..].chars().next().is_some_and(is_word_char)
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

/// A read-only view of a string column of any Arrow string type.
pub(crate) enum StrColumn<'a> {
    Utf8(&'a arrow::array::StringArray),
    Large(&'a arrow::array::LargeStringArray),
    View(&'a arrow::array::StringViewArray),
}

impl<'a> StrColumn<'a> {
    /// The named column; an error if it is missing or not a string column.
    pub(crate) fn get(batch: &'a RecordBatch, name: &str) -> Result<Self> {
        let col = batch.column_by_name(name).ok_or_else(|| {
            arrow::error::ArrowError::SchemaError(format!("missing column `{name}`"))
        })?;
        Self::of(col.as_ref(), name)
    }

    /// The named column if present; an error if present with a non-string type.
    pub(crate) fn opt(batch: &'a RecordBatch, name: &str) -> Result<Option<Self>> {
        batch
            .column_by_name(name)
            .map(|c| Self::of(c.as_ref(), name))
            .transpose()
    }

    pub(crate) fn of(col: &'a dyn Array, name: &str) -> Result<Self> {
        use arrow::array::AsArray;
        Ok(match col.data_type() {
            DataType::Utf8 => StrColumn::Utf8(col.as_string::<i32>()),
            DataType::LargeUtf8 => StrColumn::Large(col.as_string::<i64>()),
            DataType::Utf8View => StrColumn::View(col.as_string_view()),
            other => {
                return Err(arrow::error::ArrowError::SchemaError(format!(
                    "column `{name}` must be a string column, found {other}"
                ))
                .into())
            }
        })
    }

    /// The value at `i`, `None` when null.
    #[inline]
    pub(crate) fn value(&self, i: usize) -> Option<&'a str> {
        match self {
            StrColumn::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            StrColumn::Large(a) => a.is_valid(i).then(|| a.value(i)),
            StrColumn::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

/// Returns `batch` with `columns` appended, replacing same-named columns.
pub(crate) fn append_columns(
    batch: &RecordBatch,
    columns: Vec<(Field, ArrayRef)>,
) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut fields: Vec<Arc<Field>> = Vec::with_capacity(schema.fields().len() + columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(fields.capacity());
    for (f, a) in schema.fields().iter().zip(batch.columns()) {
        if !columns.iter().any(|(nf, _)| nf.name() == f.name()) {
            fields.push(f.clone());
            arrays.push(a.clone());
        }
    }
    for (f, a) in columns {
        fields.push(Arc::new(f));
        arrays.push(a);
    }
    let new_schema = Arc::new(arrow::datatypes::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ));
    let options =
        arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        new_schema, arrays, &options,
    )?)
}

#[cfg(test)]
mod tests;

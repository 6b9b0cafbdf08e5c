//! The classifier's settings (the `[classify]` config section); the
//! built-in UK telco rule set is in `rules`.

use serde::{Deserialize, Serialize};

use super::rules;
use super::taxonomy::PhraseRule;

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

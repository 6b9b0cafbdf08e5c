//! Triage accuracy on the labelled real tweets (docs/triage.md): queue,
//! P1/P2 band, polarity (telco) and 3-class sentiment (airline). Shared by
//! the accuracy test (held-out) and `examples/triage_eval.rs` (dev).
//!
//! Each tweet is judged as `switchboard score` judges it: a lone mention of
//! an unknown author (text only): sentiment (telco mode), category, spam
//! verdict from the text, severity from category + sentiment, queue from the
//! SPEC's default table (`none` when spam).

#![allow(dead_code)]

use std::path::PathBuf;

use switchboard_operators::classify::{Classifier, ClassifyConfig};
use switchboard_operators::route::spec_default_queues;
use switchboard_operators::sentiment::SentimentAnalyzer;
use switchboard_operators::severity::{MentionFactors, Severity, SeverityConfig, SeverityLevel};
use switchboard_operators::spam::{SpamConfig, SpamInput};

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/triage")
}

/// One labelled telco tweet.
#[derive(Debug, Clone)]
pub struct TelcoRow {
    pub id: String,
    pub text: String,
    pub queue: String,
    pub high: bool,
    pub polarity: String,
}

/// One labelled airline tweet.
#[derive(Debug, Clone)]
pub struct AirlineRow {
    pub text: String,
    pub label: String,
}

fn rows(file: &str) -> Vec<Vec<String>> {
    let path = fixtures().join(file);
    let body = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = body.lines();
    let header = lines.next().expect("header").split('\t').count();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<String> = l.split('\t').map(str::to_owned).collect();
            assert_eq!(f.len(), header, "{file}: bad row {l}");
            f
        })
        .collect()
}

/// Reads `telco_dev.tsv` or `telco_heldout.tsv`.
pub fn telco(file: &str) -> Vec<TelcoRow> {
    rows(file)
        .into_iter()
        .map(|f| TelcoRow {
            id: f[0].clone(),
            text: f[4].clone(),
            queue: f[6].clone(),
            high: f[7] == "high",
            polarity: f[8].clone(),
        })
        .collect()
}

/// Reads `airline_dev.tsv` or `airline_heldout.tsv`.
pub fn airline(file: &str) -> Vec<AirlineRow> {
    rows(file)
        .into_iter()
        .map(|f| AirlineRow {
            text: f[4].clone(),
            label: f[1].clone(),
        })
        .collect()
}

/// Polarity of a compound score (VADER's usual ±0.05 cut).
pub fn polarity(compound: f32) -> &'static str {
    if compound >= 0.05 {
        "positive"
    } else if compound <= -0.05 {
        "negative"
    } else {
        "neutral"
    }
}

/// The triage's verdict on one text.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub category: String,
    pub queue: String,
    pub high: bool,
    pub severity: SeverityLevel,
    pub polarity: &'static str,
    pub compound: f32,
    pub evidence: Vec<String>,
    pub reasons: Vec<String>,
}

/// The default operators, as `switchboard score` builds them.
pub struct Triage {
    sentiment: SentimentAnalyzer,
    classifier: Classifier,
    severity: Severity,
    spam: SpamConfig,
}

impl Default for Triage {
    fn default() -> Self {
        Self {
            sentiment: SentimentAnalyzer::default(),
            classifier: Classifier::new(&ClassifyConfig::default()).expect("default rules"),
            severity: SeverityConfig::default().build().expect("default severity"),
            spam: SpamConfig::default(),
        }
    }
}

impl Triage {
    /// Judges one text as a lone mention of an unknown author.
    pub fn judge(&self, text: &str) -> Verdict {
        let s = self.sentiment.score(text);
        let c = self.classifier.classify(text);
        // A fresh detector per text: no repetition state across tweets.
        let mut spam = self.spam.build().expect("default spam");
        let is_spam = spam
            .check(&SpamInput {
                text,
                ..SpamInput::default()
            })
            .is_spam;
        let categories: Vec<&str> = c.labels.iter().map(|(c, _)| c.as_str()).collect();
        let categories = categories.join(",");
        let score = self.severity.score_row(&MentionFactors {
            text,
            category: Some(c.primary.as_str()),
            categories: Some(&categories),
            sentiment_compound: Some(s.compound as f64),
            ..MentionFactors::default()
        });
        let queue = if is_spam {
            "none".to_owned()
        } else {
            spec_default_queues()[c.primary.as_str()].clone()
        };
        Verdict {
            category: c.primary.as_str().to_owned(),
            queue,
            high: matches!(score.severity, SeverityLevel::P1 | SeverityLevel::P2),
            severity: score.severity,
            polarity: polarity(s.compound),
            compound: s.compound,
            evidence: c
                .evidence
                .iter()
                .map(|e| {
                    format!(
                        "{}{}:{}",
                        if e.negated { "!" } else { "" },
                        e.category,
                        e.phrase
                    )
                })
                .collect(),
            reasons: score.reasons,
        }
    }

    /// The analyzer (for the airline set).
    pub fn sentiment(&self) -> &SentimentAnalyzer {
        &self.sentiment
    }
}

/// Figures over a telco set.
#[derive(Debug, Clone, Default)]
pub struct TelcoFigures {
    pub n: usize,
    pub queue_right: usize,
    pub polarity_right: usize,
    pub high_labelled: usize,
    pub high_predicted: usize,
    pub high_both: usize,
}

impl TelcoFigures {
    pub fn queue_accuracy(&self) -> f64 {
        ratio(self.queue_right, self.n)
    }
    pub fn polarity_accuracy(&self) -> f64 {
        ratio(self.polarity_right, self.n)
    }
    pub fn high_recall(&self) -> f64 {
        ratio(self.high_both, self.high_labelled)
    }
    pub fn high_precision(&self) -> f64 {
        ratio(self.high_both, self.high_predicted)
    }
}

impl std::fmt::Display for TelcoFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} queue={:.1}% ({}/{}) P1/P2 recall={:.1}% ({}/{}) precision={:.1}% ({}/{}) polarity={:.1}% ({}/{})",
            self.n,
            100.0 * self.queue_accuracy(),
            self.queue_right,
            self.n,
            100.0 * self.high_recall(),
            self.high_both,
            self.high_labelled,
            100.0 * self.high_precision(),
            self.high_both,
            self.high_predicted,
            100.0 * self.polarity_accuracy(),
            self.polarity_right,
            self.n
        )
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Scores a telco set; `each` sees every row with its verdict.
pub fn eval_telco(
    triage: &Triage,
    rows: &[TelcoRow],
    mut each: impl FnMut(&TelcoRow, &Verdict),
) -> TelcoFigures {
    let mut f = TelcoFigures {
        n: rows.len(),
        ..TelcoFigures::default()
    };
    for r in rows {
        let v = triage.judge(&r.text);
        f.queue_right += usize::from(v.queue == r.queue);
        f.polarity_right += usize::from(v.polarity == r.polarity);
        f.high_labelled += usize::from(r.high);
        f.high_predicted += usize::from(v.high);
        f.high_both += usize::from(r.high && v.high);
        each(r, &v);
    }
    f
}

/// 3-class accuracy over an airline set: (right, n).
pub fn eval_airline(
    triage: &Triage,
    rows: &[AirlineRow],
    mut each: impl FnMut(&AirlineRow, &'static str, f32),
) -> (usize, usize) {
    let mut right = 0;
    for r in rows {
        let c = triage.sentiment().score(&r.text).compound;
        let p = polarity(c);
        right += usize::from(p == r.label);
        each(r, p, c);
    }
    (right, rows.len())
}

//! The stateless stage: the operators every source worker runs on each
//! parsed batch, on all cores: language → sentiment → category, then the
//! identity join and severity when given, then the operators registered
//! to run after severity ([`Config::build_after_severity`]). The stream (`parse_worker.rs`) and
//! `switchboard process` both call [`Enricher::apply_chain`], so they cannot
//! drift apart.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use switchboard_operators::classify::Classifier;
use switchboard_operators::language::LanguageDetector;
use switchboard_operators::operator::{names, Operator};
use switchboard_operators::sentiment::SentimentAnalyzer;

use super::measured::{Measured, OperatorMetrics};
use crate::config::Config;
use crate::error::Result;

/// The stateless enrichment operators, applied in every source worker right
/// after parse (so they run on all cores): language → sentiment → category,
/// a list of [`Operator`]s, each [`Measured`]. Built once from config and
/// shared.
pub struct Enricher {
    enabled: bool,
    chain: Vec<Measured<Box<dyn Operator>>>,
    language: Arc<LanguageDetector>,
    sentiment: Arc<SentimentAnalyzer>,
    classify: Arc<Classifier>,
    /// The identity join's and severity's handles: those two operators are
    /// handed in per call (the join follows the CRM snapshots).
    join_metrics: OperatorMetrics,
    severity_metrics: OperatorMetrics,
    /// Run on the scored batch, after severity (only when severity runs:
    /// they annotate its reasons).
    after_severity: Vec<Measured<Box<dyn Operator>>>,
}

impl Enricher {
    /// Builds (and so validates) the operators of a config.
    pub fn build(config: &Config) -> Result<Arc<Self>> {
        let language = Arc::new(config.build_language()?);
        let sentiment = Arc::new(config.build_sentiment()?);
        let classify = Arc::new(config.build_classify()?);
        let chain: Vec<Box<dyn Operator>> = vec![
            Box::new(language.clone()),
            Box::new(sentiment.clone()),
            Box::new(classify.clone()),
        ];
        Ok(Arc::new(Self {
            enabled: config.pipeline.enrich,
            chain: chain.into_iter().map(Measured::new).collect(),
            language,
            sentiment,
            classify,
            join_metrics: OperatorMetrics::new(names::IDENTITY_JOIN),
            severity_metrics: OperatorMetrics::new(names::SEVERITY),
            after_severity: config
                .build_after_severity()?
                .into_iter()
                .map(Measured::new)
                .collect(),
        }))
    }

    /// Appends the language, sentiment and category columns.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if !self.enabled {
            return Ok(batch.clone());
        }
        let mut b = batch.clone();
        for op in &self.chain {
            b = op.process_batch(&b)?;
        }
        Ok(b)
    }

    /// The whole stateless chain a worker runs after parse: enrichment, then
    /// the identity join and severity when given, then the operators that
    /// run after severity (the stream and `process` both call this, so they
    /// cannot drift apart).
    pub fn apply_chain<J, S>(
        &self,
        batch: &RecordBatch,
        join: Option<&J>,
        severity: Option<&S>,
    ) -> Result<RecordBatch>
    where
        J: Operator + ?Sized,
        S: Operator + ?Sized,
    {
        let mut b = self.apply(batch)?;
        if let Some(j) = join {
            b = self.join_metrics.batch(&b, |b| j.process_batch(b))?;
        }
        if let Some(s) = severity {
            b = self.severity_metrics.batch(&b, |b| s.process_batch(b))?;
            for op in &self.after_severity {
                b = op.process_batch(&b)?;
            }
        }
        Ok(b)
    }

    /// The sentiment analyzer (for `score`).
    pub fn sentiment(&self) -> &SentimentAnalyzer {
        &self.sentiment
    }

    /// The classifier (for `score`).
    pub fn classifier(&self) -> &Classifier {
        &self.classify
    }

    /// The language detector (for `score`).
    pub fn language(&self) -> &LanguageDetector {
        &self.language
    }
}

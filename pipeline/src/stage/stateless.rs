//! The stateless stage: the operators every source worker runs on each
//! parsed batch, on all cores: language → sentiment → category, then the
//! identity join and severity when given. The stream (`parse_worker.rs`) and
//! `switchboard process` both call [`Enricher::apply_chain`], so they cannot
//! drift apart.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use switchboard_operators::classify::Classifier;
use switchboard_operators::identity_join::IdentityJoin;
use switchboard_operators::language::LanguageDetector;
use switchboard_operators::sentiment::SentimentAnalyzer;
use switchboard_operators::severity::Severity;

use crate::config::Config;
use crate::error::Result;

/// The stateless enrichment operators, applied in every source worker right
/// after parse (so they run on all cores): language → sentiment → category.
/// Built once from config and shared.
pub struct Enricher {
    enabled: bool,
    language: LanguageDetector,
    sentiment: SentimentAnalyzer,
    classify: Classifier,
}

impl Enricher {
    /// Builds (and so validates) the operators of a config.
    pub fn build(config: &Config) -> Result<Arc<Self>> {
        Ok(Arc::new(Self {
            enabled: config.pipeline.enrich,
            language: config.build_language()?,
            sentiment: config.build_sentiment()?,
            classify: config.build_classify()?,
        }))
    }

    /// Appends the language, sentiment and category columns.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if !self.enabled {
            return Ok(batch.clone());
        }
        let b = self.language.detect_batch(batch)?;
        let b = self.sentiment.score_batch(&b)?;
        Ok(self.classify.classify_batch(&b)?)
    }

    /// The whole stateless chain a worker runs after parse: enrichment, then
    /// the identity join and severity when given (the stream and `process`
    /// both call this, so they cannot drift apart).
    pub fn apply_chain(
        &self,
        batch: &RecordBatch,
        join: Option<&IdentityJoin>,
        severity: Option<&Severity>,
    ) -> Result<RecordBatch> {
        let mut b = self.apply(batch)?;
        if let Some(j) = join {
            b = j.join_batch(&b)?;
        }
        if let Some(s) = severity {
            b = s.score_batch(&b)?;
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

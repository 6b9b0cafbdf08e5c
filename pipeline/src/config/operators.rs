//! Each operator's section builds (and so validates) its operator; an error
//! names the section's key. [`Config::validate`] builds every operator once,
//! the stages and the `process` and `score` commands build theirs here.
//! Config knows the operators, never the runtime that runs them.

use std::sync::Arc;

use switchboard_operators::abuse::AbuseFlagger;
use switchboard_operators::classify::Classifier;
use switchboard_operators::correlate::{Correlator, ScaleFn, SlaFn};
use switchboard_operators::incident::IncidentDetector;
use switchboard_operators::language::LanguageDetector;
use switchboard_operators::operator::Operator;
use switchboard_operators::route::Router;
use switchboard_operators::sentiment::SentimentAnalyzer;
use switchboard_operators::severity::{Severity, SeverityLevel};
use switchboard_operators::spam::SpamDetector;

use super::{prefix_key, Config};
use crate::error::Result;

impl Config {
    /// Builds every operator of the config once, in pipeline order.
    pub(super) fn build_operators(&self) -> Result<()> {
        self.build_language()?;
        self.build_sentiment()?;
        self.build_classify()?;
        let severity = Arc::new(self.build_severity()?);
        self.build_after_severity()?;
        self.build_spam()?;
        self.build_incident()?;
        self.build_route()?;
        self.build_correlate(&severity)?;
        Ok(())
    }

    /// The language detector of `[language]`.
    pub fn build_language(&self) -> Result<LanguageDetector> {
        LanguageDetector::new(&self.language).map_err(|e| prefix_key("language", e))
    }

    /// The sentiment analyzer of `[sentiment]`.
    pub fn build_sentiment(&self) -> Result<SentimentAnalyzer> {
        SentimentAnalyzer::new(self.sentiment.mode, self.sentiment.telco.clone())
            .map_err(|e| prefix_key("sentiment", e))
    }

    /// The category classifier of `[classify]`.
    pub fn build_classify(&self) -> Result<Classifier> {
        Classifier::new(&self.classify).map_err(|e| prefix_key("classify", e))
    }

    /// The severity scorer of `[severity]`.
    pub fn build_severity(&self) -> Result<Severity> {
        Severity::new(&self.severity).map_err(|e| prefix_key("severity", e))
    }

    /// The stateless operators that run after severity, in this order, on
    /// every scored mention (`stage::stateless`): each reads the enriched
    /// batch and may add lines to its reasons. A new stateless operator is
    /// registered here.
    pub fn build_after_severity(&self) -> Result<Vec<Box<dyn Operator>>> {
        Ok(vec![Box::new(self.build_abuse()?)])
    }

    /// The abuse flagger of `[abuse]`.
    pub fn build_abuse(&self) -> Result<AbuseFlagger> {
        self.abuse.build().map_err(|e| prefix_key("abuse", e))
    }

    /// The spam detector of `[spam]`.
    pub fn build_spam(&self) -> Result<SpamDetector> {
        SpamDetector::new(self.spam.clone()).map_err(|e| prefix_key("spam", e))
    }

    /// The incident detector of `[incident]`.
    pub fn build_incident(&self) -> Result<IncidentDetector> {
        IncidentDetector::new(self.incident.clone()).map_err(|e| prefix_key("incident", e))
    }

    /// The router of `[route]`.
    pub fn build_route(&self) -> Result<Router> {
        Router::new(&self.route).map_err(|e| prefix_key("route", e))
    }

    /// The correlator of `[correlate]`, grading and timing its items with
    /// `severity`'s scale and SLAs.
    pub fn build_correlate(&self, severity: &Arc<Severity>) -> Result<Correlator> {
        Correlator::new(self.correlate.clone(), scale_fn(severity), sla_fn(severity))
            .map_err(|e| prefix_key("correlate", e))
    }
}

/// The severity operator's grading as the correlator's scale.
fn scale_fn(s: &Arc<Severity>) -> ScaleFn {
    let s = s.clone();
    Arc::new(move |points| {
        let (p, level) = s.grade(points);
        (p, level.as_str())
    })
}

/// The severity operator's SLAs as the correlator's SLA function.
fn sla_fn(s: &Arc<Severity>) -> SlaFn {
    let s = s.clone();
    Arc::new(move |sev| {
        SeverityLevel::parse(sev)
            .map(|l| s.sla_ms(l) as i64)
            .unwrap_or(72 * 3_600_000)
    })
}

//! Configuration: serde structs with `deny_unknown_fields`, units in names,
//! loaded from TOML with environment overrides (`SWITCHBOARD__KAFKA__BROKERS`
//! overrides `kafka.brokers`), validated so that every error names its key.
//! The runtime objects are built from these structs, never the reverse.

use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use switchboard_operators::abuse::AbuseConfig;
use switchboard_operators::classify::ClassifyConfig;
use switchboard_operators::correlate::CorrelateConfig;
use switchboard_operators::incident::IncidentConfig;
use switchboard_operators::language::LanguageConfig;
use switchboard_operators::route::RouteConfig;
use switchboard_operators::severity::SeverityConfig;
use switchboard_operators::spam::SpamConfig;

use crate::error::{PipelineError, Result};

#[cfg(test)]
mod example_defaults;
mod librdkafka;
mod operators;
pub mod secrets;
mod sections;
mod validate;

pub use sections::{
    Delivery, IdentitySection, KafkaConfig, MetricsConfig, ParseSection, PipelineSection,
    SentimentSection, SinkConfig, SourceConfig, TopicsConfig,
};
/// The whole Switchboard configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Kafka connection and client settings.
    pub kafka: KafkaConfig,
    /// Topic names.
    pub topics: TopicsConfig,
    /// The mention source (consumer threads, batching).
    pub source: SourceConfig,
    /// The parse operator.
    pub parse: ParseSection,
    /// The sentiment operator (VADER, or VADER plus the telco layer).
    pub sentiment: SentimentSection,
    /// The category classifier (phrase rules).
    pub classify: ClassifyConfig,
    /// Spam and bot heuristics.
    pub spam: SpamConfig,
    /// Language detection.
    pub language: LanguageConfig,
    /// The identity join: CRM snapshots and identity updates.
    pub identity: IdentitySection,
    /// Severity scoring: points, priority, P1–P4, SLAs.
    pub severity: SeverityConfig,
    /// Abuse flagging (threats, insults, profanity) in the reasons, for the
    /// agent's safety.
    pub abuse: AbuseConfig,
    /// Regional outage incident detection.
    pub incident: IncidentConfig,
    /// Routing rules (SQL predicates) and the taxonomy's default queues.
    pub route: RouteConfig,
    /// Correlation: contacts window, one work item per customer issue.
    pub correlate: CorrelateConfig,
    /// Output producers.
    pub sink: SinkConfig,
    /// Wiring between stages.
    pub pipeline: PipelineSection,
    /// Metrics and health endpoints.
    pub metrics: MetricsConfig,
}
impl Config {
    /// Loads a config file (TOML) with `SWITCHBOARD__…` environment overrides,
    /// then validates it.
    pub fn load(path: &Path) -> Result<Config> {
        if !path.is_file() {
            return Err(PipelineError::ConfigLoad(format!(
                "config file {}: not found or not a file",
                path.display()
            )));
        }
        let figment =
            Figment::from(Serialized::defaults(Config::unresolved())).merge(Toml::file(path));
        Self::extract(with_env(figment)?)
    }

    /// Defaults with `SWITCHBOARD__…` environment overrides (no file).
    pub fn from_env() -> Result<Config> {
        Self::extract(with_env(Figment::from(Serialized::defaults(
            Config::unresolved(),
        )))?)
    }

    /// Parses a TOML string (no environment), then validates it.
    pub fn from_toml_str(text: &str) -> Result<Config> {
        Self::extract(
            Figment::from(Serialized::defaults(Config::unresolved())).merge(Toml::string(text)),
        )
    }

    fn extract(figment: Figment) -> Result<Config> {
        let mut config: Config = figment.extract().map_err(|e| {
            let msgs: Vec<String> = e.into_iter().map(describe_figment_error).collect();
            PipelineError::ConfigLoad(msgs.join("; "))
        })?;
        // Registered before validation, so that no error or log line that
        // follows can show a secret.
        for (k, v) in &config.kafka.properties {
            if secrets::is_secret_key(k) {
                secrets::register(v);
            }
        }
        config.name_internal_topics();
        config.validate()?;
        Ok(config)
    }

    /// The config as TOML with secret values masked (`switchboard config`).
    pub fn to_masked_toml(&self) -> Result<String> {
        let mut c = self.clone();
        c.kafka.properties = secrets::masked(&c.kafka.properties);
        toml::to_string(&c).map_err(|e| PipelineError::Runtime(format!("config to TOML: {e}")))
    }

    /// The defaults with the internal topics unnamed, so that loading can
    /// tell a name the file (or environment) gives from the default.
    fn unresolved() -> Config {
        let mut c = Config::default();
        c.topics.repartition.clear();
        c.topics.changelog.clear();
        c
    }

    /// Names the internal topics the config leaves unset after the group
    /// (`<group_id>-repartition`, `<group_id>-correlate-changelog`), as
    /// Kafka Streams names its own after `application.id`.
    fn name_internal_topics(&mut self) {
        let group = &self.kafka.group_id;
        if self.topics.repartition.is_empty() {
            self.topics.repartition = TopicsConfig::default_repartition(group);
        }
        if self.topics.changelog.is_empty() {
            self.topics.changelog = TopicsConfig::default_changelog(group);
        }
    }

    /// The librdkafka properties common to every client.
    pub fn client_properties(&self) -> rdkafka::ClientConfig {
        let mut c = rdkafka::ClientConfig::new();
        c.set("bootstrap.servers", &self.kafka.brokers)
            .set("client.id", &self.kafka.client_id);
        for (k, v) in &self.kafka.properties {
            c.set(k, v);
        }
        c
    }

    /// Sets a librdkafka property that `[kafka.properties]` may override:
    /// Switchboard's default, unless the config gives the key itself.
    pub fn client_default(
        &self,
        c: &mut rdkafka::ClientConfig,
        key: &str,
        value: impl Into<String>,
    ) {
        if !self.kafka.properties.contains_key(key) {
            c.set(key, value);
        }
    }
}
/// Prefixes an operator's config error key with its section name, unless the
/// operator already did.
pub fn prefix_key(section: &str, e: switchboard_operators::OperatorError) -> PipelineError {
    match e {
        switchboard_operators::OperatorError::Config { key, reason } => {
            let key = if key.starts_with(section) {
                key
            } else {
                format!("{section}.{key}")
            };
            PipelineError::Config { key, reason }
        }
        other => PipelineError::Operator(other),
    }
}

/// Adds the environment overrides: `SWITCHBOARD__SECTION__KEY` for every
/// key, and `SWITCHBOARD__KAFKA__PROPERTIES__NAME` for librdkafka properties
/// (see [`secrets`] for how `NAME` maps to a dotted property).
fn with_env(figment: Figment) -> Result<Figment> {
    let props = secrets::env_properties(std::env::vars()).map_err(PipelineError::ConfigLoad)?;
    let figment = figment.merge(
        Env::prefixed("SWITCHBOARD__")
            .filter(|k| !secrets::is_env_property(k.as_str()))
            .split("__"),
    );
    Ok(if props.is_empty() {
        figment
    } else {
        figment.merge(Serialized::defaults(serde_json::json!({
            "kafka": { "properties": props }
        })))
    })
}

/// A serde value's kind without the value itself: errors never quote a
/// value (it may be a secret, e.g. `found string "sasl.password=…"`).
fn kind_of(a: &figment::error::Actual) -> &'static str {
    use figment::error::Actual as A;
    match a {
        A::Bool(_) => "a boolean",
        A::Unsigned(_) | A::Signed(_) => "an integer",
        A::Float(_) => "a float",
        A::Char(_) => "a character",
        A::Str(_) => "a string",
        A::Bytes(_) => "bytes",
        A::Unit => "nothing",
        A::Option => "an option",
        A::NewtypeStruct => "a newtype struct",
        A::Seq => "a sequence",
        A::Map => "a table",
        A::Enum => "an enum",
        A::UnitVariant | A::NewtypeVariant | A::TupleVariant | A::StructVariant => {
            "an enum variant"
        }
        A::Other(_) => "another kind of value",
    }
}

/// The 1-based line of `key` in `[section]` of a TOML file, by a plain
/// scan (section headers and `key =` lines).
fn line_of(file: &Path, section: &str, key: &str) -> Option<usize> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            current = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            continue;
        }
        let k = t.split('=').next().unwrap_or("").trim().trim_matches('"');
        if !t.starts_with('#') && t.contains('=') && k == key && current == section {
            return Some(i + 1);
        }
    }
    None
}

fn describe_figment_error(e: figment::Error) -> String {
    use figment::error::Kind;
    let key = e.path.join(".");
    let kind = match &e.kind {
        Kind::InvalidType(actual, expected) => {
            format!(
                "invalid type: found {}, expected {expected}",
                kind_of(actual)
            )
        }
        Kind::InvalidValue(actual, expected) => {
            format!(
                "invalid value: found {}, expected {expected}",
                kind_of(actual)
            )
        }
        Kind::UnknownField(field, expected) => {
            let mut s = format!("unknown key `{field}`");
            match librdkafka::did_you_mean(field, expected.iter().copied()) {
                Some(m) => s.push_str(&format!("; did you mean `{m}`?")),
                None => s.push_str(&format!("; expected one of {}", expected.join(", "))),
            }
            let section: Vec<&str> = e
                .path
                .iter()
                .map(String::as_str)
                .filter(|p| p != field)
                .collect();
            if let Some(figment::Source::File(file)) =
                e.metadata.as_ref().and_then(|m| m.source.as_ref())
            {
                if let Some(line) = line_of(file, &section.join("."), field) {
                    s.push_str(&format!(" (at {}:{line})", file.display()));
                }
            }
            s
        }
        other => secrets::redact(&other.to_string()),
    };
    let origin = e
        .metadata
        .as_ref()
        .map(|m| m.name.to_string())
        .unwrap_or_default();
    let mut s = if key.is_empty() {
        kind
    } else {
        format!("config key `{key}`: {kind}")
    };
    if !origin.is_empty() {
        s.push_str(&format!(" (from {origin})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip() {
        let c = Config::default();
        c.validate().unwrap();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(Config::from_toml_str(&text).unwrap(), c);
    }

    #[test]
    fn internal_topics_are_named_after_the_group_unless_set() {
        let c = Config::from_toml_str("[kafka]\ngroup_id = \"care-eu\"\n").unwrap();
        assert_eq!(c.topics.repartition, "care-eu-repartition");
        assert_eq!(c.topics.changelog, "care-eu-correlate-changelog");
        let c = Config::from_toml_str(
            "[kafka]\ngroup_id = \"care-eu\"\n[topics]\nrepartition = \"r\"\nchangelog = \"c\"\n",
        )
        .unwrap();
        assert_eq!((&*c.topics.repartition, &*c.topics.changelog), ("r", "c"));
        let c = Config::from_toml_str("").unwrap();
        assert_eq!(c.topics.repartition, Config::default().topics.repartition);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_toml_str("[kafka]\nbrokerz = \"x:1\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("brokerz"), "{err}");
        assert!(err.contains("kafka"), "{err}");
    }

    #[test]
    fn a_misspelt_key_gets_a_suggestion_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[kafka]\nbrokers = \"a:1\"\n\n[pipeline]\nkeyed_stag = true\n",
        )
        .unwrap();
        let err = Config::load(&p).unwrap_err().to_string();
        assert!(err.contains("did you mean `keyed_stage`?"), "{err}");
        assert!(err.contains(&format!("{}:5", p.display())), "{err}");
    }

    #[test]
    fn zero_timeouts_are_refused() {
        for (toml, key) in [
            (
                "[pipeline]\nshutdown_timeout_ms = 0\n[source]\ndrain_timeout_ms = 0\n",
                "pipeline.shutdown_timeout_ms",
            ),
            (
                "[pipeline]\noutput_stall_ms = 0\n",
                "pipeline.output_stall_ms",
            ),
            (
                "[pipeline]\nliveness_stall_ms = 1000\n",
                "pipeline.liveness_stall_ms",
            ),
        ] {
            let err = Config::from_toml_str(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }

    #[test]
    fn type_errors_never_quote_the_value() {
        let err = Config::from_toml_str("[kafka]\nproperties = \"sasl.password=hunter2\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("kafka.properties") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_is_named() {
        let err = Config::from_toml_str("[source]\nmax_batch_rows = \"lots\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("source.max_batch_rows"), "{err}");
    }

    #[test]
    fn semantic_errors_name_the_key() {
        for (toml, key) in [
            ("[kafka]\nbrokers = \"nohost\"\n", "kafka.brokers"),
            (
                "[kafka]\nauto_offset_reset = \"middle\"\n",
                "kafka.auto_offset_reset",
            ),
            (
                "[kafka.properties]\n\"enable.auto.commit\" = \"true\"\n",
                "kafka.properties.\"enable.auto.commit\"",
            ),
            ("[topics]\ndlq = \"mentions\"\n", "topics.dlq"),
            ("[identity]\nkeep_versions = 0\n", "identity.keep_versions"),
            (
                "[identity]\ndefault_country_code = \"+44\"\n",
                "identity.default_country_code",
            ),
            (
                "[identity]\npoll_interval_ms = 0\n",
                "identity.poll_interval_ms",
            ),
            (
                "[topics]\nwork_items = \"bad topic\"\n",
                "topics.work_items",
            ),
            ("[source]\nmax_batch_rows = 0\n", "source.max_batch_rows"),
            ("[metrics]\naddr = \"localhost\"\n", "metrics.addr"),
            ("[sink]\ncompression = \"brotli\"\n", "sink.compression"),
            (
                "[pipeline]\ndelivery = \"exactly_once\"\n",
                "pipeline.delivery",
            ),
            (
                "[kafka.properties]\n\"transactional.id\" = \"x\"\n",
                "transactional.id",
            ),
        ] {
            let err = Config::from_toml_str(toml).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature
    fn env_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[kafka]\nbrokers = \"a:1\"\n").unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("SWITCHBOARD__KAFKA__BROKERS", "b:2");
            let c = Config::load(&path).unwrap();
            assert_eq!(c.kafka.brokers, "b:2");
            Ok(())
        });
    }

    #[test]
    fn delivery_modes_parse() {
        let c =
            Config::from_toml_str("[pipeline]\nkeyed_stage = true\ndelivery = \"exactly_once\"\n")
                .unwrap();
        assert_eq!(c.pipeline.delivery, Delivery::ExactlyOnce);
        assert_eq!(Config::default().pipeline.delivery, Delivery::AtLeastOnce);
        let err = Config::from_toml_str("[pipeline]\ndelivery = \"at_most_once\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pipeline.delivery"), "{err}");
    }

    #[test]
    fn missing_file_is_an_error() {
        let err = Config::load(Path::new("/nonexistent/switchboard.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/switchboard.toml"), "{err}");
    }
}

#[cfg(test)]
mod example_tests {
    #[test]
    fn shipped_example_config_is_valid() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/switchboard.example.toml"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let c = super::Config::from_toml_str(&text).unwrap();
        assert_eq!(c.metrics.addr, "0.0.0.0:9898");
    }
}

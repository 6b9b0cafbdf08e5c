//! Secrets in the configuration, and librdkafka properties from the
//! environment.
//!
//! - A key whose name contains `password`, `secret`, `token` or `key`
//!   (`sasl.password`, `ssl.key.password`, `sasl.oauthbearer.client.secret`,
//!   `ssl.key.location`, …) holds a secret: its value is registered when the
//!   config loads ([`register`]) and [`redact`] replaces it with `***` in
//!   every line the binary writes (its error line and its logs, through
//!   [`RedactingStderr`]); `switchboard config` masks it; errors about it
//!   never quote it.
//! - `SWITCHBOARD__KAFKA__PROPERTIES__<NAME>` sets the librdkafka property
//!   named by `<NAME>` lower-cased, with `_` read as `.` and `__` as a real
//!   `_` ([`property_from_env`]): `…__SASL_PASSWORD` → `sasl.password`,
//!   `…__ENABLE__SASL__QUEUE` → `enable_sasl_queue`.

use std::collections::BTreeMap;
use std::sync::RwLock;

/// What replaces a secret value.
pub const MASK: &str = "***";

/// The prefix of the environment variables that set librdkafka properties.
pub const ENV_PROPERTIES_PREFIX: &str = "SWITCHBOARD__KAFKA__PROPERTIES__";

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Whether a key's value is a secret (its name contains `password`,
/// `secret`, `token` or `key`, in any case).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token", "key"]
        .iter()
        .any(|w| k.contains(w))
}

/// Remembers a secret value so that [`redact`] hides it from now on.
pub fn register(value: &str) {
    if value.is_empty() {
        return;
    }
    let mut s = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    if !s.iter().any(|v| v == value) {
        s.push(value.to_string());
        // Longest first, so that a secret containing another is masked whole.
        s.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }
}

/// `text` with every registered secret value replaced by [`MASK`].
pub fn redact(text: &str) -> String {
    let s = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_string();
    for v in s.iter() {
        if out.contains(v.as_str()) {
            out = out.replace(v.as_str(), MASK);
        }
    }
    out
}

/// The librdkafka property an environment variable suffix names:
/// lower-cased, `__` → `_`, `_` → `.`.
pub fn property_from_env(suffix: &str) -> String {
    suffix
        .to_ascii_lowercase()
        .split("__")
        .map(|part| part.replace('_', "."))
        .collect::<Vec<_>>()
        .join("_")
}

/// The librdkafka properties set by `SWITCHBOARD__KAFKA__PROPERTIES__…`
/// variables among `vars`. `SWITCHBOARD__KAFKA__PROPERTIES` itself (the
/// whole table as one string) is an error that never quotes its value.
pub fn env_properties(
    vars: impl Iterator<Item = (String, String)>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let whole = &ENV_PROPERTIES_PREFIX[..ENV_PROPERTIES_PREFIX.len() - 2];
    for (name, value) in vars {
        let upper = name.to_ascii_uppercase();
        if upper == whole {
            return Err(format!(
                "environment variable {name}: set each librdkafka property as its own variable, \
                 e.g. {ENV_PROPERTIES_PREFIX}SASL_PASSWORD for sasl.password (`_` is read as `.`, `__` as `_`)"
            ));
        }
        if let Some(suffix) = upper.strip_prefix(ENV_PROPERTIES_PREFIX) {
            if !suffix.is_empty() {
                out.insert(property_from_env(suffix), value);
            }
        }
    }
    Ok(out)
}

/// Whether an environment variable (name after `SWITCHBOARD__`) is one of
/// the properties [`env_properties`] reads (so the generic mapping skips it).
pub fn is_env_property(key_after_prefix: &str) -> bool {
    key_after_prefix
        .to_ascii_uppercase()
        .starts_with("KAFKA__PROPERTIES")
}

/// Runs a log line's write to stderr; set by a live display (the demo's
/// progress line) to clear itself first and redraw after.
pub type LogsAround =
    Box<dyn Fn(&mut dyn FnMut() -> std::io::Result<()>) -> std::io::Result<()> + Send + Sync>;

static LOGS_AROUND: RwLock<Option<LogsAround>> = RwLock::new(None);

/// Routes every log line's write through `around` (`None`: straight to
/// stderr again), so that a live line on the terminal is never written
/// into.
pub fn route_logs_around(around: Option<LogsAround>) {
    *LOGS_AROUND.write().unwrap_or_else(|e| e.into_inner()) = around;
}

/// A `tracing` writer to stderr that masks registered secrets in each line.
#[derive(Clone, Copy, Default)]
pub struct RedactingStderr;

/// The writer of one event (buffered, masked on flush/drop).
pub struct RedactingLine(Vec<u8>);

impl std::io::Write for RedactingLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.0.is_empty() {
            let text = redact(&String::from_utf8_lossy(&self.0));
            self.0.clear();
            let around = LOGS_AROUND.read().unwrap_or_else(|e| e.into_inner());
            match around.as_ref() {
                Some(around) => around(&mut || std::io::stderr().write_all(text.as_bytes()))?,
                None => std::io::stderr().write_all(text.as_bytes())?,
            }
        }
        Ok(())
    }
}

impl Drop for RedactingLine {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingLine;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingLine(Vec::new())
    }
}

/// The properties with secret values replaced by [`MASK`].
pub fn masked(props: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    props
        .iter()
        .map(|(k, v)| {
            let v = if is_secret_key(k) {
                MASK.to_string()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_map_to_dotted_properties() {
        assert_eq!(property_from_env("SASL_PASSWORD"), "sasl.password");
        assert_eq!(property_from_env("SSL_KEY_PASSWORD"), "ssl.key.password");
        assert_eq!(
            property_from_env("ENABLE__SASL__QUEUE"),
            "enable_sasl_queue"
        );
        let vars = vec![
            (
                "SWITCHBOARD__KAFKA__PROPERTIES__SASL_MECHANISM".into(),
                "PLAIN".into(),
            ),
            ("SWITCHBOARD__KAFKA__BROKERS".into(), "b:9092".into()),
        ];
        let p = env_properties(vars.into_iter()).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p["sasl.mechanism"], "PLAIN");
        let whole = vec![(
            "SWITCHBOARD__KAFKA__PROPERTIES".to_string(),
            "sasl.password=hunter2".to_string(),
        )];
        let e = env_properties(whole.into_iter()).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn secret_keys_and_values_are_masked() {
        for k in [
            "sasl.password",
            "ssl.key.location",
            "SASL.OAUTHBEARER.CLIENT.SECRET",
            "x.token",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        assert!(!is_secret_key("sasl.mechanism"));
        register("s3cr3t-value");
        assert_eq!(redact("bad value s3cr3t-value here"), "bad value *** here");
        let mut p = BTreeMap::new();
        p.insert("sasl.password".to_string(), "x".to_string());
        p.insert("sasl.username".to_string(), "u".to_string());
        let m = masked(&p);
        assert_eq!(m["sasl.password"], MASK);
        assert_eq!(m["sasl.username"], "u");
    }
}

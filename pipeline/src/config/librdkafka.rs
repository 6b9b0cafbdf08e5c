//! `kafka.properties` checked the way `run` would: every property is set on
//! a librdkafka configuration (no client is created, nothing connects), so
//! an unknown name or a bad value fails in `check-config` as it would fail
//! in `run`. An unknown name gets the closest known one ("did you mean");
//! a value is never quoted (it may be a secret).

use crate::error::{PipelineError, Result};

/// Every property name librdkafka knows (global and topic level), from
/// the table `rd_kafka_conf_properties_show` prints (its configuration dump
/// leaves out unset secrets such as `sasl.password`).
pub fn known_properties() -> Vec<String> {
    let mut text = Vec::new();
    // SAFETY: a temporary FILE is written by librdkafka, read back and
    // closed here.
    unsafe {
        let fp = libc::tmpfile();
        if fp.is_null() {
            return Vec::new();
        }
        rdkafka::bindings::rd_kafka_conf_properties_show(fp.cast());
        libc::fflush(fp);
        libc::rewind(fp);
        let mut buf = [0u8; 8192];
        loop {
            let n = libc::fread(buf.as_mut_ptr().cast(), 1, buf.len(), fp);
            if n == 0 {
                break;
            }
            text.extend_from_slice(&buf[..n]);
        }
        libc::fclose(fp);
    }
    let mut out: Vec<String> = String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|l| l.split('|').next())
        .map(str::trim)
        .filter(|n| {
            n.len() > 2
                && n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_')
        })
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The known name closest to `name`, if close enough to be a typo.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 5))
        .min()
        .map(|(_, k)| k.to_string())
}

/// Sets every property of `config` on a librdkafka configuration.
pub fn check(config: &rdkafka::ClientConfig) -> Result<()> {
    match config.create_native_config() {
        Ok(_) => Ok(()),
        Err(rdkafka::error::KafkaError::ClientConfig(_, desc, key, value)) => {
            let known = known_properties();
            let mut reason = if !known.iter().any(|k| k == &key) {
                "librdkafka has no such property".to_string()
            } else {
                let mut d = desc;
                if !value.is_empty() {
                    d = d.replace(&value, super::secrets::MASK);
                }
                format!("librdkafka rejects it: {}", super::secrets::redact(&d))
            };
            if let Some(m) = did_you_mean(&key, known.iter().map(String::as_str)) {
                if m != key {
                    reason.push_str(&format!("; did you mean `{m}`?"));
                }
            }
            Err(PipelineError::Config {
                key: format!("kafka.properties.\"{key}\""),
                reason,
            })
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_and_invalid_properties_fail_without_their_value() {
        let known = known_properties();
        assert!(known.iter().any(|k| k == "sasl.mechanisms"), "{known:?}");
        assert!(known.iter().any(|k| k == "message.timeout.ms"));
        let mut c = rdkafka::ClientConfig::new();
        c.set("sasl.mechansim", "PLAIN");
        let e = check(&c).unwrap_err().to_string();
        assert!(e.contains("kafka.properties.\"sasl.mechansim\""), "{e}");
        assert!(e.contains("did you mean `sasl.mechanism"), "{e}");
        let mut c = rdkafka::ClientConfig::new();
        c.set("sasl.pasword", "hunter2-x");
        let e = check(&c).unwrap_err().to_string();
        assert!(e.contains("did you mean `sasl.password`"), "{e}");
        assert!(!e.contains("hunter2-x"), "{e}");
        let mut c = rdkafka::ClientConfig::new();
        c.set("security.protocol", "sasl_plaintex");
        let e = check(&c).unwrap_err().to_string();
        assert!(
            e.contains("security.protocol") && e.contains("rejects"),
            "{e}"
        );
        let mut c = rdkafka::ClientConfig::new();
        c.set("sasl.mechanism", "PLAIN").set("linger.ms", "5");
        check(&c).unwrap();
    }
}

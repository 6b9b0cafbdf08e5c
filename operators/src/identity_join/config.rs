//! The identity join's settings and their checks.

use serde::{Deserialize, Serialize};

use crate::error::{OperatorError, Result};

/// Configuration of the identity join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityJoinConfig {
    /// Country calling code (digits, no `+`) given to national phone
    /// numbers written with a trunk `0`, e.g. `"44"`: `07700 900123` →
    /// `+447700900123`.
    pub default_country_code: String,
    /// How many snapshot versions to keep for as-of joins of late mentions
    /// (at least 1).
    pub keep_versions: usize,
}

impl Default for IdentityJoinConfig {
    fn default() -> Self {
        Self {
            default_country_code: "44".into(),
            keep_versions: 2,
        }
    }
}

impl IdentityJoinConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        let cc = &self.default_country_code;
        if cc.is_empty()
            || cc.len() > 3
            || !cc.bytes().all(|b| b.is_ascii_digit())
            || cc.starts_with('0')
        {
            return Err(OperatorError::Config {
                key: "identity_join.default_country_code".into(),
                reason: format!("`{cc}` is not a country calling code (1–3 digits, no `+`)"),
            });
        }
        if self.keep_versions == 0 {
            return Err(OperatorError::Config {
                key: "identity_join.keep_versions".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

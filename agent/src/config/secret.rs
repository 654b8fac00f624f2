//! A credential value that never shows: `Debug`, `Display` and `Serialize`
//! all print `[redacted]`. Only [`Secret::expose`] gives the value.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

pub const REDACTED: &str = "[redacted]";

#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let secret = Secret::new("sk-canary-123");
        let shown = format!("{secret} {secret:?} {}", serde_json::to_string(&secret).expect("json"));
        assert!(!shown.contains("canary"), "{shown}");
        assert_eq!(secret.expose(), "sk-canary-123");
    }
}

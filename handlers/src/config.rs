//! Table names, read once at start-up from the environment the template sets.

use std::fmt;

/// A required environment variable is missing or empty.
#[derive(Clone, PartialEq, Eq)]
pub struct MissingSetting(pub &'static str);

/// `main` prints its error with `Debug`: make that the readable message.
impl fmt::Debug for MissingSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for MissingSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "environment variable {} is not set: template.yaml sets it for the deployed function", self.0)
    }
}

impl std::error::Error for MissingSetting {}

/// Reads a required setting.
pub fn required(name: &'static str) -> Result<String, MissingSetting> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty()).ok_or(MissingSetting(name))
}

#[cfg(test)]
mod tests {
    use super::{required, MissingSetting};

    #[test]
    fn a_missing_setting_names_itself() {
        let err = required("DDBSTREAM_SURELY_UNSET_SETTING").err();
        assert_eq!(err, Some(MissingSetting("DDBSTREAM_SURELY_UNSET_SETTING")));
        assert!(err.is_some_and(|e| e
            .to_string()
            .starts_with("environment variable DDBSTREAM_SURELY_UNSET_SETTING is not set")));
    }
}

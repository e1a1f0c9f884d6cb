//! Why a record could not be turned into a typed change: shared by the layers that read a
//! record (`payload/`), decode its images (`decode/`) and report its failure (`contract/`).

use std::fmt;

use crate::redact::redact;

/// A record, or one of its images, does not fit: names the part, the field and the reason.
///
/// Values from the item are redacted from the reason, so the error can be logged without
/// leaking item contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    part: &'static str,
    path: String,
    reason: String,
}

impl DecodeError {
    /// An error about `part` (`record`, `Keys`, `NewImage`, `OldImage`) at field `path`.
    pub(crate) fn new(part: &'static str, path: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self { part, path: path.into(), reason: redact(&reason.to_string()) }
    }

    /// The part of the record: `record`, `Keys`, `NewImage` or `OldImage`.
    pub fn part(&self) -> &str {
        self.part
    }

    /// The dotted path of the field that did not fit, empty for the part itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What was wrong, with item values redacted.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.part, self.reason)
        } else {
            write!(f, "{} field `{}`: {}", self.part, self.path, self.reason)
        }
    }
}

impl std::error::Error for DecodeError {}

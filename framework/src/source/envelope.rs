//! What every source's envelope yields (its records left as raw JSON, how the answer names
//! a failed one, a tumbling window's fields), and how a payload is read as JSON.

use super::window_fields::WindowFields;
use crate::payload::RawRecord;
use crate::redact::redact;

/// How the answer names the record Lambda (or the pipe) retries from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Identifier {
    /// `dynamodb.SequenceNumber`, which must be numeric.
    SequenceNumber,
    /// `eventID`, which must not be empty.
    EventId,
}

/// A payload's records, each left as raw JSON, and how its answer names them.
pub(crate) struct SourceBatch<'a> {
    pub(crate) records: Vec<RawRecord<'a>>,
    pub(crate) identifier: Identifier,
    /// A tumbling window's fields, on a window event.
    pub(crate) window: Option<WindowFields<'a>>,
}

/// Reads a payload as JSON. Text that is UTF-8 throughout (checked once, at memory speed)
/// is read as text, so that no string in it is checked again; other bytes are read as
/// bytes, whose error names where the text stops being UTF-8.
pub(super) fn from_payload<'a, T: serde::Deserialize<'a>>(payload: &'a [u8]) -> Result<T, serde_json::Error> {
    match std::str::from_utf8(payload) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(payload),
    }
}

/// What is wrong with a payload that does not deserialize.
pub(super) fn describe(payload: &[u8], err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match err.classify() {
        Category::Data => match serde_json::from_slice::<serde::de::IgnoredAny>(payload) {
            Ok(_) => format!("the payload is JSON but not a stream event ({})", redact(&err.to_string())),
            Err(inner) => format!("the payload is not valid JSON ({})", redact(&inner.to_string())),
        },
        Category::Eof | Category::Syntax | Category::Io => {
            format!("the payload is not valid JSON ({})", redact(&err.to_string()))
        }
    }
}

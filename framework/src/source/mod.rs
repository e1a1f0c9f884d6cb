//! Sources: the shapes in which DynamoDB changes reach a function. Each source turns its
//! envelope into the records the rest of the pipeline handles, and says how the answer
//! names a failed record; nothing after this module knows which source a batch came from.
//!
//! - `stream_event`: a DynamoDB stream's event source mapping, `{"Records": [...]}`,
//!   failures named by sequence number;
//! - `pipes`: EventBridge Pipes with a DynamoDB stream source, a bare array of the same
//!   records, failures named by `eventID`.

mod pipes;
mod stream_event;

use crate::decode::redact;
use crate::payload::RecordFields;
use crate::Error;

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
    pub(crate) records: Vec<RecordFields<'a>>,
    pub(crate) identifier: Identifier,
}

/// Splits a payload by its shape: a JSON array is what a pipe delivers; anything else is
/// read as a stream event.
pub(crate) fn split(payload: &[u8]) -> Result<SourceBatch<'_>, Error> {
    match payload.iter().find(|byte| !byte.is_ascii_whitespace()) {
        Some(b'[') => pipes::split(payload),
        _ => stream_event::split(payload),
    }
}

/// What is wrong with a payload that does not deserialize.
fn describe(payload: &[u8], err: &serde_json::Error) -> String {
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

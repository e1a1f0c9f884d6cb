//! What fails a whole invocation.

use std::fmt;

/// Any error a handler may return: it fails the change's record.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An error's message followed by its source chain (`outer: cause: root cause`): where an
/// SDK error keeps the service's code and message.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// An error that fails the whole invocation, so Lambda retries the whole batch.
///
/// Record failures are not errors: they are reported in the batch response. These are the
/// cases where no correct partial response exists.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The payload is not a DynamoDB Streams event (not JSON, or no `Records` array).
    NotAStreamEvent(String),
    /// A record comes from a stream that has no route, and there is no fallback.
    NoRoute {
        /// The record's `eventSourceARN`.
        stream_arn: String,
        /// The streams the router knows (table names and ARNs).
        known: Vec<String>,
    },
    /// A record failed and has nothing to report it by (a numeric sequence number; for a
    /// pipe, an `eventID`): an empty or made-up `itemIdentifier` would be misread, so the
    /// whole batch fails.
    Unreportable {
        /// Position of the record in the payload's `Records` array.
        position: usize,
        /// Its `eventID`, if it had one.
        event_id: Option<String>,
        /// Why it failed.
        failure: String,
    },
    /// The first record failed and [`Router::error_when_nothing_processed`](crate::Router::error_when_nothing_processed) is on.
    NothingProcessed {
        /// The first record's identifier: its sequence number (for a pipe, its `eventID`).
        sequence_number: String,
        /// Why it failed.
        failure: String,
    },
    /// The function's configuration is invalid (an environment variable, for example).
    Config(String),
    /// The event has a shape no route handles (a tumbling-window event for a stream
    /// without a window route, for example): refused before any handler runs.
    Unsupported(String),
    /// A tumbling window's state or final step failed (a state that does not decode, one
    /// over Lambda's 1 MB, a final step that failed or outlived the deadline margin):
    /// nothing is answered, and Lambda retries the batch with the state it started with.
    Window(String),
}

impl Error {
    /// A short name for the kind of error, used as Lambda's `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotAStreamEvent(_) => "NotAStreamEvent",
            Self::NoRoute { .. } => "NoRoute",
            Self::Unreportable { .. } => "UnreportableFailure",
            Self::NothingProcessed { .. } => "NothingProcessed",
            Self::Config(_) => "Config",
            Self::Unsupported(_) => "Unsupported",
            Self::Window(_) => "Window",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAStreamEvent(detail) => write!(f, "not a DynamoDB Streams event: {detail}"),
            Self::NoRoute { stream_arn, known } => {
                let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
                write!(
                    f,
                    "no route for stream `{stream_arn}` (routes: {known}; no fallback): the whole batch fails so \
                     nothing is acknowledged unprocessed; add a route for this stream or a fallback"
                )
            }
            Self::Unreportable { position, event_id, failure } => write!(
                f,
                "record {position} (eventID {}) failed and has no identifier to report it by (a numeric \
                 SequenceNumber; for a pipe, an eventID), so the whole batch fails: {failure}",
                event_id.as_deref().unwrap_or("missing"),
            ),
            Self::NothingProcessed { sequence_number, failure } => {
                write!(f, "the first record, {sequence_number}, failed and nothing was processed: {failure}")
            }
            Self::Config(detail) => write!(f, "invalid configuration: {detail}"),
            Self::Unsupported(detail) => write!(f, "unsupported event: {detail}"),
            Self::Window(detail) => write!(f, "tumbling window: {detail}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        Self { error_type: format!("ddbstream::{}", error.kind()), error_message: error.to_string() }
    }
}

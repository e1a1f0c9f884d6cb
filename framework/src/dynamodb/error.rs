//! Why a write failed: the SDK error with its whole source chain.

use std::fmt;

/// Why [`ExactlyOnce`](super::ExactlyOnce) could not apply a change's writes. The message
/// carries the SDK error's whole source chain (the service's error code and message, or the
/// connection error), not only its summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    message: String,
}

impl WriteError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }

    /// An SDK call's error, with its source chain.
    pub(crate) fn sdk(operation: &str, error: &dyn std::error::Error) -> Self {
        Self { message: format!("{operation} failed: {}", crate::error::error_chain(error)) }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WriteError {}

//! Small helpers shared by the functions: attribute values and items, error chains.

mod attributes;

pub use attributes::{item, n, s};

/// An error's message with its source chain, which is where the cause is.
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

/// Why a sequence number cannot be stored (see `SequenceNumber::sortable`).
pub const NOT_SORTABLE: &str = "the sequence number is not a number of at most 40 digits";

//! DynamoDB plumbing shared by the functions: attribute helpers, and applying the
//! customers view's self-guarded writes (each view item carries its own `source_seq`
//! condition; the orders function uses `ddbstream::dynamodb::ExactlyOnce` instead).

mod attributes;
mod write;

pub use attributes::{item, n, s};
pub use write::{apply, error_chain, Applied};

/// Why a sequence number cannot be stored (see `SequenceNumber::sortable`).
pub const NOT_SORTABLE: &str = "the sequence number is not a number of at most 40 digits";

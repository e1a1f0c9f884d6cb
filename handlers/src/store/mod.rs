//! Small helpers shared by the functions: attribute values and items.

mod attributes;

pub use attributes::{item, n, s};

/// Why a sequence number cannot be stored (see `SequenceNumber::sortable`).
pub const NOT_SORTABLE: &str = "the sequence number is not a number of at most 40 digits";

//! DynamoDB plumbing shared by the functions: stored sequence numbers, attribute helpers,
//! and applying planned writes.

mod attributes;
mod sequence;
mod write;

pub use attributes::{item, n, s};
pub use sequence::{sortable, WIDTH};
pub use write::{apply, error_chain, Applied};

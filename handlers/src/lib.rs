//! Deployable DynamoDB Streams functions built on [`ddbstream`].
//!
//! Each binary's `main.rs` is thin Lambda glue; the logic lives here, callable from tests
//! with no AWS.

pub mod fault_injection;

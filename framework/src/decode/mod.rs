//! Decode: raw records into typed changes, one record at a time.

mod change;
mod dynamo_json;
mod error;
mod image;

pub(crate) use change::decode_record;
pub(crate) use error::redact;
pub use error::{DecodeError, MissingImage};
pub(crate) use image::decode_image;

//! Decode: raw records into typed changes, one record at a time.

mod dynamo_json;
mod image;
mod path_error;
mod record;

pub(crate) use record::decode_record;

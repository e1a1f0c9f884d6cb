//! Payload in: the Lambda event split into records, each parsed on its own.

mod envelope;
mod fields;
mod record;
mod sequence_number;
mod stream_arn;

pub(crate) use envelope::split_records;
pub(crate) use record::{RawRecord, WireRecord};
pub use sequence_number::SequenceNumber;
pub use stream_arn::StreamArn;

//! Records in: each record of a batch (as its source split it) parsed on its own.

mod fields;
mod record;
mod sequence_number;
mod stream_arn;

pub(crate) use fields::{RecordFields, StreamFields};
pub(crate) use record::{RawRecord, WireRecord};
pub use sequence_number::SequenceNumber;
pub(crate) use stream_arn::is_kinesis_stream;
pub use stream_arn::StreamArn;

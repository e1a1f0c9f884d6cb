//! Records in: each record of a batch (as its source split it) parsed on its own.

mod event_name;
mod raw_record;
mod record;
mod sequence_number;
mod stream_arn;
mod user_identity;
mod view_type;

pub use event_name::EventName;
pub(crate) use raw_record::{RawRecord, StreamFields};
pub(crate) use record::{table_of, Record, WireRecord};
pub use sequence_number::SequenceNumber;
pub(crate) use stream_arn::is_kinesis_stream;
pub use stream_arn::StreamArn;
pub use user_identity::UserIdentity;
pub use view_type::StreamViewType;

//! Everything a record says about a change besides the item itself.

use std::time::SystemTime;

use crate::payload::{EventName, SequenceNumber, StreamViewType, UserIdentity};

/// The metadata of one stream record.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Metadata {
    /// Position of the record in its shard; compare these, never arrival order. Through
    /// Kinesis, the Kinesis record's sequence number.
    pub sequence_number: SequenceNumber,
    /// The record's `eventID`.
    pub event_id: String,
    /// What happened to the item.
    pub event_name: EventName,
    /// The table name parsed from `eventSourceARN` (through Kinesis, the record's
    /// `tableName`), or `None` when that is not a stream ARN (placeholder text in
    /// hand-written payloads).
    pub table_name: Option<String>,
    /// The stream ARN (`eventSourceARN`) exactly as sent: the DynamoDB stream's, or
    /// through Kinesis, the Kinesis data stream's.
    pub stream_arn: String,
    /// The Region (`awsRegion`).
    pub region: String,
    /// When the change was written (`ApproximateCreationDateTime`), if sent: to the second
    /// from a DynamoDB stream; through Kinesis, to the millisecond or microsecond, as the
    /// table's setting says.
    pub approximate_creation_time: Option<SystemTime>,
    /// The record's size in bytes (`SizeBytes`).
    pub size_bytes: u64,
    /// Which images the stream carries.
    pub view_type: StreamViewType,
    /// The record's `userIdentity`, present on TTL deletes.
    pub user_identity: Option<UserIdentity>,
}

impl Metadata {
    /// Whether the change came through a table's Kinesis streaming destination (its
    /// `stream_arn` is a Kinesis stream's): its `sequence_number` is the Kinesis record's,
    /// which orders nothing across shards, and changes of one item may arrive out of order
    /// or more than once.
    pub fn via_kinesis(&self) -> bool {
        crate::payload::is_kinesis_stream(&self.stream_arn)
    }

    /// `approximate_creation_time` in whole microseconds since the epoch (rounded to the
    /// nearest, so that a time sent in microseconds comes back exactly).
    pub fn creation_micros(&self) -> Option<u128> {
        let since = self.approximate_creation_time?.duration_since(SystemTime::UNIX_EPOCH).ok()?;
        Some((since.as_nanos() + 500) / 1_000)
    }

    /// Whether this is a `REMOVE` made by DynamoDB's TTL process rather than by a user.
    pub fn is_ttl_expiry(&self) -> bool {
        self.event_name == EventName::Remove
            && self.user_identity.as_ref().is_some_and(UserIdentity::is_dynamodb_service)
    }
}

/// Reads `ApproximateCreationDateTime`. DynamoDB sends epoch seconds to Lambda; some
/// published samples carry milliseconds (as Kinesis Data Streams receives), so values too
/// large to be seconds before the year 5000 are read as milliseconds.
pub(crate) fn creation_time(value: f64) -> Option<SystemTime> {
    const MILLIS_THRESHOLD: f64 = 100_000_000_000.0;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let seconds = if value >= MILLIS_THRESHOLD { value / 1000.0 } else { value };
    let whole = std::time::Duration::try_from_secs_f64(seconds).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(whole)
}

#[cfg(test)]
mod tests {
    use super::creation_time;
    use std::time::{Duration, SystemTime};

    #[test]
    fn seconds_milliseconds_and_nonsense() {
        let at = |s: u64| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(creation_time(1_480_642_020.0), at(1_480_642_020));
        assert_eq!(creation_time(1_480_642_020_000.0), at(1_480_642_020));
        assert_eq!(creation_time(-1.0), None);
        assert_eq!(creation_time(f64::NAN), None);
    }
}

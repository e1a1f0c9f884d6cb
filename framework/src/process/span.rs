//! The tracing span each record is processed in.

use tracing::Span;

use crate::payload::RawRecord;
use crate::StreamArn;

/// A span naming the record (table, event name, sequence number, event id), never its
/// contents.
pub(crate) fn record_span(record: &RawRecord<'_>) -> Span {
    let table = record.event_source_arn().and_then(StreamArn::parse).map(|arn| arn.table);
    tracing::info_span!(
        "record",
        table = table.unwrap_or("?"),
        event_name = record.event_name().map_or("?", |e| e.as_str()),
        sequence_number = record.sequence_number().map_or("?", |s| s.as_str()),
        event_id = record.event_id().unwrap_or("?"),
    )
}

//! The tracing span each record is processed in.

use tracing::Span;

use crate::payload::Record;

/// Logs a record's keys and images as sent (DynamoDB JSON), for routes that opted in with
/// `log_items`.
pub(crate) fn log_record_contents(record: &Record<'_>) {
    if let Ok(wire) = &record.parsed {
        let image = |raw: Option<&serde_json::value::RawValue>| raw.map_or("-", |raw| raw.get()).to_owned();
        tracing::info!(
            keys = wire.dynamodb.keys.get(),
            new_image = image(wire.dynamodb.new_image).as_str(),
            old_image = image(wire.dynamodb.old_image).as_str(),
            "record contents"
        );
    }
}

/// A span naming the record (table, event name, sequence number, event id), never its
/// contents.
pub(crate) fn record_span(record: &Record<'_>) -> Span {
    tracing::info_span!(
        "record",
        table = record.table().unwrap_or("?"),
        event_name = record.event_name().map_or("?", |e| e.as_str()),
        sequence_number = record.sequence_number().map_or("?", |s| s.as_str()),
        event_id = record.event_id().unwrap_or("?"),
    )
}

//! Records grouped into the exact events Lambda would send for one shard.

use serde_json::{json, Value};

use super::record::StreamRecord;
use crate::source::stream_event;

/// Lambda's synchronous invocation payload limit: 6 MB.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// The Lambda event (`{"Records": [...]}`) for these records, as bytes.
pub fn lambda_event(records: &[StreamRecord]) -> Vec<u8> {
    let records: Vec<Value> = records.iter().map(StreamRecord::to_lambda_json).collect();
    stream_event(&records).unwrap_or_default()
}

/// What an EventBridge pipe with this stream as its source hands its Lambda target for
/// these records: a bare JSON array of the same records, as bytes.
pub fn pipes_event(records: &[StreamRecord]) -> Vec<u8> {
    let records: Vec<Value> = records.iter().map(StreamRecord::to_lambda_json).collect();
    serde_json::to_vec(&records).unwrap_or_default()
}

/// The Kinesis sequence number of the `arrival`-th record (from 0) a shard of the kit's
/// Kinesis stream received: 56 digits as Kinesis sequence numbers have, `4959` then
/// `arrival + 1` zero-padded. A Kinesis shard numbers records as they arrive, so the
/// numbers follow delivery, not the changes' order: a late or duplicated change carries a
/// higher number than the changes delivered before it, as in production.
pub fn kinesis_sequence_number(arrival: usize) -> String {
    format!("4959{:0>52}", arrival + 1)
}

/// The Kinesis record carrying `record`, the `arrival`-th record of its shard (see
/// [`kinesis_sequence_number`]), as a table's Kinesis streaming destination sends it: the
/// change (with `tableName`, its creation time in milliseconds, both images when the item
/// has them, no `SequenceNumber` or `StreamViewType`) base64 in `data`.
pub fn kinesis_record(record: &StreamRecord, arrival: usize) -> Value {
    use base64::Engine;
    let table = crate::payload::StreamArn::parse(&record.stream_arn).map_or("unknown", |arn| arn.table);
    // The stream record, less what Kinesis records lack, with the time in milliseconds.
    let mut stream = record.to_lambda_json();
    let mut change = stream["dynamodb"].take();
    if let Some(change) = change.as_object_mut() {
        change.remove("SequenceNumber");
        change.remove("StreamViewType");
        change.insert(
            "ApproximateCreationDateTime".to_owned(),
            json!(record.approximate_creation_time.saturating_mul(1_000)),
        );
    }
    let mut data = json!({
        "awsRegion": record.region,
        "eventID": record.event_id,
        "eventName": record.event_name,
        "recordFormat": "application/json",
        "tableName": table,
        "dynamodb": change,
        "eventSource": "aws:dynamodb",
    });
    if let Some(identity) = stream.get_mut("userIdentity").map(Value::take) {
        data["userIdentity"] = identity;
    }
    let bytes = serde_json::to_vec(&data).unwrap_or_default();
    let sequence_number = kinesis_sequence_number(arrival);
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record.event_id,
            "sequenceNumber": sequence_number,
            "data": base64::engine::general_purpose::STANDARD.encode(bytes),
            "approximateArrivalTimestamp": record.approximate_creation_time,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("shardId-000000000000:{sequence_number}"),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
        "awsRegion": record.region,
        "eventSourceARN": kinesis_stream_arn(record),
    })
}

/// The ARN of the Kinesis data stream the kit delivers `record`'s table's changes through.
pub(crate) fn kinesis_stream_arn(record: &StreamRecord) -> String {
    let table = crate::payload::StreamArn::parse(&record.stream_arn).map_or("unknown", |arn| arn.table);
    format!("arn:aws:kinesis:{}:123456789012:stream/{table}-changes", record.region)
}

/// These records as a table's Kinesis streaming destination may deliver them: AWS documents
/// that records of one item can arrive out of order and more than once. Each record is
/// repeated with probability `duplicates` (0.0 to 1.0), then records move up to `reach`
/// places from where they stand; `seed` makes it reproducible.
pub fn kinesis_disorder(records: &[StreamRecord], duplicates: f64, reach: usize, seed: u64) -> Vec<StreamRecord> {
    let mut state = seed | 1;
    let mut next = move || {
        // xorshift64: reproducible and good enough to shuffle a test's records.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out: Vec<(usize, StreamRecord)> = Vec::with_capacity(records.len() * 2);
    for (position, record) in records.iter().enumerate() {
        out.push((position, record.clone()));
        if (next() % 1_000) as f64 / 1_000.0 < duplicates {
            out.push((position, record.clone()));
        }
    }
    let reach = reach as u64;
    let mut keyed: Vec<(u64, usize, StreamRecord)> = out
        .into_iter()
        .enumerate()
        .map(|(at, (_, record))| (at as u64 * (reach + 1) + next() % (reach * (reach + 1) + 1), at, record))
        .collect();
    keyed.sort_by_key(|(key, at, _)| (*key, *at));
    keyed.into_iter().map(|(_, _, record)| record).collect()
}

/// The Lambda event of a Kinesis data stream carrying these records' changes in this order,
/// as a shard that received them in this order delivers them (numbered from 0 by
/// [`kinesis_sequence_number`]; see [`kinesis_record`]), as bytes. Records from
/// [`kinesis_disorder`] reach the function late and twice, as they would in production.
pub fn kinesis_event(records: &[StreamRecord]) -> Vec<u8> {
    kinesis_event_numbered(records.iter().enumerate())
}

/// As [`kinesis_event`], each record with its arrival number in its shard.
pub(crate) fn kinesis_event_numbered<'a>(records: impl Iterator<Item = (usize, &'a StreamRecord)>) -> Vec<u8> {
    let records: Vec<Value> = records.map(|(arrival, record)| kinesis_record(record, arrival)).collect();
    stream_event(&records).unwrap_or_default()
}

/// How many of `records` (from the first) go into one event: at most `batch_size`, and no
/// more than fit in 6 MB; always at least one.
pub fn batch_len(records: &[StreamRecord], batch_size: usize) -> usize {
    const ENVELOPE: usize = r#"{"Records":[]}"#.len();
    let mut bytes = ENVELOPE;
    let mut len = 0;
    for record in records.iter().take(batch_size.max(1)) {
        let size = serde_json::to_vec(&record.to_lambda_json()).map_or(0, |v| v.len()) + usize::from(len > 0);
        if len > 0 && bytes + size > MAX_PAYLOAD_BYTES {
            break;
        }
        bytes += size;
        len += 1;
    }
    len
}

/// The events Lambda would send for a shard's records, read from the start with no
/// failures: consecutive batches of at most `batch_size` records and 6 MB.
pub fn lambda_batches(records: &[StreamRecord], batch_size: usize) -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    let mut rest = records;
    while !rest.is_empty() {
        let len = batch_len(rest, batch_size);
        events.push(lambda_event(&rest[..len]));
        rest = &rest[len..];
    }
    events
}

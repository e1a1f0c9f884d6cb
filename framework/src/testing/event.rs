//! Records grouped into the exact events Lambda would send for one shard.

use serde_json::{json, Value};

use super::StreamRecord;

/// Lambda's synchronous invocation payload limit: 6 MB.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// The Lambda event (`{"Records": [...]}`) for these records, as bytes.
pub fn lambda_event(records: &[StreamRecord]) -> Vec<u8> {
    let records: Vec<Value> = records.iter().map(StreamRecord::to_lambda_json).collect();
    serde_json::to_vec(&json!({ "Records": records })).unwrap_or_default()
}

/// What an EventBridge pipe with this stream as its source hands its Lambda target for
/// these records: a bare JSON array of the same records, as bytes.
pub fn pipes_event(records: &[StreamRecord]) -> Vec<u8> {
    let records: Vec<Value> = records.iter().map(StreamRecord::to_lambda_json).collect();
    serde_json::to_vec(&records).unwrap_or_default()
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

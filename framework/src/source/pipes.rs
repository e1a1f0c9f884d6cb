//! EventBridge Pipes with a DynamoDB stream source: the target gets a bare JSON array of
//! stream records (no `Records` wrapper, even for one record), and a partial failure names
//! its record by `eventID`.

use super::envelope::{describe, from_payload, Identifier, SourceBatch};
use crate::error::Error;
use crate::payload::RawRecord;

/// Splits a pipe's array into its records, each kept as raw JSON.
pub(crate) fn split(payload: &[u8]) -> Result<SourceBatch<'_>, Error> {
    let records: Vec<RawRecord<'_>> =
        from_payload(payload).map_err(|err| Error::NotAStreamEvent(describe(payload, &err)))?;
    Ok(SourceBatch { records, identifier: Identifier::EventId, window: None })
}

#[cfg(test)]
mod tests {
    use super::split;
    use crate::source::Identifier;

    #[test]
    fn an_array_is_a_pipe_batch_named_by_event_id() {
        let batch = split(br#"[{"eventID":"e1"}, 7]"#);
        let shape = batch.map(|b| (b.records.len(), b.identifier, b.records[1].not_an_object));
        assert_eq!(shape.ok(), Some((2, Identifier::EventId, true)));
    }

    #[test]
    fn names_what_is_wrong() {
        for (payload, expected) in [(&b"[1, "[..], "not valid JSON"), (b"[[1,2]", "not valid JSON")] {
            let message = split(payload).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(expected), "{message:?} should contain {expected:?}");
        }
    }
}

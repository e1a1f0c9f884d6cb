//! A DynamoDB stream's event source mapping: `{"Records": [...]}`, each record left
//! unparsed; failures are named by sequence number.

use serde::Deserialize;

use super::envelope::{describe, from_payload, Identifier, SourceBatch};
use super::window_fields::{Bounds, WindowFields};
use crate::error::Error;
use crate::payload::RawRecord;

/// The event a stream's event source mapping sends for these records, `{"Records": [...]}`:
/// what the runner, the redrive and the test kit hand a router.
#[cfg(any(feature = "runner", feature = "redrive", feature = "testing"))]
pub(crate) fn stream_event<T: serde::Serialize>(records: &[T]) -> Result<Vec<u8>, serde_json::Error> {
    #[derive(serde::Serialize)]
    struct Event<'r, T> {
        #[serde(rename = "Records")]
        records: &'r [T],
    }
    serde_json::to_vec(&Event { records })
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "Records", borrow)]
    records: Option<Vec<RawRecord<'a>>>,
    /// Present only on a tumbling-window event, with the fields below.
    #[serde(default)]
    window: Option<Bounds>,
    #[serde(borrow, default)]
    state: Option<&'a serde_json::value::RawValue>,
    #[serde(rename = "shardId", default)]
    shard_id: String,
    #[serde(rename = "eventSourceARN", default)]
    event_source_arn: String,
    #[serde(rename = "isFinalInvokeForWindow", default)]
    is_final: bool,
    #[serde(rename = "isWindowTerminatedEarly", default)]
    terminated_early: bool,
}

/// Splits a payload into its records in one scan, each record's fields kept as raw JSON
/// whatever their shape, so that one malformed record fails alone instead of failing the
/// batch. Unknown top-level fields are ignored. A tumbling-window event (with `window`)
/// keeps its window fields, which its answer depends on.
pub(crate) fn split(payload: &[u8]) -> Result<SourceBatch<'_>, Error> {
    let envelope: Envelope<'_> =
        from_payload(payload).map_err(|err| Error::NotAStreamEvent(describe(payload, &err)))?;
    let window = envelope.window.map(|window| WindowFields {
        window,
        state: envelope.state,
        shard_id: envelope.shard_id,
        event_source_arn: envelope.event_source_arn,
        is_final: envelope.is_final,
        terminated_early: envelope.terminated_early,
    });
    let records = match (envelope.records, &window) {
        (Some(records), _) => records,
        // A window's final invocation may come without records.
        (None, Some(_)) => Vec::new(),
        (None, None) => return Err(Error::NotAStreamEvent("the payload has no `Records` array".into())),
    };
    Ok(SourceBatch { records, identifier: Identifier::SequenceNumber, window })
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn keeps_every_record_whatever_its_shape() {
        let records = split(br#"{"Records":[{"eventID":"e1"}, 7, "x", [1, [2]]], "other": {}}"#);
        let shapes = records.map(|b| {
            b.records.iter().map(|f| (f.not_an_object, f.event_id.map(|id| id.get().to_owned()))).collect::<Vec<_>>()
        });
        assert_eq!(
            shapes.ok(),
            Some(vec![(false, Some(r#""e1""#.to_owned())), (true, None), (true, None), (true, None)])
        );
    }

    #[test]
    fn a_window_event_keeps_its_window() {
        let batch = split(
            br#"{"Records":[], "window":{"start":"s","end":"e"}, "state":{"n":1}, "isFinalInvokeForWindow":true}"#,
        );
        let window = batch.ok().and_then(|b| b.window);
        let shape = window.map(|w| (w.window.start, w.state.map(|s| s.get().to_owned()), w.is_final));
        assert_eq!(shape, Some(("s".to_owned(), Some(r#"{"n":1}"#.to_owned()), true)));
        assert!(split(br#"{"Records":[]}"#).is_ok_and(|b| b.window.is_none()));
        assert!(
            split(br#"{"window":{"start":"s","end":"e"}}"#).is_ok_and(|b| b.records.is_empty() && b.window.is_some())
        );
    }

    #[test]
    fn names_what_is_wrong() {
        let cases: [(&[u8], &str); 4] = [
            (b"{\"Records\": [", "not valid JSON"),
            (b"hello", "not valid JSON"),
            (b"{\"eventName\":\"INSERT\"}", "no `Records` array"),
            (b"{\"Records\": 5}", "JSON but not a stream event"),
        ];
        for (payload, expected) in cases {
            let message = split(payload).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(expected), "{message:?} should contain {expected:?}");
        }
    }
}

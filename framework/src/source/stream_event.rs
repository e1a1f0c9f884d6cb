//! A DynamoDB stream's event source mapping: `{"Records": [...]}`, each record left
//! unparsed; failures are named by sequence number.

use serde::Deserialize;

use super::{describe, Identifier, SourceBatch};
use crate::payload::RecordFields;
use crate::Error;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "Records", borrow)]
    records: Option<Vec<RecordFields<'a>>>,
    #[serde(default)]
    window: Option<serde::de::IgnoredAny>,
}

/// Splits a payload into its records in one scan, each record's fields kept as raw JSON
/// whatever their shape, so that one malformed record fails alone instead of failing the
/// batch. Unknown top-level fields are ignored. A tumbling-window event (with `window`) is
/// refused before any handler runs: its answer must carry the window's `state`, which no
/// route keeps yet, and Lambda counts an answer without it as a failed invocation.
pub(crate) fn split(payload: &[u8]) -> Result<SourceBatch<'_>, Error> {
    let envelope: Envelope<'_> =
        serde_json::from_slice(payload).map_err(|err| Error::NotAStreamEvent(describe(payload, &err)))?;
    if envelope.window.is_some() {
        return Err(Error::Unsupported(
            "a tumbling-window event (`window`): its answer must carry the window's `state`, and no route keeps \
             window state; remove TumblingWindowInSeconds from the event source mapping"
                .into(),
        ));
    }
    let records =
        envelope.records.ok_or_else(|| Error::NotAStreamEvent("the payload has no `Records` array".into()))?;
    Ok(SourceBatch { records, identifier: Identifier::SequenceNumber })
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
    fn names_what_is_wrong() {
        let cases: [(&[u8], &str); 5] = [
            (b"{\"Records\": [", "not valid JSON"),
            (b"hello", "not valid JSON"),
            (b"{\"eventName\":\"INSERT\"}", "no `Records` array"),
            (b"{\"Records\": 5}", "JSON but not a stream event"),
            (b"{\"Records\": [], \"window\": {}}", "tumbling-window event"),
        ];
        for (payload, expected) in cases {
            let message = split(payload).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(expected), "{message:?} should contain {expected:?}");
        }
    }
}

//! The outer shape of a Lambda event: `{"Records": [...]}`, each record left unparsed.

use serde::Deserialize;

use super::fields::RecordFields;
use crate::decode::redact;
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
/// batch. Unknown top-level fields (tumbling window state, for example) are ignored.
pub(crate) fn split_records(payload: &[u8]) -> Result<Vec<RecordFields<'_>>, Error> {
    let envelope: Envelope<'_> =
        serde_json::from_slice(payload).map_err(|err| Error::NotAStreamEvent(describe(payload, &err)))?;
    if envelope.window.is_some() {
        tracing::warn!(
            "tumbling-window event: records are processed as usual, but window state is not kept or returned, \
             which Lambda's tumbling windows require"
        );
    }
    envelope.records.ok_or_else(|| Error::NotAStreamEvent("the payload has no `Records` array".into()))
}

fn describe(payload: &[u8], err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match err.classify() {
        Category::Data => match serde_json::from_slice::<serde::de::IgnoredAny>(payload) {
            Ok(_) => format!("the payload is JSON but not a stream event ({})", redact(&err.to_string())),
            Err(inner) => format!("the payload is not valid JSON ({})", redact(&inner.to_string())),
        },
        Category::Eof | Category::Syntax | Category::Io => {
            format!("the payload is not valid JSON ({})", redact(&err.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_records;

    #[test]
    fn keeps_every_record_whatever_its_shape() {
        let records = split_records(br#"{"Records":[{"eventID":"e1"}, 7, "x", [1, [2]]], "window": {}}"#);
        let shapes = records
            .map(|r| r.iter().map(|f| (f.not_an_object, f.event_id.map(|id| id.get().to_owned()))).collect::<Vec<_>>());
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
            (b"[1,2]", "JSON but not a stream event"),
            (b"{\"Records\": 5}", "JSON but not a stream event"),
        ];
        for (payload, expected) in cases {
            let message = split_records(payload).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(expected), "{message:?} should contain {expected:?}");
        }
    }
}

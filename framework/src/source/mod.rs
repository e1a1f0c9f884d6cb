//! Ingest: a payload into its records, in stream order, with how the answer names a failed
//! one (and a tumbling window's fields), whatever the shape in which the changes reached the
//! function. Each source turns its envelope into the records the rest of the pipeline
//! handles; nothing after this module knows which source a batch came from.
//!
//! - `stream_event`: a DynamoDB stream's event source mapping, `{"Records": [...]}`,
//!   failures named by sequence number;
//! - `pipes`: EventBridge Pipes with a DynamoDB stream source, a bare array of the same
//!   records, failures named by `eventID`;
//! - `kinesis`: a table's changes through a Kinesis data stream, `{"Records": [...]}` of
//!   Kinesis records whose base64 `data` is the change, routed by the `tableName` inside,
//!   failures named by the Kinesis sequence number.
//!
//! A stream event or a Kinesis event may be a tumbling window's (`window`): see `window`.

mod envelope;
mod kinesis;
mod order;
mod pipes;
mod stream_event;
mod window_fields;

use std::borrow::Cow;

use crate::error::Error;
use crate::payload::{RawRecord, Record};
pub(crate) use envelope::{Identifier, SourceBatch};
#[cfg(any(feature = "runner", feature = "redrive", feature = "testing"))]
pub(crate) use stream_event::stream_event;
pub(crate) use window_fields::WindowFields;

/// A payload read by its source: its records as the envelope holds them and, for Kinesis
/// records, their data decoded (what the changes are read from).
pub(crate) struct Ingested<'a> {
    envelope: SourceBatch<'a>,
    data: Vec<Option<Result<Vec<u8>, String>>>,
}

/// Reads a payload by its shape: a JSON array is what a pipe delivers; anything else is
/// read as a stream event, whose records may be Kinesis records.
pub(crate) fn ingest(payload: &[u8]) -> Result<Ingested<'_>, Error> {
    let envelope = match payload.iter().find(|byte| !byte.is_ascii_whitespace()) {
        Some(b'[') => pipes::split(payload)?,
        _ => stream_event::split(payload)?,
    };
    let data = kinesis::decode_all(&envelope.records);
    Ok(Ingested { envelope, data })
}

impl Ingested<'_> {
    /// The batch's records, each a DynamoDB change left as raw JSON: the envelope's own
    /// (borrowed, no copy on the common path), or for Kinesis records the changes read
    /// from their data.
    pub(crate) fn records(&self) -> Cow<'_, [RawRecord<'_>]> {
        if self.data.is_empty() {
            return Cow::Borrowed(&self.envelope.records);
        }
        let records = self
            .envelope
            .records
            .iter()
            .zip(&self.data)
            .map(|(record, data)| match data {
                Some(data) => kinesis::inner_record(record, data),
                None => record.clone(),
            })
            .collect();
        Cow::Owned(records)
    }

    /// The batch's records, each parsed alone, in stream order, and how the answer names
    /// them.
    pub(crate) fn records_in_order(&self) -> (Vec<Record<'_>>, Identifier) {
        let fields = self.records();
        let mut records: Vec<Record<'_>> =
            fields.iter().enumerate().map(|(position, raw)| Record::parse(position, raw)).collect();
        order::into_stream_order(&mut records);
        (records, self.identifier())
    }

    /// How the answer names a failed record.
    pub(crate) fn identifier(&self) -> Identifier {
        self.envelope.identifier
    }

    /// The tumbling window's fields, on a window event.
    pub(crate) fn window(&self) -> Option<&WindowFields<'_>> {
        self.envelope.window.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::ingest;

    #[test]
    fn text_that_is_not_utf8_is_named_where_it_stops_being_so() {
        let mut payload = br#"{"Records": [{"eventID": "e1"}, {"eventID": "x"#.to_vec();
        payload.extend_from_slice(&[0xff, b'"', b'}', b']', b'}']);
        let message = ingest(&payload).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("not valid JSON") && message.contains("column 47"), "{message}");
        let records = ingest(r#"{"Records": [{"eventID": "\u00e9t\u00e9"}, {"eventID": "été"}]}"#.as_bytes())
            .map(|d| d.records().iter().map(|r| r.event_id.map(|id| id.get().to_owned())).collect::<Vec<_>>());
        let expected = vec![Some(r#""\u00e9t\u00e9""#.to_owned()), Some(r#""été""#.to_owned())];
        assert_eq!(records.ok(), Some(expected));
    }
}

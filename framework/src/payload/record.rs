//! One record of the batch, parsed on its own so that a malformed record fails alone.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::change::{EventName, StreamViewType, UserIdentity};
use crate::decode::DecodeError;
use crate::SequenceNumber;

/// A record as Lambda sends it, images left as raw DynamoDB JSON until a route decodes
/// them into its own types. Unknown fields (`eventVersion`, `eventSource`, ...) are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireRecord<'a> {
    #[serde(rename = "eventID")]
    pub(crate) event_id: String,
    pub(crate) event_name: EventName,
    pub(crate) aws_region: String,
    #[serde(rename = "eventSourceARN")]
    pub(crate) event_source_arn: String,
    #[serde(borrow)]
    pub(crate) dynamodb: WireStreamRecord<'a>,
    #[serde(default)]
    pub(crate) user_identity: Option<UserIdentity>,
}

/// The `dynamodb` object of a record.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WireStreamRecord<'a> {
    #[serde(default)]
    pub(crate) approximate_creation_date_time: Option<f64>,
    #[serde(borrow)]
    pub(crate) keys: &'a RawValue,
    #[serde(default, borrow)]
    pub(crate) new_image: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub(crate) old_image: Option<&'a RawValue>,
    pub(crate) sequence_number: SequenceNumber,
    pub(crate) size_bytes: u64,
    pub(crate) stream_view_type: StreamViewType,
}

/// What could be read of a record that does not have the shape of a stream record:
/// enough to route it and to report it, if the payload carries that much.
pub(crate) struct Malformed {
    pub(crate) error: DecodeError,
    pub(crate) sequence_number: Option<SequenceNumber>,
    pub(crate) event_source_arn: Option<String>,
    pub(crate) event_id: Option<String>,
}

/// One record of the batch: its position in the payload and its parse result.
pub(crate) struct RawRecord<'a> {
    pub(crate) position: usize,
    pub(crate) parsed: Result<WireRecord<'a>, Malformed>,
}

impl<'a> RawRecord<'a> {
    /// Parses the record found at `position` in the payload.
    pub(crate) fn parse(position: usize, raw: &'a RawValue) -> Self {
        // The fast path tracks no field path; only a failure pays for finding it.
        let parsed = serde_json::from_str(raw.get()).map_err(|_| {
            let mut deserializer = serde_json::Deserializer::from_str(raw.get());
            let error = match serde_path_to_error::deserialize::<_, WireRecord<'_>>(&mut deserializer) {
                Err(err) => DecodeError::from_path_error("record", &err),
                Ok(_) => DecodeError::new("record", "", "does not parse"),
            };
            salvage(raw, error)
        });
        Self { position, parsed }
    }

    pub(crate) fn sequence_number(&self) -> Option<&SequenceNumber> {
        match &self.parsed {
            Ok(record) => Some(&record.dynamodb.sequence_number),
            Err(malformed) => malformed.sequence_number.as_ref(),
        }
    }

    pub(crate) fn event_source_arn(&self) -> Option<&str> {
        match &self.parsed {
            Ok(record) => Some(&record.event_source_arn),
            Err(malformed) => malformed.event_source_arn.as_deref(),
        }
    }

    pub(crate) fn event_id(&self) -> Option<&str> {
        match &self.parsed {
            Ok(record) => Some(&record.event_id),
            Err(malformed) => malformed.event_id.as_deref(),
        }
    }

    pub(crate) fn event_name(&self) -> Option<EventName> {
        self.parsed.as_ref().ok().map(|record| record.event_name)
    }
}

/// Reads whatever identifies a malformed record, field by field, ignoring what does not fit.
fn salvage(raw: &RawValue, error: DecodeError) -> Malformed {
    let value: serde_json::Value = serde_json::from_str(raw.get()).unwrap_or_default();
    let text = |pointer: &str| value.pointer(pointer).and_then(|v| v.as_str()).map(str::to_owned);
    Malformed {
        error,
        sequence_number: text("/dynamodb/SequenceNumber").map(SequenceNumber::new),
        event_source_arn: text("/eventSourceARN"),
        event_id: text("/eventID"),
    }
}

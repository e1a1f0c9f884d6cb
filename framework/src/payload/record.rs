//! One record of the batch, parsed on its own so that a malformed record fails alone.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::fields::RecordFields;

use crate::change::{EventName, StreamViewType, UserIdentity};
use crate::decode::DecodeError;
use crate::SequenceNumber;

/// A record as Lambda sends it, images left as raw DynamoDB JSON until a route decodes
/// them into its own types. Unknown fields (`eventVersion`, `eventSource`, ...) are ignored.
pub(crate) struct WireRecord<'a> {
    pub(crate) event_id: String,
    pub(crate) event_name: EventName,
    pub(crate) aws_region: String,
    pub(crate) event_source_arn: String,
    pub(crate) dynamodb: WireStreamRecord<'a>,
    pub(crate) user_identity: Option<UserIdentity>,
    /// The table, for a change that came through Kinesis (`tableName`); otherwise the
    /// stream ARN names it.
    pub(crate) table_name: Option<String>,
}

/// The `dynamodb` object of a record.
pub(crate) struct WireStreamRecord<'a> {
    pub(crate) approximate_creation_date_time: Option<f64>,
    pub(crate) keys: &'a RawValue,
    pub(crate) new_image: Option<&'a RawValue>,
    pub(crate) old_image: Option<&'a RawValue>,
    pub(crate) sequence_number: SequenceNumber,
    pub(crate) size_bytes: u64,
    pub(crate) stream_view_type: StreamViewType,
}

/// Checks the captured fields, naming the first that is missing or of the wrong type.
fn check<'a>(fields: &RecordFields<'a>) -> Result<WireRecord<'a>, DecodeError> {
    if fields.not_an_object {
        return Err(DecodeError::new("record", "", "expected a JSON object"));
    }
    if let Some(why) = &fields.unreadable {
        return Err(DecodeError::new("record", "kinesis.data", why));
    }
    if fields.via_kinesis {
        let source: Option<String> = optional(fields.event_source, "eventSource")?;
        if source.as_deref() != Some("aws:dynamodb") {
            let found = source.map_or_else(|| "no eventSource".to_owned(), |s| format!("eventSource `{s}`"));
            return Err(DecodeError::new("record", "kinesis.data", format!("not a DynamoDB change ({found})")));
        }
    }
    let stream = match &fields.dynamodb {
        None => return Err(DecodeError::new("record", "", "missing field `dynamodb`")),
        Some(None) => return Err(DecodeError::new("record", "dynamodb", "expected a JSON object")),
        Some(Some(stream)) => stream,
    };
    let created: Option<f64> = optional(stream.approximate_creation_date_time, "dynamodb.ApproximateCreationDateTime")?;
    let dynamodb = WireStreamRecord {
        // Through Kinesis it is in milliseconds, or microseconds if the table says so.
        approximate_creation_date_time: match fields.via_kinesis {
            true => created.map(|t| if t >= 1e14 { t / 1e6 } else { t / 1e3 }),
            false => created,
        },
        keys: stream.keys.ok_or_else(|| DecodeError::new("record", "dynamodb", "missing field `Keys`"))?,
        new_image: stream.new_image.filter(|raw| raw.get() != "null"),
        old_image: stream.old_image.filter(|raw| raw.get() != "null"),
        sequence_number: required(stream.sequence_number, "dynamodb", "SequenceNumber")?,
        size_bytes: required(stream.size_bytes, "dynamodb", "SizeBytes")?,
        stream_view_type: required(stream.stream_view_type, "dynamodb", "StreamViewType")?,
    };
    Ok(WireRecord {
        event_id: required(fields.event_id, "", "eventID")?,
        event_name: required(fields.event_name, "", "eventName")?,
        aws_region: required(fields.aws_region, "", "awsRegion")?,
        event_source_arn: required(fields.event_source_arn, "", "eventSourceARN")?,
        dynamodb,
        user_identity: optional(fields.user_identity, "userIdentity")?,
        table_name: optional(fields.table_name, "tableName")?,
    })
}

fn required<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>, parent: &str, name: &str) -> Result<T, DecodeError> {
    let raw = raw.ok_or_else(|| DecodeError::new("record", parent, format!("missing field `{name}`")))?;
    serde_json::from_str(raw.get()).map_err(|err| {
        let path = if parent.is_empty() { name.to_owned() } else { format!("{parent}.{name}") };
        DecodeError::new("record", path, err)
    })
}

fn optional<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>, path: &str) -> Result<Option<T>, DecodeError> {
    match raw {
        None => Ok(None),
        Some(raw) => serde_json::from_str(raw.get()).map_err(|err| DecodeError::new("record", path, err)),
    }
}

/// What could be read of a record that does not have the shape of a stream record:
/// enough to route it and to report it, if the payload carries that much.
pub(crate) struct Malformed {
    pub(crate) error: DecodeError,
    pub(crate) sequence_number: Option<SequenceNumber>,
    pub(crate) event_source_arn: Option<String>,
    pub(crate) event_id: Option<String>,
    pub(crate) table_name: Option<String>,
}

/// One record of the batch: its position in the payload and its parse result.
pub(crate) struct RawRecord<'a> {
    pub(crate) position: usize,
    pub(crate) parsed: Result<WireRecord<'a>, Malformed>,
    /// It came through a Kinesis data stream: routed by its table name.
    pub(crate) via_kinesis: bool,
}

impl<'a> RawRecord<'a> {
    /// Checks the record found at `position` in the payload.
    pub(crate) fn parse(position: usize, fields: &RecordFields<'a>) -> Self {
        let parsed = check(fields).map_err(|error| {
            let text = |raw: Option<&RawValue>| raw.and_then(|raw| serde_json::from_str::<String>(raw.get()).ok());
            Malformed {
                error,
                sequence_number: text(
                    fields.dynamodb.as_ref().and_then(|d| d.as_ref()).and_then(|d| d.sequence_number),
                )
                .map(SequenceNumber::new),
                event_source_arn: text(fields.event_source_arn),
                event_id: text(fields.event_id),
                table_name: text(fields.table_name),
            }
        });
        Self { position, parsed, via_kinesis: fields.via_kinesis }
    }

    /// The table named inside the record (a change that came through Kinesis).
    pub(crate) fn table_name(&self) -> Option<&str> {
        match &self.parsed {
            Ok(record) => record.table_name.as_deref(),
            Err(malformed) => malformed.table_name.as_deref(),
        }
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

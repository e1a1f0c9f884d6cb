//! One record of the batch, parsed on its own so that a malformed record fails alone.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::raw_record::RawRecord;
use super::stream_arn::StreamArn;

use super::event_name::EventName;
use super::sequence_number::SequenceNumber;
use super::user_identity::UserIdentity;
use super::view_type::StreamViewType;
use crate::decode_error::DecodeError;

/// A record as Lambda sends it, images left as raw DynamoDB JSON until a route decodes
/// them into its own types, text borrowed from the payload where it has no escapes.
/// Unknown fields (`eventVersion`, `eventSource`, ...) are ignored.
pub(crate) struct WireRecord<'a> {
    pub(crate) event_id: Cow<'a, str>,
    pub(crate) event_name: EventName,
    pub(crate) aws_region: Cow<'a, str>,
    pub(crate) event_source_arn: Cow<'a, str>,
    pub(crate) dynamodb: WireStreamRecord<'a>,
    pub(crate) user_identity: Option<UserIdentity>,
    /// The table, for a change that came through Kinesis (`tableName`); otherwise the
    /// stream ARN names it.
    pub(crate) table_name: Option<Cow<'a, str>>,
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
fn check<'a>(fields: &RawRecord<'a>) -> Result<WireRecord<'a>, DecodeError> {
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
        event_id: required(fields.event_id, "", "eventID").map(Text::into_cow)?,
        event_name: required(fields.event_name, "", "eventName")?,
        aws_region: required(fields.aws_region, "", "awsRegion").map(Text::into_cow)?,
        event_source_arn: required(fields.event_source_arn, "", "eventSourceARN").map(Text::into_cow)?,
        dynamodb,
        user_identity: optional(fields.user_identity, "userIdentity")?,
        table_name: optional(fields.table_name, "tableName")?.map(Text::into_cow),
    })
}

/// A JSON string, borrowed from the payload unless it has escapes (serde's own `Cow<str>`
/// always copies).
struct Text<'a>(Cow<'a, str>);

impl<'a> Text<'a> {
    fn into_cow(self) -> Cow<'a, str> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
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
pub(crate) struct Record<'a> {
    pub(crate) position: usize,
    pub(crate) parsed: Result<WireRecord<'a>, Malformed>,
    /// It came through a Kinesis data stream: routed by its table name.
    pub(crate) via_kinesis: bool,
}

impl<'a> Record<'a> {
    /// Checks the record found at `position` in the payload.
    pub(crate) fn parse(position: usize, fields: &RawRecord<'a>) -> Self {
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

    /// The table this record's change is from, whatever its source: see [`table_of`].
    pub(crate) fn table(&self) -> Option<&str> {
        table_of(self.table_name(), self.event_source_arn())
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

/// Which table a change is from, for every source: the `tableName` a change through Kinesis
/// carries (a Kinesis stream's ARN names no table), else the table of its DynamoDB stream's
/// ARN.
pub(crate) fn table_of<'a>(table_name: Option<&'a str>, event_source_arn: Option<&'a str>) -> Option<&'a str> {
    table_name.or_else(|| event_source_arn.and_then(StreamArn::parse).map(|arn| arn.table))
}

#[cfg(test)]
mod tests {
    use super::Record;
    use crate::payload::RawRecord;

    fn parse(record: &str) -> Option<(String, String, String, Option<String>)> {
        let fields: RawRecord<'_> = serde_json::from_str(record).ok()?;
        let wire = Record::parse(0, &fields).parsed.ok()?;
        let table = wire.table_name.map(|t| t.into_owned());
        Some((wire.event_id.into_owned(), wire.aws_region.into_owned(), wire.event_source_arn.into_owned(), table))
    }

    #[test]
    fn text_is_read_whether_borrowed_or_with_escapes() {
        let dynamodb = r#""dynamodb":{"Keys":{},"SequenceNumber":"1","SizeBytes":1,"StreamViewType":"KEYS_ONLY"}"#;
        let plain = format!(
            r#"{{"eventID":"e1","eventName":"INSERT","awsRegion":"eu-west-1","eventSourceARN":"arn","tableName":"T",{dynamodb}}}"#
        );
        let expected = ("e1".to_owned(), "eu-west-1".to_owned(), "arn".to_owned(), Some("T".to_owned()));
        assert_eq!(parse(&plain), Some(expected));
        let escaped = format!(
            r#"{{"eventID":"e\u0031","eventName":"INSERT","awsRegion":"eu-\"w\"","eventSourceARN":"a\/b","tableName":"\u0054",{dynamodb}}}"#
        );
        let expected = ("e1".to_owned(), "eu-\"w\"".to_owned(), "a/b".to_owned(), Some("T".to_owned()));
        assert_eq!(parse(&escaped), Some(expected));
        let not_text =
            format!(r#"{{"eventID":7,"eventName":"INSERT","awsRegion":"r","eventSourceARN":"a",{dynamodb}}}"#);
        assert_eq!(parse(&not_text), None);
    }
}

//! One scan of the payload: each record's fields captured as borrowed raw JSON, whatever
//! their shape, so that the record can then be checked field by field (and a malformed
//! record fail alone) without reading its images a second time.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// The fields of one record, as raw JSON; `None` when absent.
#[derive(Clone, Default)]
pub(crate) struct RawRecord<'a> {
    pub(crate) event_id: Option<&'a RawValue>,
    pub(crate) event_name: Option<&'a RawValue>,
    pub(crate) aws_region: Option<&'a RawValue>,
    pub(crate) event_source_arn: Option<&'a RawValue>,
    pub(crate) event_source: Option<&'a RawValue>,
    pub(crate) user_identity: Option<&'a RawValue>,
    /// `tableName`: in a change that came through Kinesis.
    pub(crate) table_name: Option<&'a RawValue>,
    /// `kinesis`: the record is a Kinesis record, its change base64 in `data`.
    pub(crate) kinesis: Option<&'a RawValue>,
    /// `Some(None)`: present but not an object.
    pub(crate) dynamodb: Option<Option<StreamFields<'a>>>,
    /// The record itself is not a JSON object.
    pub(crate) not_an_object: bool,
    /// The record came through a Kinesis data stream (its source filled in what Kinesis
    /// records lack: the sequence number, the view type).
    pub(crate) via_kinesis: bool,
    /// Why its source could not read the record at all (Kinesis data that is not base64
    /// or not JSON).
    pub(crate) unreadable: Option<String>,
}

/// The fields of a record's `dynamodb` object, as raw JSON.
#[derive(Clone, Default)]
pub(crate) struct StreamFields<'a> {
    pub(crate) approximate_creation_date_time: Option<&'a RawValue>,
    pub(crate) keys: Option<&'a RawValue>,
    pub(crate) new_image: Option<&'a RawValue>,
    pub(crate) old_image: Option<&'a RawValue>,
    pub(crate) sequence_number: Option<&'a RawValue>,
    pub(crate) size_bytes: Option<&'a RawValue>,
    pub(crate) stream_view_type: Option<&'a RawValue>,
}

#[derive(serde::Deserialize)]
enum RecordKey {
    #[serde(rename = "eventID")]
    EventId,
    #[serde(rename = "eventName")]
    EventName,
    #[serde(rename = "awsRegion")]
    AwsRegion,
    #[serde(rename = "eventSourceARN")]
    EventSourceArn,
    #[serde(rename = "eventSource")]
    EventSource,
    #[serde(rename = "tableName")]
    TableName,
    #[serde(rename = "kinesis")]
    Kinesis,
    #[serde(rename = "userIdentity")]
    UserIdentity,
    #[serde(rename = "dynamodb")]
    Dynamodb,
    #[serde(other)]
    Other,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
enum StreamKey {
    ApproximateCreationDateTime,
    Keys,
    NewImage,
    OldImage,
    SequenceNumber,
    SizeBytes,
    StreamViewType,
    #[serde(other)]
    Other,
}

/// Visitor methods for every value that is not an object: `None` (arrays drained).
macro_rules! not_an_object {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    };
}

struct RecordVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for RecordVisitor<'a> {
    type Value = Option<RawRecord<'a>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a stream record")
    }

    not_an_object!();

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = RawRecord::default();
        while let Some(key) = map.next_key::<RecordKey>()? {
            match key {
                RecordKey::EventId => fields.event_id = Some(map.next_value::<&'de RawValue>()?),
                RecordKey::EventName => fields.event_name = Some(map.next_value::<&'de RawValue>()?),
                RecordKey::AwsRegion => fields.aws_region = Some(map.next_value::<&'de RawValue>()?),
                RecordKey::EventSourceArn => fields.event_source_arn = Some(map.next_value::<&'de RawValue>()?),
                RecordKey::EventSource => fields.event_source = Some(map.next_value::<&'de RawValue>()?),
                RecordKey::TableName => fields.table_name = Some(map.next_value::<&'de RawValue>()?),
                RecordKey::Kinesis => fields.kinesis = Some(map.next_value::<&'de RawValue>()?),
                RecordKey::UserIdentity => fields.user_identity = Some(map.next_value::<&'de RawValue>()?),
                RecordKey::Dynamodb => fields.dynamodb = Some(map.next_value::<Stream<'a>>()?.0),
                RecordKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(fields))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawRecord<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = deserializer.deserialize_any(RecordVisitor(PhantomData))?;
        Ok(fields.unwrap_or(RawRecord { not_an_object: true, ..RawRecord::default() }))
    }
}

struct Stream<'a>(Option<StreamFields<'a>>);

struct StreamVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for StreamVisitor<'a> {
    type Value = Option<StreamFields<'a>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the dynamodb object of a stream record")
    }

    not_an_object!();

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = StreamFields::default();
        while let Some(key) = map.next_key::<StreamKey>()? {
            let slot = match key {
                StreamKey::ApproximateCreationDateTime => &mut fields.approximate_creation_date_time,
                StreamKey::Keys => &mut fields.keys,
                StreamKey::NewImage => &mut fields.new_image,
                StreamKey::OldImage => &mut fields.old_image,
                StreamKey::SequenceNumber => &mut fields.sequence_number,
                StreamKey::SizeBytes => &mut fields.size_bytes,
                StreamKey::StreamViewType => &mut fields.stream_view_type,
                StreamKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value::<&'de RawValue>()?);
        }
        Ok(Some(fields))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Stream<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StreamVisitor(PhantomData)).map(Stream)
    }
}

//! DynamoDB changes through a Kinesis data stream (a table's Kinesis streaming
//! destination): each Kinesis record's base64 `data` is a DynamoDB change naming its
//! `tableName`, without `SequenceNumber` or `StreamViewType`. The Kinesis record's own
//! `sequenceNumber` orders the batch and names a failure; both images are always present.
//! Data that is not base64, not JSON, or not a DynamoDB change fails its record alone.

use std::borrow::Cow;

use base64::Engine;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::envelope::from_payload;
use crate::payload::{RawRecord, StreamFields};
use crate::redact::redact;

/// A Kinesis record's `kinesis` object, the parts read here.
#[derive(Deserialize)]
struct KinesisFields<'a> {
    #[serde(rename = "sequenceNumber", borrow, default)]
    sequence_number: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<Cow<'a, str>>,
}

/// The decoded `data` of each record (`None` for a record that is not a Kinesis record);
/// empty when no record is one.
pub(super) fn decode_all(records: &[RawRecord<'_>]) -> Vec<Option<Result<Vec<u8>, String>>> {
    if !records.iter().any(|record| record.kinesis.is_some()) {
        return Vec::new();
    }
    records.iter().map(|record| record.kinesis.map(data_of)).collect()
}

fn data_of(kinesis: &RawValue) -> Result<Vec<u8>, String> {
    let fields: KinesisFields<'_> = serde_json::from_str(kinesis.get())
        .map_err(|err| format!("the `kinesis` object does not read ({})", redact(&err.to_string())))?;
    let data = fields.data.ok_or("the `kinesis` object has no `data`")?;
    base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .map_err(|err| format!("the Kinesis record's data is not base64 ({err})"))
}

/// The DynamoDB change a Kinesis record carries, with what the rest of the pipeline needs
/// filled in from the Kinesis record: its sequence number, its ARN, and the view type.
pub(super) fn inner_record<'a>(outer: &RawRecord<'a>, data: &'a Result<Vec<u8>, String>) -> RawRecord<'a> {
    let sequence_number = outer
        .kinesis
        .and_then(|raw| serde_json::from_str::<KinesisFields<'a>>(raw.get()).ok())
        .and_then(|fields| fields.sequence_number);
    // What a record that cannot be read is still known by: enough to report it.
    let unreadable = |why: String| RawRecord {
        event_id: outer.event_id,
        aws_region: outer.aws_region,
        event_source_arn: outer.event_source_arn,
        dynamodb: Some(Some(StreamFields { sequence_number, ..StreamFields::default() })),
        via_kinesis: true,
        unreadable: Some(why),
        ..RawRecord::default()
    };
    let bytes = match data {
        Ok(bytes) => bytes,
        Err(why) => return unreadable(why.clone()),
    };
    let mut inner: RawRecord<'a> = match from_payload(bytes) {
        Ok(inner) => inner,
        Err(err) => return unreadable(format!("the Kinesis record's data is not JSON ({})", redact(&err.to_string()))),
    };
    if inner.not_an_object {
        return unreadable("the Kinesis record's data is not a JSON object".to_owned());
    }
    let Some(Some(stream)) = inner.dynamodb.as_mut() else {
        return unreadable("the Kinesis record's data is not a DynamoDB change (no `dynamodb` object)".to_owned());
    };
    stream.sequence_number = sequence_number;
    stream.stream_view_type = new_and_old_images();
    inner.event_source_arn = outer.event_source_arn;
    inner.via_kinesis = true;
    inner
}

/// `"NEW_AND_OLD_IMAGES"` as raw JSON: a table's Kinesis destination always sends both.
fn new_and_old_images() -> Option<&'static RawValue> {
    serde_json::from_str(r#""NEW_AND_OLD_IMAGES""#).ok()
}

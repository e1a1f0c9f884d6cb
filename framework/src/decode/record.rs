//! A parsed record turned into a typed [`Change`].

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::image::decode_image;
use crate::change::{creation_time, Change, ChangeKind, Metadata};
use crate::decode_error::DecodeError;
use crate::payload::EventName;
use crate::payload::{table_of, Record, WireRecord};

/// Decodes keys and the images the view type carries. An image the view type promises but
/// the record lacks is an error; an image it does not promise is ignored, never guessed at.
pub(crate) fn decode_change<T, K>(record: &WireRecord<'_>) -> Result<Change<T, K>, DecodeError>
where
    T: DeserializeOwned + 'static,
    K: DeserializeOwned + 'static,
{
    let stream = &record.dynamodb;
    let (event, view) = (record.event_name, stream.stream_view_type);
    let image = |part: &'static str, raw: Option<&RawValue>, carried: bool| -> Result<Option<T>, DecodeError> {
        match raw {
            _ if !carried => Ok(None),
            Some(raw) => decode_image(part, raw).map(Some),
            None => Err(DecodeError::new(part, "", format!("missing, but {view} streams carry it on {event} records"))),
        }
    };
    let kind = match event {
        EventName::Insert => {
            ChangeKind::Insert { new: image("NewImage", stream.new_image, view.carries_new_image(event))? }
        }
        EventName::Modify => ChangeKind::Modify {
            old: image("OldImage", stream.old_image, view.carries_old_image(event))?,
            new: image("NewImage", stream.new_image, view.carries_new_image(event))?,
        },
        EventName::Remove => {
            ChangeKind::Remove { old: image("OldImage", stream.old_image, view.carries_old_image(event))? }
        }
    };
    let keys = decode_image("Keys", stream.keys)?;
    Ok(Change { keys, kind, meta: metadata(record) })
}

fn metadata(record: &WireRecord<'_>) -> Metadata {
    let stream = &record.dynamodb;
    Metadata {
        sequence_number: stream.sequence_number.clone(),
        event_id: record.event_id.as_ref().to_owned(),
        event_name: record.event_name,
        table_name: table_of(record.table_name.as_deref(), Some(&record.event_source_arn)).map(str::to_owned),
        stream_arn: record.event_source_arn.as_ref().to_owned(),
        region: record.aws_region.as_ref().to_owned(),
        approximate_creation_time: stream.approximate_creation_date_time.and_then(creation_time),
        size_bytes: stream.size_bytes,
        view_type: stream.stream_view_type,
        user_identity: record.user_identity.clone(),
    }
}

/// Decodes a record of the batch, or returns why it could not even be parsed.
pub(crate) fn decode_record<T, K>(record: &Record<'_>) -> Result<Change<T, K>, DecodeError>
where
    T: DeserializeOwned + 'static,
    K: DeserializeOwned + 'static,
{
    match &record.parsed {
        Ok(wire) => decode_change(wire),
        Err(malformed) => Err(malformed.error.clone()),
    }
}

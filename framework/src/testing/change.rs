//! Typed changes and fixture files straight from kit records, without a router.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::TableError;
use super::event::lambda_event;
use super::record::StreamRecord;
use crate::change::Change;
use crate::decode::decode_record;
use crate::decode_error::DecodeError;
use crate::payload::Record;

/// The typed changes of `records`, decoded exactly as a route decodes them (for unit tests
/// of handler logic: call your function with each).
///
/// ```
/// use ddbstream::testing::{changes, KeySchema, Table};
/// use ddbstream::{Change, StreamViewType};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Like {
///     pk: String,
///     sk: String,
/// }
///
/// let mut table = Table::new("Likes", KeySchema::hash_range("pk", "sk"), StreamViewType::NewImage);
/// table.put_value(&Like { pk: "post#1".into(), sk: "user#a".into() }).unwrap();
/// let typed: Vec<Change<Like, Like>> = changes(&table.stream().records()).unwrap();
/// assert_eq!(typed[0].new_image().map(|like| like.sk.as_str()), Some("user#a"));
/// ```
pub fn changes<T, K>(records: &[StreamRecord]) -> Result<Vec<Change<T, K>>, DecodeError>
where
    T: DeserializeOwned + 'static,
    K: DeserializeOwned + 'static,
{
    let payload = lambda_event(records);
    let decoded = crate::source::ingest(&payload).map_err(|err| DecodeError::new("record", "", err))?;
    decoded.records().iter().enumerate().map(|(position, raw)| decode_record(&Record::parse(position, raw))).collect()
}

/// Writes the Lambda event of `records` to `path`, pretty-printed: a fixture for
/// `cargo lambda invoke --data-file` or for a test.
pub fn write_fixture(path: impl AsRef<Path>, records: &[StreamRecord]) -> Result<(), TableError> {
    let path = path.as_ref();
    let event: serde_json::Value =
        serde_json::from_slice(&lambda_event(records)).map_err(|err| TableError::Io(err.to_string()))?;
    let text = serde_json::to_string_pretty(&event).map_err(|err| TableError::Io(err.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|err| TableError::Io(format!("{}: {err}", path.display())))
}

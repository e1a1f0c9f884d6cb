//! A decoding error named by its path, with map keys (item contents) redacted.

use std::fmt;

use super::dynamo_json::Shape;
use crate::decode_error::DecodeError;

/// A decoding error with its path; `shapes` says what each container on the path
/// is (a map's keys are redacted, a struct's fields kept), missing shapes count as maps.
pub(crate) fn path_error<E: fmt::Display>(
    part: &'static str,
    err: &serde_path_to_error::Error<E>,
    shapes: &[Shape],
) -> DecodeError {
    DecodeError::new(part, redact_path(err.path(), shapes), err.inner())
}

/// A field path that names struct fields, enum variants and positions only: a map's keys
/// (e-mail addresses, user names, ids) are item contents and become `<key>`. `shapes[i]`
/// is the container of segment `i`; a segment whose container is unknown is redacted.
pub(crate) fn redact_path(path: &serde_path_to_error::Path, shapes: &[Shape]) -> String {
    use serde_path_to_error::Segment;
    let segments: Vec<String> = path
        .iter()
        .enumerate()
        .map(|(depth, segment)| match (segment, shapes.get(depth)) {
            (Segment::Seq { index }, _) => index.to_string(),
            (Segment::Map { key }, Some(Shape::Struct(fields))) if fields.contains(&key.as_str()) => key.clone(),
            (Segment::Enum { variant }, Some(Shape::Enum(variants))) if variants.contains(&variant.as_str()) => {
                variant.clone()
            }
            (Segment::Map { .. }, _) => "<key>".to_owned(),
            (Segment::Enum { .. } | Segment::Unknown, _) => "?".to_owned(),
        })
        .collect();
    segments.join(".")
}

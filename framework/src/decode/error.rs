//! Why a record could not be turned into a typed change.

use std::fmt;

use super::dynamo_json::Shape;
use crate::change::Metadata;

/// A record, or one of its images, does not fit: names the part, the field and the reason.
///
/// Values from the item are redacted from the reason, so the error can be logged without
/// leaking item contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    part: &'static str,
    path: String,
    reason: String,
}

impl DecodeError {
    /// An error about `part` (`record`, `Keys`, `NewImage`, `OldImage`) at field `path`.
    pub(crate) fn new(part: &'static str, path: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self { part, path: path.into(), reason: redact(&reason.to_string()) }
    }

    /// From a decoding error with its path; `shapes` says what each container on the path
    /// is (a map's keys are redacted, a struct's fields kept), missing shapes count as maps.
    pub(crate) fn from_path_error<E: fmt::Display>(
        part: &'static str,
        err: &serde_path_to_error::Error<E>,
        shapes: &[Shape],
    ) -> Self {
        Self::new(part, redact_path(err.path(), shapes), err.inner())
    }

    /// The part of the record: `record`, `Keys`, `NewImage` or `OldImage`.
    pub fn part(&self) -> &str {
        self.part
    }

    /// The dotted path of the field that did not fit, empty for the part itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What was wrong, with item values redacted.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.part, self.reason)
        } else {
            write!(f, "{} field `{}`: {}", self.part, self.path, self.reason)
        }
    }
}

impl std::error::Error for DecodeError {}

/// A handler asked for an image its record does not carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingImage {
    message: String,
}

impl MissingImage {
    pub(crate) fn new(image: &str, meta: &Metadata) -> Self {
        let message = format!(
            "{} record {} carries no {image}: the stream's view type is {}; the handler needs {}",
            meta.event_name,
            meta.sequence_number,
            meta.view_type,
            if image == "NewImage" { "NEW_IMAGE or NEW_AND_OLD_IMAGES" } else { "OLD_IMAGE or NEW_AND_OLD_IMAGES" },
        );
        Self { message }
    }
}

impl fmt::Display for MissingImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MissingImage {}

/// Removes item values from a serde or serde_dynamo message, keeping what describes the
/// schema. A quoted or backticked span is kept only where serde puts a name there (after
/// `field`, `fields`, `expected`, `one of`, or in a list of those); every other span
/// (`invalid type: integer \`4250\``, `string "x"`, `unknown variant \`x\``, `Failed to
/// parse 'x'`) becomes `<redacted>`. Escaped quotes inside a span are honoured.
pub(crate) fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '\'', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let Some(len) = span_len(&rest[start + 1..], quote) else { break };
        let before = rest[..start].trim_end();
        let names_schema = ["field", "fields", "expected", "one of", ",", "or"].iter().any(|w| before.ends_with(w))
            && !before.ends_with("variant");
        out.push_str(&rest[..start]);
        if names_schema && quote == '`' {
            out.push_str(&rest[start..start + 1 + len + 1]);
        } else {
            out.push_str("<redacted>");
        }
        rest = &rest[start + 1 + len + 1..];
    }
    out.push_str(rest);
    out
}

/// The length of a quoted span's body up to its closing quote, skipping `\`-escapes.
fn span_len(body: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == quote => return Some(i),
            _ => {}
        }
    }
    None
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

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn values_are_redacted_names_are_kept() {
        let cases = [
            (r#"invalid type: string "s3cret", expected u64"#, "invalid type: string <redacted>, expected u64"),
            (
                "invalid type: integer `4250`, expected a boolean",
                "invalid type: integer <redacted>, expected a boolean",
            ),
            ("invalid type: boolean `true`, expected a string", "invalid type: boolean <redacted>, expected a string"),
            (
                "invalid value: floating point `1.5`, expected u8",
                "invalid value: floating point <redacted>, expected u8",
            ),
            (r#"invalid type: string "x\"4242 4242", expected u64"#, "invalid type: string <redacted>, expected u64"),
            ("Failed to parse '12x' as an integer: bad", "Failed to parse <redacted> as an integer: bad"),
            (
                "unknown variant `LOST`, expected `NEW` or `SHIPPED`",
                "unknown variant <redacted>, expected `NEW` or `SHIPPED`",
            ),
            (
                "unknown variant `LOST`, expected one of `NEW`, `PAID`, `SHIPPED`",
                "unknown variant <redacted>, expected one of `NEW`, `PAID`, `SHIPPED`",
            ),
            ("missing field `amount`", "missing field `amount`"),
            ("unknown field `x`, expected `a`", "unknown field `x`, expected `a`"),
            ("unbalanced \"quote", "unbalanced \"quote"),
        ];
        for (message, redacted) in cases {
            assert_eq!(redact(message), redacted, "{message}");
        }
    }
}

//! Why a record could not be turned into a typed change.

use std::fmt;

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

    pub(crate) fn from_path_error<E: fmt::Display>(part: &'static str, err: &serde_path_to_error::Error<E>) -> Self {
        let path = err.path().to_string();
        Self::new(part, if path == "." { String::new() } else { path }, err.inner())
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

/// Replaces the values that serde and serde_dynamo quote in their messages
/// (`invalid type: string "x"`, `Failed to parse 'x'`, ``unknown variant `x` ``) with
/// `<redacted>`. Field and type names, which describe the schema, are kept.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '\'', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let value_quote = quote != '`' || rest[..start].ends_with("variant ");
        let after = &rest[start + 1..];
        match after.find(quote) {
            Some(end) if value_quote => {
                out.push_str(&rest[..start]);
                out.push_str("<redacted>");
                rest = &after[end + 1..];
            }
            Some(end) => {
                out.push_str(&rest[..start + 1 + end + 1]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn values_are_redacted_names_are_kept() {
        assert_eq!(
            redact(r#"invalid type: string "s3cret", expected u64"#),
            "invalid type: string <redacted>, expected u64"
        );
        assert_eq!(redact("Failed to parse '12x' as an integer: bad"), "Failed to parse <redacted> as an integer: bad");
        assert_eq!(
            redact("unknown variant `LOST`, expected `NEW` or `SHIPPED`"),
            "unknown variant <redacted>, expected `NEW` or `SHIPPED`"
        );
        assert_eq!(redact("missing field `amount`"), "missing field `amount`");
        assert_eq!(redact("unbalanced \"quote"), "unbalanced \"quote");
    }
}

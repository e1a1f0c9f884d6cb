//! Item values kept out of messages: what serde and serde_dynamo say about a value that does
//! not fit names the value; the message keeps the schema and drops the value.

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

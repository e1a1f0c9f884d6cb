//! The keys of guards and claims: the consumer they belong to, the canonical text of an
//! item's keys, and the digest that stands for a key wherever it would be shown.
//!
//! Several functions may read one stream, and may share one guard or claims table: every
//! key starts with its consumer's name, so that no consumer ever sees another's entries.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_dynamo::AttributeValue;
use sha2::{Digest, Sha256};

use super::error::WriteError;

/// The environment variable Lambda sets to the function's name: the default consumer.
pub const FUNCTION_NAME_ENV: &str = "AWS_LAMBDA_FUNCTION_NAME";

/// Whose guards or claims these are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Consumer(Result<String, String>);

impl Consumer {
    /// The function's name from Lambda's environment; outside Lambda, none (every use then
    /// fails, naming the fix).
    pub(super) fn from_env() -> Self {
        match std::env::var(FUNCTION_NAME_ENV) {
            Ok(name) => Self::named(name),
            Err(_) => Self(Err(format!(
                "no consumer is named: {FUNCTION_NAME_ENV} is not set (this is not Lambda), so name the consumer \
                 with .consumer(\"<name>\") (the function's name, for the runner and the redrive too)"
            ))),
        }
    }

    /// The twins' consumer: the function's name when Lambda's environment has one, else
    /// `test`.
    pub(super) fn for_twin() -> Self {
        Self::named(std::env::var(FUNCTION_NAME_ENV).unwrap_or_else(|_| "test".to_owned()))
    }

    /// A name of the caller's choosing: not empty, and without `#` (which separates the parts
    /// of a key; Lambda function names never hold one).
    pub(super) fn named(name: impl Into<String>) -> Self {
        let name = name.into();
        if name.is_empty() || name.contains('#') {
            return Self(Err(format!("the consumer name {name:?} is empty or holds a '#': name it without")));
        }
        Self(Ok(name))
    }

    /// The key of `suffix` for this consumer: `<consumer>#<suffix>`.
    pub(super) fn key(&self, suffix: &str) -> Result<String, WriteError> {
        match &self.0 {
            Ok(name) => Ok(format!("{name}#{suffix}")),
            Err(why) => Err(WriteError::new(why.clone())),
        }
    }
}

/// An item's keys as canonical text: attribute names in byte order at every level, whatever
/// order the type or a map yields them in and whatever features `serde_json` has
/// (`{"pk":"post#1","sk":"user#a"}`). Strings are JSON strings, numbers bare, binary
/// `{"B":["<base64>"]}`, sets sorted.
pub(super) fn canonical_keys<K: Serialize>(keys: &K) -> Result<String, WriteError> {
    let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(keys)
        .map_err(|err| WriteError::new(format!("the change's keys do not serialize as an item: {err}")))?;
    let mut out = String::new();
    write_map(&mut out, &item);
    Ok(out)
}

fn write_map(out: &mut String, map: &HashMap<String, AttributeValue>) {
    let mut entries: Vec<(&String, &AttributeValue)> = map.iter().collect();
    entries.sort_unstable_by_key(|(name, _)| *name);
    write_joined(out, '{', entries, '}', |out, (name, value)| {
        write_string(out, name);
        out.push(':');
        write_value(out, value);
    });
}

/// `open`, each of `items` written by `each` with commas between them, `close`.
fn write_joined<T>(
    out: &mut String,
    open: char,
    items: impl IntoIterator<Item = T>,
    close: char,
    mut each: impl FnMut(&mut String, T),
) {
    out.push(open);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, item);
    }
    out.push(close);
}

fn write_value(out: &mut String, value: &AttributeValue) {
    use base64::Engine as _;
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    match value {
        AttributeValue::S(text) => write_string(out, text),
        AttributeValue::N(number) => out.push_str(number),
        AttributeValue::B(bytes) => write_tagged(out, "B", &[base64(bytes)]),
        AttributeValue::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        AttributeValue::Null(_) => out.push_str("null"),
        AttributeValue::M(map) => write_map(out, map),
        AttributeValue::L(list) => write_joined(out, '[', list, ']', write_value),
        AttributeValue::Ss(set) => write_tagged(out, "SS", set),
        AttributeValue::Ns(set) => write_tagged(out, "NS", set),
        AttributeValue::Bs(set) => write_tagged(out, "BS", &set.iter().map(|b| base64(b)).collect::<Vec<_>>()),
    }
}

/// `{"<tag>":[...]}`, the elements sorted (a set has no order).
fn write_tagged(out: &mut String, tag: &str, elements: &[String]) {
    let mut sorted: Vec<&String> = elements.iter().collect();
    sorted.sort_unstable();
    out.push('{');
    write_string(out, tag);
    out.push(':');
    write_joined(out, '[', sorted, ']', |out, element| write_string(out, element));
    out.push('}');
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The SHA-256 of `key` in hex (64 characters): what stands for a key in logs and messages,
/// which never carry item values, and what a deduplicating sink can take as an id.
pub(super) fn sha256_hex(key: &str) -> String {
    let mut out = String::with_capacity(64);
    for byte in Sha256::digest(key.as_bytes()) {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// A short digest of `key` for logs and messages: its SHA-256's first 16 hex digits.
pub(super) fn label(key: &str) -> String {
    let mut digest = sha256_hex(key);
    digest.truncate(16);
    digest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_canonical_whatever_the_order_of_the_map() {
        let texts: Vec<String> = (0..64)
            .map(|_| {
                // A fresh map each time: each HashMap iterates in an order of its own.
                let keys: HashMap<String, String> = ["pk", "sk", "tenant", "region", "z", "a"]
                    .iter()
                    .map(|n| ((*n).to_owned(), format!("v-{n}")))
                    .collect();
                canonical_keys(&keys).unwrap_or_default()
            })
            .collect();
        assert!(texts.iter().all(|t| *t == texts[0]), "{texts:?}");
        assert_eq!(
            texts[0],
            r#"{"a":"v-a","pk":"v-pk","region":"v-region","sk":"v-sk","tenant":"v-tenant","z":"v-z"}"#
        );
    }

    #[test]
    fn values_of_every_kind_are_written_unambiguously() {
        #[derive(Serialize)]
        struct Keys {
            s: String,
            n: u64,
            quote: String,
        }
        let text = canonical_keys(&Keys { s: "1".into(), n: 1, quote: "a\"b\\c\n".into() }).unwrap_or_default();
        assert_eq!(text, r#"{"n":1,"quote":"a\"b\\c\u000a","s":"1"}"#);
    }

    #[test]
    fn a_consumer_is_required_and_named_without_separators() {
        assert_eq!(Consumer::named("likes").key("x").ok(), Some("likes#x".to_owned()));
        assert!(Consumer::named("").key("x").is_err());
        assert!(Consumer::named("a#b").key("x").is_err());
    }

    #[test]
    fn labels_are_stable_digests() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(label("abc"), "ba7816bf8f01cfea");
    }
}

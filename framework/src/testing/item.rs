//! Item rules the in-memory table applies as DynamoDB does: normalized numbers and sets,
//! key extraction, and item size.

use std::collections::HashMap;

use serde_dynamo::{AttributeValue, Item};

use super::error::TableError;

/// A table's primary key: a partition (hash) key and an optional sort (range) key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySchema {
    /// The partition key attribute.
    pub hash: String,
    /// The sort key attribute, if the table has one.
    pub range: Option<String>,
}

impl KeySchema {
    /// A key schema with only a partition key.
    pub fn hash(name: &str) -> Self {
        Self { hash: name.to_owned(), range: None }
    }

    /// A key schema with a partition key and a sort key.
    pub fn hash_range(hash: &str, range: &str) -> Self {
        Self { hash: hash.to_owned(), range: Some(range.to_owned()) }
    }

    /// The key attributes' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.hash.as_str()).chain(self.range.as_deref())
    }

    /// The key of `item`; each key attribute must be present and an S, N or B.
    pub fn key_of(&self, item: &Item) -> Result<Item, TableError> {
        let mut key = HashMap::new();
        for name in self.names() {
            match item.get(name) {
                Some(value @ (AttributeValue::S(_) | AttributeValue::N(_) | AttributeValue::B(_))) => {
                    key.insert(name.to_owned(), value.clone());
                }
                Some(_) => return Err(TableError::InvalidKey(format!("key attribute `{name}` must be S, N or B"))),
                None => return Err(TableError::InvalidKey(format!("key attribute `{name}` is missing"))),
            }
        }
        Ok(Item::from(key))
    }
}

/// A stable text form of a key, to index items by.
pub(crate) fn key_text(key: &Item) -> String {
    let mut parts: Vec<_> = key.iter().map(|(name, value)| format!("{name}={}", value_text(value))).collect();
    parts.sort();
    parts.join("\u{1f}")
}

fn value_text(value: &AttributeValue) -> String {
    match value {
        AttributeValue::S(s) => format!("S:{s}"),
        AttributeValue::N(n) => format!("N:{n}"),
        AttributeValue::B(b) => format!("B:{b:?}"),
        other => format!("{other:?}"),
    }
}

/// Normalizes an item as DynamoDB stores it: numbers in canonical form, sets sorted and
/// without duplicates, so that equal items compare equal.
pub(crate) fn normalize(item: Item) -> Item {
    let map: HashMap<String, AttributeValue> = item.into();
    Item::from(map.into_iter().map(|(name, value)| (name, normalize_value(value))).collect::<HashMap<_, _>>())
}

fn normalize_value(value: AttributeValue) -> AttributeValue {
    match value {
        AttributeValue::N(n) => AttributeValue::N(normalize_number(&n)),
        AttributeValue::Ns(ns) => {
            let mut ns: Vec<String> = ns.iter().map(|n| normalize_number(n)).collect();
            ns.sort_by(|a, b| numeric_order(a, b));
            ns.dedup();
            AttributeValue::Ns(ns)
        }
        AttributeValue::Ss(mut ss) => {
            ss.sort();
            ss.dedup();
            AttributeValue::Ss(ss)
        }
        AttributeValue::Bs(mut bs) => {
            bs.sort();
            bs.dedup();
            AttributeValue::Bs(bs)
        }
        AttributeValue::L(list) => AttributeValue::L(list.into_iter().map(normalize_value).collect()),
        AttributeValue::M(map) => AttributeValue::M(map.into_iter().map(|(k, v)| (k, normalize_value(v))).collect()),
        other => other,
    }
}

/// DynamoDB's canonical number text: no leading or trailing zeros, no `+`, no `-0`.
/// Text that is not a decimal number is kept as it is.
pub(crate) fn normalize_number(text: &str) -> String {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let valid = !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return text.to_owned();
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let body = match (int.is_empty(), frac.is_empty()) {
        (true, true) => return "0".to_owned(),
        (true, false) => format!("0.{frac}"),
        (false, true) => int.to_owned(),
        (false, false) => format!("{int}.{frac}"),
    };
    if negative {
        format!("-{body}")
    } else {
        body
    }
}

fn numeric_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (x, y) = (a.parse::<f64>().unwrap_or(f64::NAN), b.parse::<f64>().unwrap_or(f64::NAN));
    x.total_cmp(&y).then_with(|| a.cmp(b))
}

/// An item's size in bytes by DynamoDB's rules: each attribute's name (UTF-8 bytes) plus its
/// value: strings and binary by length; numbers 1 byte per two significant digits plus 1;
/// BOOL and NULL 1; lists and maps 3 bytes plus 1 per element plus their elements (map
/// keys counted as names); sets the sum of their elements.
pub fn item_size(item: &Item) -> u64 {
    item.iter().map(|(name, value)| name.len() as u64 + value_size(value)).sum()
}

fn value_size(value: &AttributeValue) -> u64 {
    match value {
        AttributeValue::S(s) => s.len() as u64,
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.len() as u64,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(ss) => ss.iter().map(|s| s.len() as u64).sum(),
        AttributeValue::Ns(ns) => ns.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(bs) => bs.iter().map(|b| b.len() as u64).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<u64>(),
        AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() as u64 + value_size(v)).sum::<u64>(),
    }
}

fn number_size(text: &str) -> u64 {
    crate::number_size::number_size(text) as u64
}

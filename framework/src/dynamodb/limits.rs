//! DynamoDB's transaction rules, checked before the call so that a change that can never be
//! written fails with a message naming the rule, and so that the in-memory twins refuse
//! what DynamoDB refuses: at most 100 actions, no item twice, items of at most 400 KB and
//! 4 MB in all, sizes by DynamoDB's rules (numbers by significant digits).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::error::WriteError;
use crate::number_size::number_size;

/// Actions in one `TransactWriteItems` call (a guard takes one of them).
pub const MAX_TRANSACTION_ACTIONS: usize = 100;
/// The size of one item.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// The aggregate size of the items in one transaction.
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

/// An item's size by DynamoDB's rules: each attribute's name in UTF-8 bytes plus its
/// value's size (strings and binary by length, numbers one byte per two significant digits
/// plus one, booleans and nulls one byte, lists and maps three bytes plus one per element
/// plus their elements).
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
        _ => 0,
    }
}

/// The key attributes of tables whose key the caller knows (the guard table's, and those a
/// twin was told). A `Put` carries its whole item, not its key: its item is known only by
/// these, or by another action of the transaction that names a key of the same table.
#[derive(Clone, Debug, Default)]
pub(super) struct KeySchemas {
    tables: HashMap<String, Vec<String>>,
    /// Whether two `Put`s to a table whose key is unknown are refused (the twins, which must
    /// never accept what DynamoDB refuses) or left to DynamoDB to judge.
    strict: bool,
}

impl KeySchemas {
    pub(super) fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    pub(super) fn declare(&mut self, table: &str, attributes: Vec<String>) {
        self.tables.insert(table.to_owned(), attributes);
    }
}

impl KeySchemas {
    /// The key attributes declared for `table`.
    pub(super) fn key_attributes(&self, table: &str) -> Option<&[String]> {
        self.tables.get(table).map(Vec::as_slice)
    }
}

/// The item an action is on, as far as the caller can tell: for telling which actions of
/// different changes may share one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Target {
    /// An item of a table, by its key.
    Item(String, String),
    /// A `Put` into a table whose key is unknown: it may be any item of the table.
    AnyOf(String),
}

/// The canonical text of the key `names` pick out of `attributes`.
pub(super) fn key_text(names: &[String], attributes: &HashMap<String, AttributeValue>) -> String {
    let key: BTreeMap<&str, Option<&AttributeValue>> =
        names.iter().map(|n| (n.as_str(), attributes.get(n.as_str()))).collect();
    format!("{key:?}")
}

/// The items `actions` are on.
pub(super) fn targets(actions: &[TransactWriteItem], schemas: &KeySchemas) -> Vec<Target> {
    actions
        .iter()
        .filter_map(action)
        .map(|action| {
            let table = action.table.to_owned();
            if action.keyed {
                let mut names: Vec<String> = action.attributes.keys().cloned().collect();
                names.sort_unstable();
                return Target::Item(table, key_text(&names, action.attributes));
            }
            match schemas.key_attributes(action.table) {
                Some(names) => {
                    let mut names = names.to_vec();
                    names.sort_unstable();
                    Target::Item(table, key_text(&names, action.attributes))
                }
                None => Target::AnyOf(table),
            }
        })
        .collect()
}

/// The bytes `actions` carry toward the 4 MB of a transaction.
pub(super) fn transaction_bytes(actions: &[TransactWriteItem]) -> usize {
    actions.iter().filter_map(action).map(|action| action.bytes).sum()
}

/// What one action does, for the rules.
struct Action<'a> {
    table: &'a str,
    /// The key a keyed action names, or the item a `Put` writes.
    attributes: &'a HashMap<String, AttributeValue>,
    keyed: bool,
    /// The bytes it carries toward the 4 MB: a put's item; a key, and the values of its
    /// expressions, for the others (what DynamoDB adds of the item it reads is unknown here).
    bytes: usize,
}

fn action(write: &TransactWriteItem) -> Option<Action<'_>> {
    let values = |values: Option<&HashMap<String, AttributeValue>>| values.map_or(0, item_size);
    if let Some(put) = write.put() {
        return Some(Action {
            table: put.table_name(),
            attributes: put.item(),
            keyed: false,
            bytes: item_size(put.item()),
        });
    }
    if let Some(update) = write.update() {
        let bytes = item_size(update.key()) + values(update.expression_attribute_values());
        return Some(Action { table: update.table_name(), attributes: update.key(), keyed: true, bytes });
    }
    if let Some(delete) = write.delete() {
        let bytes = item_size(delete.key()) + values(delete.expression_attribute_values());
        return Some(Action { table: delete.table_name(), attributes: delete.key(), keyed: true, bytes });
    }
    let check = write.condition_check()?;
    let bytes = item_size(check.key()) + values(check.expression_attribute_values());
    Some(Action { table: check.table_name(), attributes: check.key(), keyed: true, bytes })
}

/// Checks a whole transaction (a guard, if any, included): how many actions, no item twice,
/// how large. `first_is_guard` names the first action as the guard in messages.
pub(super) fn check(
    actions: &[TransactWriteItem],
    schemas: &KeySchemas,
    first_is_guard: bool,
) -> Result<(), WriteError> {
    let guard = usize::from(first_is_guard);
    let name = |index: usize| {
        if first_is_guard && index == 0 {
            "the guard".to_owned()
        } else {
            format!("write {}", index - guard)
        }
    };
    if actions.len() > MAX_TRANSACTION_ACTIONS {
        let whose = if first_is_guard { " (your writes and the guard)" } else { "" };
        return Err(WriteError::new(format!(
            "{} actions{whose} for one change: a transaction holds at most {MAX_TRANSACTION_ACTIONS} actions{}",
            actions.len(),
            if first_is_guard { ", so at most 99 writes besides the guard" } else { "" }
        )));
    }
    let parsed: Vec<Action<'_>> = actions.iter().filter_map(action).collect();
    if parsed.len() != actions.len() {
        return Err(WriteError::new("a write is none of Put, Update, Delete or ConditionCheck"));
    }
    let mut total = 0;
    for (index, action) in parsed.iter().enumerate() {
        if !action.keyed && action.bytes > MAX_ITEM_BYTES {
            return Err(WriteError::new(format!(
                "{} puts an item of {} bytes (by DynamoDB's rules): items are at most {MAX_ITEM_BYTES} bytes",
                name(index),
                action.bytes
            )));
        }
        total += action.bytes;
    }
    if total > MAX_TRANSACTION_BYTES {
        return Err(WriteError::new(format!(
            "the transaction carries {total} bytes (items, keys and values, the guard's included): a transaction \
             carries at most {MAX_TRANSACTION_BYTES} bytes"
        )));
    }
    one_operation_per_item(&parsed, schemas, name)
}

/// DynamoDB refuses, every time, a transaction with two operations on one item.
fn one_operation_per_item(
    actions: &[Action<'_>],
    schemas: &KeySchemas,
    name: impl Fn(usize) -> String,
) -> Result<(), WriteError> {
    // Each table's key attributes: declared, or named by a keyed action on it.
    let mut keys: HashMap<&str, Vec<&str>> = schemas
        .tables
        .iter()
        .map(|(table, names)| (table.as_str(), names.iter().map(String::as_str).collect()))
        .collect();
    for action in actions.iter().filter(|a| a.keyed) {
        keys.entry(action.table).or_insert_with(|| action.attributes.keys().map(String::as_str).collect());
    }
    let mut seen: HashMap<(&str, String), usize> = HashMap::new();
    let mut unknown_puts: HashMap<&str, usize> = HashMap::new();
    for (index, action) in actions.iter().enumerate() {
        let identity = match keys.get(action.table) {
            Some(names) => {
                let key: BTreeMap<&str, Option<&AttributeValue>> =
                    names.iter().map(|n| (*n, action.attributes.get(*n))).collect();
                format!("{key:?}")
            }
            None => {
                if let Some(first) = unknown_puts.insert(action.table, index) {
                    if schemas.strict {
                        return Err(WriteError::new(format!(
                            "{} and {} both put into {} whose key the twin does not know, so it cannot tell whether \
                             they are one item (DynamoDB refuses two operations on one item): declare the table's \
                             key with .key_schema(\"{}\", [...])",
                            name(first),
                            name(index),
                            action.table,
                            action.table
                        )));
                    }
                }
                continue;
            }
        };
        if let Some(first) = seen.insert((action.table, identity), index) {
            return Err(WriteError::new(format!(
                "{} and {} are two operations on one item of {}: DynamoDB refuses such a transaction, every time \
                 (ValidationException: Transaction request cannot include multiple operations on one item)",
                name(first),
                name(index),
                action.table
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::{Put, Update};

    fn put(table: &str, pk: &str, bytes: usize) -> TransactWriteItem {
        let put = Put::builder()
            .table_name(table)
            .item("pk", AttributeValue::S(pk.into()))
            .item("v", AttributeValue::S("x".repeat(bytes.saturating_sub(3 + pk.len()))))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        TransactWriteItem::builder().put(put).build()
    }

    fn update(table: &str, pk: &str) -> TransactWriteItem {
        let update = Update::builder()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.into()))
            .update_expression("ADD n :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        TransactWriteItem::builder().update(update).build()
    }

    fn message(result: Result<(), WriteError>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let item = HashMap::from([
            ("name".to_owned(), AttributeValue::S("abc".into())),
            ("n".to_owned(), AttributeValue::N("12345".into())),
            ("flag".to_owned(), AttributeValue::Bool(true)),
            ("zeros".to_owned(), AttributeValue::N("1000000".into())),
        ]);
        assert_eq!(item_size(&item), (4 + 3) + (1 + 4) + (4 + 1) + (5 + 2));
    }

    #[test]
    fn limits_are_named_before_the_call() {
        let none = KeySchemas::default();
        let writes = |n: usize| (0..n).map(|i| put("T", &format!("p{i}"), 10)).collect::<Vec<_>>();
        assert!(check(&writes(100), &none, true).is_ok());
        assert!(message(check(&writes(101), &none, true)).contains("at most 100 actions"));
        assert!(check(&[put("T", "a", MAX_ITEM_BYTES)], &none, false).is_ok());
        let too_big = message(check(&[put("T", "a", MAX_ITEM_BYTES + 1)], &none, false));
        assert!(too_big.contains("at most 409600 bytes"), "{too_big}");
        let eleven = (0..11).map(|i| put("T", &format!("p{i}"), MAX_ITEM_BYTES)).collect::<Vec<_>>();
        let too_much = message(check(&eleven, &none, false));
        assert!(too_much.contains("at most 4194304 bytes"), "{too_much}");
    }

    #[test]
    fn keyed_actions_count_toward_the_total() {
        let none = KeySchemas::default();
        let mut writes = (0..10).map(|i| put("T", &format!("p{i}"), MAX_ITEM_BYTES)).collect::<Vec<_>>();
        assert!(check(&writes, &none, false).is_ok());
        let big_key = Update::builder()
            .table_name("T")
            .key("pk", AttributeValue::S("k".repeat(2048)))
            .update_expression("SET v = :v")
            .expression_attribute_values(":v", AttributeValue::S("v".repeat(100_000)))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        writes.push(TransactWriteItem::builder().update(big_key).build());
        assert!(message(check(&writes, &none, false)).contains("at most 4194304 bytes"));
    }

    #[test]
    fn numbers_count_by_significant_digits() {
        // 12,000 numbers of 38 digits, 37 of them trailing zeros: 2 bytes each by DynamoDB's
        // rule, so about 36 KB, where counting every digit would make 456 KB.
        let power = format!("1{}", "0".repeat(37));
        let big = Put::builder()
            .table_name("T")
            .item("pk", AttributeValue::S("a".into()))
            .item("ns", AttributeValue::L((0..12_000).map(|_| AttributeValue::N(power.clone())).collect()))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let size = item_size(big.item());
        assert_eq!(size, 2 + 1 + 2 + 3 + 12_000 * 3);
        assert!(check(&[TransactWriteItem::builder().put(big).build()], &KeySchemas::default(), false).is_ok());
    }

    #[test]
    fn one_item_twice_is_refused() {
        let none = KeySchemas::default();
        let twice = message(check(&[update("T", "a"), update("T", "a")], &none, false));
        assert!(twice.contains("write 0 and write 1 are two operations on one item of T"), "{twice}");
        assert!(check(&[update("T", "a"), update("T", "b"), update("U", "a")], &none, false).is_ok());
        // A put is known by the key another action of its table names...
        let put_and_update = message(check(&[put("T", "a", 10), update("T", "a")], &none, false));
        assert!(put_and_update.contains("two operations on one item"), "{put_and_update}");
        // ...or by a declared key (the guard table's); the guard is named as such.
        let mut guard_table = KeySchemas::default();
        guard_table.declare("G", vec!["pk".into()]);
        let on_the_guard =
            message(check(&[put("G", "g", 10), update("T", "a"), put("G", "g", 10)], &guard_table, true));
        assert!(on_the_guard.contains("the guard and write 1 are two operations on one item of G"), "{on_the_guard}");
        // Two puts into a table of unknown key: left to DynamoDB, refused by a twin.
        let puts = [put("T", "a", 10), put("T", "a", 10)];
        assert!(check(&puts, &none, false).is_ok());
        assert!(message(check(&puts, &none.clone().strict(true), false)).contains(".key_schema(\"T\""));
    }
}

//! DynamoDB's transaction limits, checked before the call so that a change that can never
//! be written fails with a message naming the limit.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::WriteError;

/// Actions in one `TransactWriteItems` call (the guard takes one of them).
pub const MAX_TRANSACTION_ACTIONS: usize = 100;
/// The size of one item.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// The aggregate size of the items in one transaction.
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

/// An item's size by DynamoDB's rules: each attribute's name in UTF-8 bytes plus its
/// value's size (strings and binary by length, numbers by about one byte per two digits
/// plus one, booleans and nulls one byte, lists and maps three bytes plus their elements).
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

fn number_size(n: &str) -> usize {
    let digits = n.trim_start_matches(['-', '+']).trim_start_matches('0').replace('.', "");
    digits.len().div_ceil(2) + 1
}

/// Checks the user's writes (the guard comes on top): how many, and how large.
pub(super) fn check(writes: &[TransactWriteItem]) -> Result<(), WriteError> {
    if writes.len() + 1 > MAX_TRANSACTION_ACTIONS {
        return Err(WriteError::new(format!(
            "{} writes for one change: a transaction holds at most {MAX_TRANSACTION_ACTIONS} actions, one of them \
             the guard, so at most {}",
            writes.len(),
            MAX_TRANSACTION_ACTIONS - 1
        )));
    }
    sizes(writes)
}

/// Checks writes that make up a whole transaction: how many, and how large.
pub(super) fn check_all(writes: &[TransactWriteItem]) -> Result<(), WriteError> {
    if writes.len() > MAX_TRANSACTION_ACTIONS {
        return Err(WriteError::new(format!(
            "{} writes for one change: a transaction holds at most {MAX_TRANSACTION_ACTIONS} actions",
            writes.len()
        )));
    }
    sizes(writes)
}

fn sizes(writes: &[TransactWriteItem]) -> Result<(), WriteError> {
    let mut total = 0;
    for (index, write) in writes.iter().enumerate() {
        let size = write.put().map_or(0, |put| item_size(put.item()));
        if size > MAX_ITEM_BYTES {
            return Err(WriteError::new(format!(
                "write {index} puts an item of {size} bytes: DynamoDB items are at most {MAX_ITEM_BYTES} bytes"
            )));
        }
        total += size;
    }
    if total > MAX_TRANSACTION_BYTES {
        return Err(WriteError::new(format!(
            "the writes put {total} bytes: a transaction carries at most {MAX_TRANSACTION_BYTES} bytes of items"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::Put;

    fn put(bytes: usize) -> TransactWriteItem {
        let put = Put::builder()
            .table_name("T")
            .item("pk", AttributeValue::S("x".repeat(bytes.saturating_sub(2))))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        TransactWriteItem::builder().put(put).build()
    }

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let item = HashMap::from([
            ("name".to_owned(), AttributeValue::S("abc".into())),
            ("n".to_owned(), AttributeValue::N("12345".into())),
            ("flag".to_owned(), AttributeValue::Bool(true)),
        ]);
        assert_eq!(item_size(&item), (4 + 3) + (1 + 4) + (4 + 1));
    }

    #[test]
    fn limits_are_named_before_the_call() {
        assert!(check(&vec![put(10); 99]).is_ok());
        let too_many = check(&vec![put(10); 100]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(too_many.contains("at most 100 actions"), "{too_many}");
        assert!(check(&[put(MAX_ITEM_BYTES)]).is_ok());
        let too_big = check(&[put(MAX_ITEM_BYTES + 1)]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(too_big.contains("at most 409600 bytes"), "{too_big}");
        let too_much = check(&vec![put(MAX_ITEM_BYTES); 11]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(too_much.contains("at most 4194304 bytes"), "{too_much}");
    }
}

//! Small constructors for SDK attribute values and items.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// An item from name/value pairs.
pub fn item<const N: usize>(pairs: [(&str, AttributeValue); N]) -> HashMap<String, AttributeValue> {
    pairs.into_iter().map(|(name, value)| (name.to_owned(), value)).collect()
}

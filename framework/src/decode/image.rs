//! DynamoDB JSON images decoded into the route's types.

use std::any::{Any, TypeId};

use serde::de::DeserializeOwned;
use serde_dynamo::Item;
use serde_json::value::RawValue;

use super::dynamo_json::from_image;
use super::path_error::path_error;
use crate::decode_error::DecodeError;

/// Decodes one image (or `Keys`) into `T`, straight from the DynamoDB JSON text.
///
/// `T = serde_dynamo::Item` keeps the attributes exactly as DynamoDB sent them (sets stay
/// sets, numbers stay decimal strings); any other type is read by the streaming decoder in
/// `dynamo_json`, with no intermediate tree.
pub(crate) fn decode_image<T: DeserializeOwned + 'static>(
    part: &'static str,
    raw: &RawValue,
) -> Result<T, DecodeError> {
    if TypeId::of::<T>() == TypeId::of::<Item>() {
        let mut json = serde_json::Deserializer::from_str(raw.get());
        let item: Item = serde_path_to_error::deserialize(&mut json).map_err(|err| path_error(part, &err, &[]))?;
        let boxed: Box<dyn Any> = Box::new(item);
        return boxed
            .downcast::<T>()
            .map(|item| *item)
            .map_err(|_| DecodeError::new(part, "", "internal: image lost its type"));
    }
    from_image(raw.get()).map_err(|err| path_error(part, &err.error, &err.shapes))
}

#[cfg(test)]
mod tests {
    use super::decode_image;
    use serde::Deserialize;
    use serde_json::value::RawValue;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Order {
        pk: String,
        amount: i64,
        tags: std::collections::BTreeSet<String>,
    }

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap_or_else(|_| Box::<RawValue>::default())
    }

    #[test]
    fn typed_and_untyped() {
        let image = raw(r#"{"pk":{"S":"o#1"},"amount":{"N":"42"},"tags":{"SS":["a","b"]}}"#);
        let order: Result<Order, _> = decode_image("NewImage", &image);
        assert_eq!(order.ok().map(|o| (o.pk, o.amount, o.tags.len())), Some(("o#1".into(), 42, 2)));
        let item: Result<serde_dynamo::Item, _> = decode_image("NewImage", &image);
        let item = item.ok().unwrap_or_default();
        assert_eq!(item.get("amount"), Some(&serde_dynamo::AttributeValue::N("42".into())));
    }

    #[test]
    fn names_the_field_and_hides_the_value() {
        let image = raw(r#"{"pk":{"S":"o#1"},"amount":{"S":"s3cret"},"tags":{"SS":[]}}"#);
        let err = decode_image::<Order>("NewImage", &image).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(err, "NewImage field `amount`: invalid type: string <redacted>, expected i64 at line 1 column 40");

        let image = raw(r#"{"pk":{"S":"o#1"},"amount":{"N":"99999999999999999999"},"tags":{"SS":[]}}"#);
        let err = decode_image::<Order>("NewImage", &image).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("NewImage field `amount`: number (N) does not fit i64"), "{err}");
        assert!(!err.contains("99999"), "{err}");

        let image = raw(r#"{"pk":{"X":"o#1"}}"#);
        let err = decode_image::<Order>("NewImage", &image).err().map(|e| e.to_string()).unwrap_or_default();
        // A malformed type tag is reported without its field: the path is known only once the
        // field's own deserializer runs, after the tag is read.
        assert!(err.starts_with("NewImage: unknown variant <redacted>, expected one of `S`, `N`"), "{err}");
    }
}

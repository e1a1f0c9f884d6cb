//! DynamoDB JSON images decoded into the route's types.

use std::any::Any;

use serde::de::DeserializeOwned;
use serde_dynamo::{AttributeValue, Item};
use serde_json::value::RawValue;

use super::DecodeError;

/// Decodes one image (or `Keys`) into `T`.
///
/// `T = serde_dynamo::Item` keeps the attributes exactly as DynamoDB sent them (sets stay
/// sets, numbers stay decimal strings); any other type goes through serde_dynamo.
pub(crate) fn decode_image<T: DeserializeOwned + 'static>(
    part: &'static str,
    raw: &RawValue,
) -> Result<T, DecodeError> {
    let mut json = serde_json::Deserializer::from_str(raw.get());
    let item: Item =
        serde_path_to_error::deserialize(&mut json).map_err(|err| DecodeError::from_path_error(part, &err))?;
    let boxed: Box<dyn Any> = Box::new(item);
    let item = match boxed.downcast::<T>() {
        Ok(untyped) => return Ok(*untyped),
        Err(boxed) => match boxed.downcast::<Item>() {
            Ok(item) => *item,
            Err(_) => return Err(DecodeError::new(part, "", "internal: image lost its type")),
        },
    };
    let attributes = serde_dynamo::Deserializer::from_attribute_value(AttributeValue::M(item.into()));
    serde_path_to_error::deserialize(attributes).map_err(|err| DecodeError::from_path_error(part, &err))
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
        assert_eq!(err, "NewImage field `amount`: Expected num");

        let image = raw(r#"{"pk":{"S":"o#1"},"amount":{"N":"99999999999999999999"},"tags":{"SS":[]}}"#);
        let err = decode_image::<Order>("NewImage", &image).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("NewImage field `amount`: Failed to parse <redacted> as an integer"), "{err}");
        assert!(!err.contains("99999"), "{err}");

        let image = raw(r#"{"pk":{"X":"o#1"}}"#);
        let err = decode_image::<Order>("NewImage", &image).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("NewImage field `pk`: The key <redacted> is not a known DynamoDB prefix"), "{err}");
    }
}

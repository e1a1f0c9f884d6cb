//! A serde `Deserializer` over DynamoDB JSON (`{"name": {"S": "..."}, ...}`) that decodes
//! straight into the target type while serde_json streams the text: no `Item` or
//! `AttributeValue` tree is built.
//!
//! Where serde_dynamo supports a target, the result is the same (same value, or an error
//! where it errs); `tests` compares the two on random items. Beyond it: N also decodes into
//! `i128`/`u128` and into strings (exact digits), and never passes through `f64` unless the
//! target asks for a float (or is self-describing and the number is not an integer).

/// The hints every payload deserializer answers alike: an option is `Some` (NULL aside), a
/// newtype wraps the value, and an ignored value is read as `deserialize_any` reads it, as
/// serde_dynamo does: its JSON must be what the tag says, an N a number and a NULL `true`.
macro_rules! present_value {
    () => {
        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            visitor.visit_some(self)
        }

        present_value!(no_option);
    };
    (no_option) => {
        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            visitor.visit_newtype_struct(self)
        }

        fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.deserialize_any(visitor)
        }
    };
}

mod item;
mod scalar;
mod shape;
#[cfg(test)]
mod tests;

pub(crate) use item::from_image;
pub(crate) use shape::Shape;

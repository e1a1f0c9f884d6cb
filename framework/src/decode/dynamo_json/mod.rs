//! A serde `Deserializer` over DynamoDB JSON (`{"name": {"S": "..."}, ...}`) that decodes
//! straight into the target type while serde_json streams the text: no `Item` or
//! `AttributeValue` tree is built.
//!
//! Where serde_dynamo supports a target, the result is the same (same value, or an error
//! where it errs); `tests` compares the two on random items. Beyond it: N also decodes into
//! `i128`/`u128` and into strings (exact digits), and never passes through `f64` unless the
//! target asks for a float (or is self-describing and the number is not an integer).

mod item;
mod scalar;
#[cfg(test)]
mod tests;

pub(crate) use item::from_image;

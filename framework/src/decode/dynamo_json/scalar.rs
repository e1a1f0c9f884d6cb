//! Scalar payloads: S (a JSON string), N (a JSON string of digits), B (base64 text), BOOL and
//! NULL; the elements of sets; attribute names read as map keys.

use std::fmt;

use base64::Engine;
use serde::de::{self, Visitor};

/// An `S` payload.
pub(super) struct Text<D>(pub(super) D);

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for Text<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("expected binary data (B), found a string (S)"))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, _: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("expected binary data (B), found a string (S)"))
    }

    present_value!();

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_str(UnitVariant(visitor))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string unit unit_struct
        seq tuple tuple_struct map struct identifier
    }
}

/// A unit variant named by a string.
struct UnitVariant<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for UnitVariant<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string naming a unit variant")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<V::Value, E> {
        self.0.visit_enum(de::value::StrDeserializer::<E>::new(name))
    }
}

/// An `N` payload: decimal text, parsed exactly for the type the target asks for.
pub(super) struct Number<D>(pub(super) D);

#[derive(Clone, Copy)]
enum Want {
    Any,
    I8,
    I16,
    I32,
    I64,
    I128,
    U8,
    U16,
    U32,
    U64,
    U128,
    F32,
    F64,
    Text,
}

#[cfg(test)]
thread_local! {
    /// In tests: read N into strings as serde_dynamo does (an error), to compare the two on
    /// exactly the types both support.
    pub(super) static SERDE_DYNAMO_NUMBERS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl<D> Number<D> {
    fn read<'de, V: Visitor<'de>>(self, want: Want, visitor: V) -> Result<V::Value, D::Error>
    where
        D: de::Deserializer<'de>,
    {
        #[cfg(test)]
        let want = match want {
            Want::Text if SERDE_DYNAMO_NUMBERS.get() => Want::Any,
            other => other,
        };
        self.0.deserialize_str(Digits { want, visitor })
    }
}

struct Digits<V> {
    want: Want,
    visitor: V,
}

fn parse<T: std::str::FromStr, E: de::Error>(text: &str, what: &str) -> Result<T, E>
where
    T::Err: fmt::Display,
{
    text.parse::<T>().map_err(|err| E::custom(format_args!("number (N) does not fit {what}: {err}")))
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Digits<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number (N) as a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<V::Value, E> {
        match self.want {
            Want::Text => self.visitor.visit_borrowed_str(text),
            _ => self.visit_str(text),
        }
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<V::Value, E> {
        let v = self.visitor;
        match self.want {
            Want::Any => match (text.parse::<i64>(), text.parse::<u64>()) {
                (Ok(i), _) => v.visit_i64(i),
                (_, Ok(u)) => v.visit_u64(u),
                _ => v.visit_f64(parse(text, "a float")?),
            },
            Want::I8 => v.visit_i8(parse(text, "i8")?),
            Want::I16 => v.visit_i16(parse(text, "i16")?),
            Want::I32 => v.visit_i32(parse(text, "i32")?),
            Want::I64 => v.visit_i64(parse(text, "i64")?),
            Want::I128 => v.visit_i128(parse(text, "i128")?),
            Want::U8 => v.visit_u8(parse(text, "u8")?),
            Want::U16 => v.visit_u16(parse(text, "u16")?),
            Want::U32 => v.visit_u32(parse(text, "u32")?),
            Want::U64 => v.visit_u64(parse(text, "u64")?),
            Want::U128 => v.visit_u128(parse(text, "u128")?),
            Want::F32 => v.visit_f32(parse(text, "f32")?),
            Want::F64 => v.visit_f64(parse(text, "f64")?),
            Want::Text => v.visit_str(text),
        }
    }
}

macro_rules! numbers {
    ($($method:ident => $want:ident),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.read(Want::$want, visitor)
        })*
    };
}

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for Number<D> {
    type Error = D::Error;

    numbers! {
        deserialize_any => Any,
        deserialize_i8 => I8, deserialize_i16 => I16, deserialize_i32 => I32, deserialize_i64 => I64,
        deserialize_i128 => I128,
        deserialize_u8 => U8, deserialize_u16 => U16, deserialize_u32 => U32, deserialize_u64 => U64,
        deserialize_u128 => U128,
        deserialize_f32 => F32, deserialize_f64 => F64,
        deserialize_str => Text, deserialize_string => Text,
    }

    present_value!();

    fn deserialize_identifier<V: Visitor<'de>>(self, _: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("expected a string (S), found a number (N)"))
    }

    fn deserialize_char<V: Visitor<'de>>(self, _: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("expected a string (S), found a number (N)"))
    }

    serde::forward_to_deserialize_any! {
        bool bytes byte_buf unit unit_struct seq tuple tuple_struct map struct enum
    }
}

/// A `B` payload: base64 text, decoded to bytes.
pub(super) struct Binary<D>(pub(super) D);

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for Binary<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_str(Base64(visitor))
    }

    present_value!();

    fn deserialize_str<V: Visitor<'de>>(self, _: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("expected a string (S), found binary data (B)"))
    }

    fn deserialize_string<V: Visitor<'de>>(self, _: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("expected a string (S), found binary data (B)"))
    }

    fn deserialize_char<V: Visitor<'de>>(self, _: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("expected a string (S), found binary data (B)"))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, _: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("expected a string (S), found binary data (B)"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 bytes byte_buf unit unit_struct
        seq tuple tuple_struct map struct enum
    }
}

/// An element of a `BS` set: every request gets the bytes (a `String` target accepts them
/// if they are UTF-8), exactly as serde_dynamo presents set elements; an ignored one is
/// decoded too, as serde_dynamo's parse of the JSON decodes it.
pub(super) struct BinaryElement<D>(pub(super) D);

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for BinaryElement<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_str(Base64(visitor))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// An element of an `SS` or `NS` set, around the payload's deserializer (`Text`, `Number`).
/// serde_dynamo hands set elements over bare (serde's `StringDeserializer`, its
/// `DeserializerNumber`): an `Option` or a newtype target does not wrap them, and a bytes
/// target is offered the value itself. Those requests go to `deserialize_any`; every other
/// request is the payload's own.
pub(super) struct SetElement<X>(pub(super) X);

/// Passes requests through to the wrapped deserializer, extra arguments included.
macro_rules! pass_through {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, X::Error> {
            self.0.$method($($arg,)* visitor)
        })*
    };
}

impl<'de, X: de::Deserializer<'de>> de::Deserializer<'de> for SetElement<X> {
    type Error = X::Error;

    pass_through! {
        deserialize_any(), deserialize_bool(), deserialize_i8(), deserialize_i16(), deserialize_i32(),
        deserialize_i64(), deserialize_i128(), deserialize_u8(), deserialize_u16(), deserialize_u32(),
        deserialize_u64(), deserialize_u128(), deserialize_f32(), deserialize_f64(), deserialize_char(),
        deserialize_str(), deserialize_string(), deserialize_unit(), deserialize_unit_struct(name: &'static str),
        deserialize_seq(), deserialize_tuple(len: usize), deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_map(), deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]), deserialize_identifier(),
        deserialize_ignored_any(),
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, X::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, X::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, X::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, X::Error> {
        self.0.deserialize_any(visitor)
    }
}

struct Base64<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for Base64<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("base64 text (B)")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<V::Value, E> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|err| E::custom(format_args!("binary (B) is not base64: {err}")))?;
        self.0.visit_byte_buf(bytes)
    }
}

/// A `BOOL` payload: only `true` or `false`, whatever the target asks for (a `String` target
/// refuses it, as in serde_dynamo, whose parse of the JSON refuses any other payload).
pub(super) struct Flag<D>(pub(super) D);

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for Flag<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_bool(visitor)
    }

    present_value!();

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit unit_struct
        seq tuple tuple_struct map struct enum identifier
    }
}

/// A `NULL` payload (`true`).
pub(super) struct Null<D>(pub(super) D);

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for Null<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_bool(NullFlag { visitor, option: false })
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_bool(NullFlag { visitor, option: true })
    }

    present_value!(no_option);

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit unit_struct
        seq tuple tuple_struct map struct enum identifier
    }
}

struct NullFlag<V> {
    visitor: V,
    option: bool,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for NullFlag<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("true (NULL)")
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<V::Value, E> {
        match (flag, self.option) {
            (true, true) => self.visitor.visit_none(),
            (true, false) => self.visitor.visit_unit(),
            (false, _) => Err(E::custom("NULL must be true")),
        }
    }
}

/// An attribute name (an item's or an M's) read as a map key, as serde_dynamo reads it: a
/// string, except that an integer target gets it through `str::parse` (so "07" and "+7" are
/// 7, and "-0" is 0) and a `bool` target takes "true" or "false". serde_json's own map keys
/// read integers and floats as JSON numbers instead, so none of its key parsing is used.
pub(super) struct Key<D>(pub(super) D);

/// Integer keys: the same `str::parse` as an N payload.
macro_rules! integer_keys {
    ($($method:ident),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            de::Deserializer::$method(Number(self.0), visitor)
        })*
    };
}

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for Key<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_str(visitor)
    }

    integer_keys! {
        deserialize_i8, deserialize_i16, deserialize_i32, deserialize_i64, deserialize_i128,
        deserialize_u8, deserialize_u16, deserialize_u32, deserialize_u64, deserialize_u128,
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_str(BoolKey(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_str(UnitVariant(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        visitor.visit_newtype_struct(self)
    }

    // Floats, options, bytes and the rest get the string, which they refuse (a `char`
    // takes one of one character), as in serde_dynamo.
    serde::forward_to_deserialize_any! {
        f32 f64 char str string bytes byte_buf option unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// A `bool` named by a key.
struct BoolKey<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for BoolKey<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean key (true or false)")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<V::Value, E> {
        match name {
            "true" => self.0.visit_bool(true),
            "false" => self.0.visit_bool(false),
            _ => Err(E::invalid_value(de::Unexpected::Str(name), &self)),
        }
    }
}

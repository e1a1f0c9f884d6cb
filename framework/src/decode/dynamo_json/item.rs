//! Items and maps (attribute names to tagged values), lists and sets, and the dispatch on
//! an attribute's type tag.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::scalar::{Binary, BinaryElement, Flag, Key, Null, Number, SetElement, Text};
use super::shape::{tracking, within, Shape};

/// Why an image does not fit: the error with its path, and the shape of each container
/// on that path.
#[derive(Debug)]
pub(crate) struct ImageError {
    pub(crate) error: serde_path_to_error::Error<serde_json::Error>,
    pub(crate) shapes: Vec<Shape>,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

/// Decodes an image (a JSON object of tagged attributes) into `T`. On failure it decodes
/// again, tracking the path of the field that does not fit and the shapes along it:
/// tracking costs an allocation per key, which only an error needs.
pub(crate) fn from_image<'de, T: de::Deserialize<'de>>(json: &'de str) -> Result<T, ImageError> {
    let mut input = serde_json::Deserializer::from_str(json);
    match T::deserialize(Attributes(&mut input)) {
        Ok(value) => Ok(value),
        Err(_) => {
            let (result, shapes) = tracking(|| {
                let mut input = serde_json::Deserializer::from_str(json);
                serde_path_to_error::deserialize(Attributes(&mut input))
            });
            result.map_err(|error| ImageError { error, shapes })
        }
    }
}

/// A JSON object of attributes: an item, or the payload of an `M`.
pub(super) struct Attributes<D>(pub(super) D);

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for Attributes<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        within(Shape::Map, || self.0.deserialize_map(AttributeMap(visitor)))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        within(Shape::Struct(fields), || self.0.deserialize_map(AttributeMap(visitor)))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        within(Shape::Enum(variants), || self.0.deserialize_map(EnumFromMap(visitor)))
    }

    present_value!();

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit unit_struct
        seq tuple tuple_struct map identifier
    }
}

/// Hands the user's visitor a map whose values are tagged attributes.
struct AttributeMap<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for AttributeMap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of DynamoDB attributes")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(TaggedValues(map))
    }
}

struct TaggedValues<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TaggedValues<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Payload::<K, AsKey>(seed, PhantomData))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.0.next_value_seed(Tagged(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// An enum from a map of one entry: the variant's name, then its value.
struct EnumFromMap<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for EnumFromMap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map with one entry naming an enum variant")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(Variant(map))
    }
}

struct Variant<A>(A);

impl<'de, A: MapAccess<'de>> de::EnumAccess<'de> for Variant<A> {
    type Error = A::Error;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(mut self, seed: S) -> Result<(S::Value, Self), A::Error> {
        match self.0.next_key_seed(seed)? {
            Some(variant) => Ok((variant, self)),
            None => Err(de::Error::custom("expected a map with one entry, found an empty map")),
        }
    }
}

impl<'de, A: MapAccess<'de>> de::VariantAccess<'de> for Variant<A> {
    type Error = A::Error;

    fn unit_variant(mut self) -> Result<(), A::Error> {
        // serde_dynamo never reads a unit variant's value: it only had to parse as an
        // attribute (so `{"N": "x"}` passes, `{"BOOL": "yes"}` does not).
        self.0.next_value::<serde_dynamo::AttributeValue>()?;
        self.finish(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(mut self, seed: S) -> Result<S::Value, A::Error> {
        let value = self.0.next_value_seed(Tagged(seed))?;
        self.finish(value)
    }

    fn tuple_variant<V: Visitor<'de>>(mut self, _: usize, visitor: V) -> Result<V::Value, A::Error> {
        let value = self.0.next_value_seed(Tagged(SeqHint(visitor)))?;
        self.finish(value)
    }

    fn struct_variant<V: Visitor<'de>>(mut self, _: &'static [&'static str], visitor: V) -> Result<V::Value, A::Error> {
        let value = self.0.next_value_seed(Tagged(MapHint(visitor)))?;
        self.finish(value)
    }
}

impl<'de, A: MapAccess<'de>> Variant<A> {
    fn finish<T>(mut self, value: T) -> Result<T, A::Error> {
        match self.0.next_key::<de::IgnoredAny>()? {
            None => Ok(value),
            Some(_) => Err(de::Error::custom("expected a map with one entry, found more")),
        }
    }
}

struct SeqHint<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for SeqHint<V> {
    type Value = V::Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        deserializer.deserialize_seq(self.0)
    }
}

struct MapHint<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for MapHint<V> {
    type Value = V::Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        deserializer.deserialize_map(self.0)
    }
}

/// One tagged attribute, `{"TAG": payload}`: reads the tag, then hands the payload to the
/// user's seed through the deserializer for that tag.
struct Tagged<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Tagged<S> {
    type Value = S::Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Tagged<S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"an object with a single key "N", "S", "BOOL", "B", "NULL", "M", "L", "SS", "NS", or "BS""#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<S::Value, A::Error> {
        let Some(tag) = map.next_key::<Tag>()? else {
            return Err(de::Error::custom("expected exactly one key in an attribute, found none"));
        };
        let seed = self.0;
        let value = match tag {
            Tag::S => map.next_value_seed(Payload::<S, AsText>(seed, PhantomData))?,
            Tag::N => map.next_value_seed(Payload::<S, AsNumber>(seed, PhantomData))?,
            Tag::B => map.next_value_seed(Payload::<S, AsBinary>(seed, PhantomData))?,
            Tag::Bool => map.next_value_seed(Payload::<S, AsFlag>(seed, PhantomData))?,
            Tag::Null => map.next_value_seed(Payload::<S, AsNull>(seed, PhantomData))?,
            Tag::M => map.next_value_seed(Payload::<S, AsMap>(seed, PhantomData))?,
            Tag::L => map.next_value_seed(Payload::<S, AsList<TaggedElement>>(seed, PhantomData))?,
            Tag::Ss => map.next_value_seed(Payload::<S, AsList<AsTextElement>>(seed, PhantomData))?,
            Tag::Ns => map.next_value_seed(Payload::<S, AsList<AsNumberElement>>(seed, PhantomData))?,
            Tag::Bs => map.next_value_seed(Payload::<S, AsList<AsBinaryElement>>(seed, PhantomData))?,
        };
        match map.next_key::<de::IgnoredAny>()? {
            None => Ok(value),
            Some(_) => Err(de::Error::custom("expected exactly one key in an attribute, found several")),
        }
    }
}

#[derive(serde::Deserialize)]
enum Tag {
    S,
    N,
    B,
    #[serde(rename = "BOOL")]
    Bool,
    #[serde(rename = "NULL")]
    Null,
    M,
    L,
    #[serde(rename = "SS")]
    Ss,
    #[serde(rename = "NS")]
    Ns,
    #[serde(rename = "BS")]
    Bs,
}

/// How a payload (or a list element, or an attribute name) of one type is presented to the
/// user's seed.
trait Wrap {
    fn run<'de, S: DeserializeSeed<'de>, D: de::Deserializer<'de>>(seed: S, payload: D) -> Result<S::Value, D::Error>;
}

/// How the elements of a list payload are presented: tagged values (L) or bare ones (sets).
trait Element: Wrap {
    /// Whether a list of these is a set (SS, NS, BS), which a struct never reads from, as
    /// in serde_dynamo; only L elements say no.
    const IN_SET: bool = true;

    /// Reads an element the target left unread (a tuple or a struct shorter than the list).
    /// serde_dynamo drops those unread, once its parse of the JSON has accepted them; so
    /// only their JSON is checked, not what `deserialize_any` would find.
    fn skip<'de, D: de::Deserializer<'de>>(element: D) -> Result<(), D::Error>;
}

struct AsText;
struct AsTextElement;
struct AsNumber;
struct AsNumberElement;
struct AsBinary;
struct AsBinaryElement;
struct AsFlag;
struct AsNull;
struct AsMap;
struct AsKey;
struct AsList<E>(PhantomData<E>);
struct TaggedElement;

/// A payload type presented through its deserializer.
macro_rules! wrap_with {
    ($($wrap:ident => $deserializer:ident),* $(,)?) => {
        $(impl Wrap for $wrap {
            fn run<'de, S: DeserializeSeed<'de>, D: de::Deserializer<'de>>(seed: S, payload: D) -> Result<S::Value, D::Error> {
                seed.deserialize($deserializer(payload))
            }
        })*
    };
}

wrap_with! {
    AsText => Text, AsNumber => Number, AsBinary => Binary, AsBinaryElement => BinaryElement, AsFlag => Flag,
    AsNull => Null, AsMap => Attributes, AsKey => Key,
}

impl Wrap for AsTextElement {
    fn run<'de, S: DeserializeSeed<'de>, D: de::Deserializer<'de>>(seed: S, payload: D) -> Result<S::Value, D::Error> {
        seed.deserialize(SetElement(Text(payload)))
    }
}

impl Wrap for AsNumberElement {
    fn run<'de, S: DeserializeSeed<'de>, D: de::Deserializer<'de>>(seed: S, payload: D) -> Result<S::Value, D::Error> {
        seed.deserialize(SetElement(Number(payload)))
    }
}

impl Wrap for TaggedElement {
    fn run<'de, S: DeserializeSeed<'de>, D: de::Deserializer<'de>>(seed: S, payload: D) -> Result<S::Value, D::Error> {
        Tagged(seed).deserialize(payload)
    }
}

impl Element for TaggedElement {
    const IN_SET: bool = false;

    fn skip<'de, D: de::Deserializer<'de>>(element: D) -> Result<(), D::Error> {
        <serde_dynamo::AttributeValue as de::Deserialize<'de>>::deserialize(element).map(drop)
    }
}

impl Element for AsTextElement {
    fn skip<'de, D: de::Deserializer<'de>>(element: D) -> Result<(), D::Error> {
        element.deserialize_str(de::IgnoredAny).map(drop)
    }
}

impl Element for AsNumberElement {
    fn skip<'de, D: de::Deserializer<'de>>(element: D) -> Result<(), D::Error> {
        element.deserialize_str(de::IgnoredAny).map(drop)
    }
}

impl Element for AsBinaryElement {
    fn skip<'de, D: de::Deserializer<'de>>(element: D) -> Result<(), D::Error> {
        de::Deserializer::deserialize_any(BinaryElement(element), de::IgnoredAny).map(drop)
    }
}

impl<E: Element> Wrap for AsList<E> {
    fn run<'de, S: DeserializeSeed<'de>, D: de::Deserializer<'de>>(seed: S, payload: D) -> Result<S::Value, D::Error> {
        seed.deserialize(List::<D, E>(payload, PhantomData))
    }
}

struct Payload<S, W>(S, PhantomData<W>);

impl<'de, S: DeserializeSeed<'de>, W: Wrap> DeserializeSeed<'de> for Payload<S, W> {
    type Value = S::Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        W::run(self.0, deserializer)
    }
}

/// A list payload (L, SS, NS, BS); `E` presents each element.
struct List<D, E>(D, PhantomData<E>);

impl<'de, D: de::Deserializer<'de>, E: Element> de::Deserializer<'de> for List<D, E> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        within(Shape::Seq, || self.0.deserialize_seq(Elements::<V, E>(visitor, PhantomData)))
    }

    present_value!();

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        if E::IN_SET {
            return Err(de::Error::custom("expected a map (M), found a set"));
        }
        self.deserialize_any(visitor)
    }

    /// Never a map, nor a struct variant (which asks for one), as in serde_dynamo.
    fn deserialize_map<V: Visitor<'de>>(self, _: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("expected a map (M), found a list"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit unit_struct
        seq tuple tuple_struct enum identifier
    }
}

struct Elements<V, E>(V, PhantomData<E>);

impl<'de, V: Visitor<'de>, E: Element> Visitor<'de> for Elements<V, E> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of DynamoDB values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<V::Value, A::Error> {
        let value = self.0.visit_seq(ElementAccess::<&mut A, E>(&mut seq, PhantomData))?;
        // A tuple or a struct stops reading at its length; serde_dynamo drops the rest,
        // where serde_json would call them trailing characters.
        while seq.next_element_seed(Skip::<E>(PhantomData))?.is_some() {}
        Ok(value)
    }
}

/// An element left unread; see `Element::skip`.
struct Skip<E>(PhantomData<E>);

impl<'de, E: Element> DeserializeSeed<'de> for Skip<E> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, element: D) -> Result<(), D::Error> {
        E::skip(element)
    }
}

struct ElementAccess<A, E>(A, PhantomData<E>);

impl<'de, A: SeqAccess<'de>, E: Element> SeqAccess<'de> for ElementAccess<A, E> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, A::Error> {
        self.0.next_element_seed(Payload::<S, E>(seed, PhantomData))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

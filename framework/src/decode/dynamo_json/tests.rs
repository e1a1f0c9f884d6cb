//! The streaming decoder against serde_dynamo on random items and target types: the same
//! value where both succeed, an error where either errs (for the types both support).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_dynamo::{AttributeValue as V, Item};

use super::item::from_image;

fn scalar() -> impl Strategy<Value = V> {
    prop_oneof![
        "[a-zA-Z0-9 é\"\\\\/]{0,12}".prop_map(V::S),
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            (-1000i32..1000, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
            "[1-9][0-9]{19,37}".prop_map(|s| s),
            Just("0".to_owned()),
            Just("1e5".to_owned()),
            // Text `str::parse` reads (or refuses) as serde_dynamo does; never NaN, which
            // would not equal itself.
            prop::sample::select(vec!["007", "+5", "-0", "inf", "abc", ""]).prop_map(str::to_owned),
        ]
        .prop_map(V::N),
        any::<bool>().prop_map(V::Bool),
        Just(V::Null(true)),
        Just(V::Null(false)),
        prop::collection::vec(any::<u8>(), 0..6).prop_map(V::B),
        prop::collection::vec("[a-c]{1,3}", 1..4).prop_map(V::Ss),
        prop::collection::vec((-50i32..50).prop_map(|n| n.to_string()), 1..4).prop_map(V::Ns),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3), 1..3).prop_map(V::Bs),
    ]
}

fn value() -> impl Strategy<Value = V> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(V::L),
            prop::collection::hash_map("[a-e]{1,2}", inner, 0..4).prop_map(V::M),
        ]
    })
}

/// An item for `Order` whose attributes are mostly of the right type, sometimes not.
fn order_item() -> impl Strategy<Value = Item> {
    let right_or = |right: BoxedStrategy<V>| prop_oneof![4 => right, 1 => value()];
    (
        right_or("[a-z]{1,6}".prop_map(V::S).boxed()),
        right_or(prop_oneof![any::<i64>().prop_map(|n| V::N(n.to_string())), "[0-9]{19,21}".prop_map(V::N)].boxed()),
        right_or(any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| V::N(f.to_string())).boxed()),
        right_or(any::<bool>().prop_map(V::Bool).boxed()),
        prop::option::of(right_or(
            prop_oneof![Just(V::Null(true)), any::<u32>().prop_map(|n| V::N(n.to_string()))].boxed(),
        )),
        right_or(prop::collection::vec("[a-z]{0,3}".prop_map(V::S), 0..4).prop_map(V::L).boxed()),
        right_or(prop::collection::vec("[a-z]{1,3}", 1..4).prop_map(V::Ss).boxed()),
        right_or(prop::collection::vec((-100i32..100).prop_map(|n| n.to_string()), 1..4).prop_map(V::Ns).boxed()),
        right_or(
            prop::collection::hash_map("[a-z]{1,3}", (0u8..=255).prop_map(|n| V::N(n.to_string())), 0..3)
                .prop_map(V::M)
                .boxed(),
        ),
        right_or(
            prop_oneof![
                Just(V::S("Draft".into())),
                Just(V::S("Paid".into())),
                Just(V::S("Lost".into())),
                any::<u16>().prop_map(|n| V::M(HashMap::from([("Refunded".to_owned(), V::N(n.to_string()))])))
            ]
            .boxed(),
        ),
        prop::option::of(right_or(
            ("[a-z]{1,4}", prop::option::of("[a-z]{1,4}"))
                .prop_map(|(city, zip)| {
                    let mut m = HashMap::from([("city".to_owned(), V::S(city))]);
                    if let Some(zip) = zip {
                        m.insert("zip".to_owned(), V::S(zip));
                    }
                    V::M(m)
                })
                .boxed(),
        )),
    )
        .prop_map(|(id, count, ratio, flag, maybe, list, set, nums, map, status, address)| {
            let mut item = HashMap::from([
                ("id".to_owned(), id),
                ("count".to_owned(), count),
                ("ratio".to_owned(), ratio),
                ("flag".to_owned(), flag),
                ("list".to_owned(), list),
                ("set".to_owned(), set),
                ("nums".to_owned(), nums),
                ("map".to_owned(), map),
                ("status".to_owned(), status),
            ]);
            item.extend(maybe.map(|m| ("maybe".to_owned(), m)));
            item.extend(address.map(|a| ("address".to_owned(), a)));
            Item::from(item)
        })
}

#[derive(Debug, Deserialize, PartialEq)]
enum Status {
    Draft,
    Paid,
    Refunded(u16),
}

#[derive(Debug, Deserialize, PartialEq)]
struct Address {
    city: String,
    zip: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Order {
    id: String,
    count: i64,
    ratio: f64,
    flag: bool,
    maybe: Option<u32>,
    list: Vec<String>,
    set: BTreeSet<String>,
    nums: Vec<i32>,
    map: BTreeMap<String, u8>,
    status: Status,
    address: Option<Address>,
}

/// Bytes through `deserialize_byte_buf`, as `serde_bytes` does.
#[derive(Debug, PartialEq)]
struct Bytes(Vec<u8>);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
        }
        deserializer.deserialize_byte_buf(Visit)
    }
}

#[derive(Debug, Deserialize, PartialEq)]
struct Blobs {
    one: Option<Bytes>,
    many: Option<Vec<Bytes>>,
}

fn both<T: DeserializeOwned + PartialEq + std::fmt::Debug>(item: &Item) -> Result<(), TestCaseError> {
    let json = serde_json::to_string(item).map_err(|e| TestCaseError::fail(e.to_string()))?;
    both_json::<T>(&json)
}

/// The two on DynamoDB JSON, which serde_dynamo first parses into an `Item` (refusing a
/// payload of the wrong JSON type there) and then decodes.
fn both_json<T: DeserializeOwned + PartialEq + std::fmt::Debug>(json: &str) -> Result<(), TestCaseError> {
    let ours = from_image::<T>(json).map_err(|e| e.to_string());
    let theirs = serde_json::from_str::<Item>(json)
        .map_err(|e| e.to_string())
        .and_then(|item| serde_dynamo::from_item::<_, T>(item).map_err(|e| e.to_string()));
    // Where we succeed and serde_dynamo does not, the difference must be our one extension
    // (N read into strings): without it, we must fail too.
    let strict = || {
        super::scalar::SERDE_DYNAMO_NUMBERS.set(true);
        let strict = from_image::<T>(json).is_err();
        super::scalar::SERDE_DYNAMO_NUMBERS.set(false);
        strict
    };
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{}", json),
        (Err(_), Err(_)) => {}
        (Ok(_), Err(_)) if strict() => {}
        _ => prop_assert!(false, "ours {:?} vs serde_dynamo {:?} on {}", ours, theirs, json),
    }
    Ok(())
}

/// A field of any type.
#[derive(Debug, Deserialize, PartialEq)]
struct One<T> {
    f: T,
}

/// A map target that needs neither `Ord` nor `Hash` of its keys (so floats and options can
/// be keys), equal whatever the order of its entries (serde_dynamo visits an M in hash order).
#[derive(Debug)]
struct Entries<K, V>(Vec<(K, V)>);

impl<K: std::fmt::Debug, V: std::fmt::Debug> PartialEq for Entries<K, V> {
    fn eq(&self, other: &Self) -> bool {
        let sorted = |entries: &Self| {
            let mut entries: Vec<String> = entries.0.iter().map(|entry| format!("{entry:?}")).collect();
            entries.sort();
            entries
        };
        sorted(self) == sorted(other)
    }
}

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Entries<K, V> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> serde::de::Visitor<'de> for Visit<K, V> {
            type Value = Entries<K, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Entries<K, V>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }
}

#[derive(Debug, Deserialize, PartialEq)]
struct Id(u8);

#[derive(Debug, Deserialize, PartialEq)]
enum Level {
    Low,
    High,
}

/// Attribute names as an integer (or bool, char, enum) key may write them: leading zeros, a
/// sign, or not a number at all.
fn key_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (0usize..3, prop::sample::select(vec!["", "+", "-"]), 0u32..300)
            .prop_map(|(zeros, sign, n)| format!("{sign}{}{n}", "0".repeat(zeros))),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u128>().prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "-0", "+0", "00", "", " 1", "1 ", "1.0", "1e2", "0x1", "+-1", "--1", "true", "false", "True", "a", "é",
            "Low", "High",
        ])
        .prop_map(str::to_owned),
    ]
}

/// The same map as an item and as an M, into a map with keys of type `K`.
fn keys_into<K: DeserializeOwned + std::fmt::Debug>(item: &Item, nested: &Item) -> Result<(), TestCaseError> {
    both::<Entries<K, u32>>(item)?;
    both::<One<Entries<K, u32>>>(nested)
}

#[derive(Debug, Deserialize, PartialEq)]
struct Name(String);

#[derive(Debug, Deserialize, PartialEq)]
struct Count(i64);

/// Targets for the elements of sets and lists, one by one.
#[derive(Debug, Deserialize, PartialEq)]
struct Elements {
    names: Option<Vec<Name>>,
    maybe_names: Option<Vec<Option<String>>>,
    counts: Option<Vec<Count>>,
    maybe_counts: Option<Vec<Option<i64>>>,
    maybe_blobs: Option<Vec<Option<Bytes>>>,
    chars: Option<Vec<char>>,
    levels: Option<Vec<Level>>,
    pair: Option<(i64, i64)>,
    named_pair: Option<(String, Name)>,
}

/// A set or a list of a few elements, or any scalar.
fn elements() -> impl Strategy<Value = V> {
    let text = || prop::sample::select(vec!["a", "é", "Low", "High", "7", "", "ab"]).prop_map(str::to_owned);
    let number = || prop::sample::select(vec!["1", "-2", "007", "+5", "3.5", "abc"]).prop_map(str::to_owned);
    let bytes = prop_oneof![prop::collection::vec(any::<u8>(), 0..3), Just(b"a".to_vec())];
    prop_oneof![
        prop::collection::vec(text(), 1..4).prop_map(V::Ss),
        prop::collection::vec(number(), 1..4).prop_map(V::Ns),
        prop::collection::vec(bytes, 1..4).prop_map(V::Bs),
        prop::collection::vec(
            prop_oneof![text().prop_map(V::S), number().prop_map(V::N), Just(V::Null(true)), scalar()],
            0..4
        )
        .prop_map(V::L),
        scalar(),
    ]
}

#[derive(Debug, Deserialize, PartialEq)]
enum Shape {
    Dot,
    Circle(u32),
    Line(u32, u32),
    Rect { w: u32, h: Option<u32> },
}

#[derive(Debug, Deserialize, PartialEq)]
struct Shapes {
    shape: Option<Shape>,
    shapes: Option<Vec<Shape>>,
}

/// A variant's value: of every attribute type, and of the shapes the variants want.
fn variant_value() -> impl Strategy<Value = V> {
    let n = || (0u32..5).prop_map(|n| V::N(n.to_string()));
    prop_oneof![
        value(),
        n(),
        prop::collection::vec(n(), 0..4).prop_map(V::L),
        prop::collection::vec((0u32..5).prop_map(|n| n.to_string()), 1..4).prop_map(V::Ns),
        prop::collection::vec(prop::sample::select(vec!["1", "w", "h"]).prop_map(str::to_owned), 1..3).prop_map(V::Ss),
        (n(), prop::option::of(n())).prop_map(|(w, h)| {
            let mut m = HashMap::from([("w".to_owned(), w)]);
            m.extend(h.map(|h| ("h".to_owned(), h)));
            V::M(m)
        }),
    ]
}

/// An enum: a variant's name, a map of one (or not one) variant to its value, or anything.
fn shape() -> impl Strategy<Value = V> {
    let name = || prop::sample::select(vec!["Dot", "Circle", "Line", "Rect", "Other"]).prop_map(str::to_owned);
    prop_oneof![
        1 => name().prop_map(V::S),
        3 => (name(), variant_value()).prop_map(|(name, value)| V::M(HashMap::from([(name, value)]))),
        1 => prop::collection::hash_map(name(), variant_value(), 0..3).prop_map(V::M),
        1 => prop::collection::vec(name(), 1..3).prop_map(V::Ss),
        1 => value(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn map_keys_match_serde_dynamo(
        entries in prop::collection::hash_map(
            key_text(),
            prop_oneof![4 => (0u32..100).prop_map(|n| V::N(n.to_string())), 1 => value()],
            0..4,
        )
    ) {
        let nested = Item::from(HashMap::from([("f".to_owned(), V::M(entries.clone()))]));
        let item = Item::from(entries);
        keys_into::<u8>(&item, &nested)?;
        keys_into::<i8>(&item, &nested)?;
        keys_into::<i64>(&item, &nested)?;
        keys_into::<u64>(&item, &nested)?;
        keys_into::<u128>(&item, &nested)?;
        keys_into::<f64>(&item, &nested)?;
        keys_into::<bool>(&item, &nested)?;
        keys_into::<char>(&item, &nested)?;
        keys_into::<Option<String>>(&item, &nested)?;
        keys_into::<Id>(&item, &nested)?;
        keys_into::<Level>(&item, &nested)?;
        both::<Entries<String, serde_json::Value>>(&item)?;
    }

    #[test]
    fn set_and_list_elements_match_serde_dynamo(fields in prop::collection::vec(prop::option::of(elements()), 9)) {
        let names = ["names", "maybe_names", "counts", "maybe_counts", "maybe_blobs", "chars", "levels", "pair", "named_pair"];
        let item: HashMap<String, V> =
            names.iter().zip(fields).filter_map(|(name, value)| Some(((*name).to_owned(), value?))).collect();
        both::<Elements>(&Item::from(item))?;
    }

    #[test]
    fn enums_match_serde_dynamo(
        shape in prop::option::of(shape()),
        shapes in prop::option::of(prop_oneof![prop::collection::vec(shape(), 0..3).prop_map(V::L), shape()]),
        ignored in prop::collection::hash_map("[a-e]{1,2}", value(), 0..3)
    ) {
        // Attributes the target has no field for are ignored, as serde_dynamo ignores them.
        let mut item = ignored;
        item.extend(shape.map(|v| ("shape".to_owned(), v)));
        item.extend(shapes.map(|v| ("shapes".to_owned(), v)));
        both::<Shapes>(&Item::from(item))?;
    }

    #[test]
    fn typed_structs_match_serde_dynamo(item in order_item()) {
        both::<Order>(&item)?;
    }

    #[test]
    fn self_describing_targets_match_serde_dynamo(item in prop::collection::hash_map("[a-e]{1,2}", value(), 0..5).prop_map(Item::from)) {
        both::<HashMap<String, serde_json::Value>>(&item)?;
    }

    #[test]
    fn binary_matches_serde_dynamo(one in prop::option::of(scalar()), many in prop::option::of(scalar())) {
        let mut item = HashMap::new();
        item.extend(one.map(|v| ("one".to_owned(), v)));
        item.extend(many.map(|v| ("many".to_owned(), v)));
        both::<Blobs>(&Item::from(item))?;
    }
}

#[test]
fn numbers_are_exact_and_overflow_is_an_error() {
    #[derive(Debug, Deserialize)]
    struct Wide {
        big: u128,
        neg: i128,
        text: String,
        float: f64,
    }
    let json = r#"{"big":{"N":"12345678901234567890123456789012345678"},"neg":{"N":"-170141183460469231731687303715884105728"},
        "text":{"N":"0.10000000000000000000000000000000000001"},"float":{"N":"0.1"}}"#;
    let wide: Wide = from_image(json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(wide.big, 12_345_678_901_234_567_890_123_456_789_012_345_678);
    assert_eq!(wide.neg, i128::MIN);
    assert_eq!(wide.text, "0.10000000000000000000000000000000000001");
    assert_eq!(wide.float, 0.1);
    #[derive(Debug, Deserialize)]
    struct Small {
        #[allow(dead_code)]
        n: u8,
    }
    assert!(from_image::<Small>(r#"{"n":{"N":"256"}}"#).is_err(), "overflow is an error, not saturation");
    assert!(from_image::<Small>(r#"{"n":{"N":"-1"}}"#).is_err());
}

#[test]
fn binary_set_elements_reach_string_targets_as_serde_dynamo_presents_them() {
    #[derive(Debug, Deserialize, PartialEq)]
    struct Set {
        set: BTreeSet<String>,
    }
    // Found by the parity property: serde_dynamo hands set elements over as bytes, which a
    // `String` accepts when they are UTF-8.
    for elements in [vec![b"".to_vec()], vec![b"a".to_vec(), b"b".to_vec()], vec![vec![0xff, 0xfe]]] {
        let item = Item::from(HashMap::from([("set".to_owned(), V::Bs(elements))]));
        assert!(both::<Set>(&item).is_ok(), "{item:?}");
    }
}

#[test]
fn a_struct_reads_from_a_list_but_never_from_a_set_as_in_serde_dynamo() {
    #[derive(Debug, Deserialize, PartialEq)]
    struct Pair {
        a: String,
        b: Option<String>,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    struct Holder {
        pair: Pair,
    }
    // Found by the parity property: serde_dynamo reads a struct from an L positionally,
    // and refuses SS/NS/BS.
    let list = V::L(vec![V::S("x".into()), V::S("y".into())]);
    for value in [list, V::Ss(vec!["x".into(), "y".into()]), V::Ns(vec!["1".into()]), V::Bs(vec![b"x".to_vec()])] {
        let item = Item::from(HashMap::from([("pair".to_owned(), value)]));
        assert!(both::<Holder>(&item).is_ok(), "{item:?}");
    }
}

/// A struct that ignores every attribute.
#[derive(Debug, Deserialize, PartialEq)]
struct Nothing {}

type Listed<T> = One<Vec<T>>;
type Mapped<T> = One<BTreeMap<String, T>>;

/// `both_json` into `$wrap<T>` for each `T`, panicking at the first difference.
macro_rules! into_each {
    ($json:expr, $wrap:ident; $($t:ty),* $(,)?) => {
        $(if let Err(e) = both_json::<$wrap<$t>>(&$json) {
            panic!("{}<{}>: {e}", stringify!($wrap), stringify!($t));
        })*
    };
}

#[test]
fn payloads_of_the_wrong_json_type_are_refused_as_in_serde_dynamo() {
    // Every tag (and an unknown one) with a payload of every JSON type (space-separated).
    let tags = ["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS", "X"];
    let payloads = r#""yes" "" "AA==" "!!" "7" "abc" "Dot" 1 -1 1.5 true false null [] ["a"] ["7"] ["AA=="] [1] [true]
        [{"S":"a"}] {} {"k":{"S":"a"}} {"k":1} {"Dot":{"NULL":true}}"#;
    let mut attributes: Vec<String> = tags
        .iter()
        .flat_map(|tag| payloads.split_whitespace().map(move |payload| format!(r#"{{"{tag}":{payload}}}"#)))
        .collect();
    attributes.extend(["{}", r#"{"S":"a","N":"1"}"#, "1", r#""a""#].map(str::to_owned));
    for attribute in &attributes {
        // The attribute as an item's, an L element, an M value and a variant's value.
        let top = format!(r#"{{"f":{attribute}}}"#);
        into_each!(top, One; String, bool, u8, f64, char, (), Option<String>, Option<bool>, Option<u8>, Name, Count,
            serde_json::Value, Vec<String>, Vec<u8>, Vec<Option<String>>, Vec<Name>, (u8, u8),
            BTreeMap<String, serde_json::Value>, Shape, Bytes, Nothing);
        let listed = format!(r#"{{"f":{{"L":[{attribute}]}}}}"#);
        into_each!(listed, Listed; String, bool, u8, Option<String>, Name, serde_json::Value, Vec<String>, Shape,
            Nothing);
        let mapped = format!(r#"{{"f":{{"M":{{"k":{attribute}}}}}}}"#);
        into_each!(mapped, Mapped; String, bool, u8, Option<String>, Name, serde_json::Value, Vec<String>, Shape,
            Nothing);
        for variant in ["Dot", "Circle", "Line", "Rect"] {
            into_each!(format!(r#"{{"f":{{"M":{{"{variant}":{attribute}}}}}}}"#), One; Shape);
        }
    }
}

#[test]
fn integer_keys_are_parsed_as_serde_dynamo_parses_them() {
    // Found by review: serde_json's own key parsing refuses "07" and "+7", which
    // serde_dynamo reads with `str::parse`.
    let json = r#"{"f":{"M":{"07":{"N":"1"},"+8":{"N":"2"}}}}"#;
    let ours: One<BTreeMap<u8, u32>> = from_image(json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ours.f, BTreeMap::from([(7, 1), (8, 2)]));
    if let Err(e) = both_json::<One<BTreeMap<u8, u32>>>(json) {
        panic!("{e}");
    }
}

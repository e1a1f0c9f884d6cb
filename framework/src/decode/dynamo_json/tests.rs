//! The streaming decoder against serde_dynamo on random items and target types: the same
//! value where both succeed, an error where either errs (for the types both support).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_dynamo::{AttributeValue as V, Item};

use super::from_image;

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
        ]
        .prop_map(V::N),
        any::<bool>().prop_map(V::Bool),
        Just(V::Null(true)),
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
    let ours = from_image::<T>(&json).map_err(|e| e.to_string());
    let theirs = serde_dynamo::from_item::<_, T>(item.clone()).map_err(|e| e.to_string());
    // Where we succeed and serde_dynamo does not, the difference must be our one extension
    // (N read into strings): without it, we must fail too.
    let strict = || {
        super::scalar::SERDE_DYNAMO_NUMBERS.set(true);
        let strict = from_image::<T>(&json).is_err();
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

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

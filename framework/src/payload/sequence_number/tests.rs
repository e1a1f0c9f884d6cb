use super::SequenceNumber;
use proptest::prelude::*;
use std::cmp::Ordering;

/// Reference order: big-integer comparison done digit by digit on equal-width strings.
fn reference_cmp(a: &str, b: &str) -> Ordering {
    let width = a.len().max(b.len());
    format!("{a:0>width$}").cmp(&format!("{b:0>width$}"))
}

#[test]
fn numeric_order_not_text_order() {
    let small = SequenceNumber::new("900000000000000000000");
    let large = SequenceNumber::new("1000000000000000000000");
    assert!(small < large, "text order would say otherwise");
    assert!(small.as_str() > large.as_str());
}

#[test]
fn forty_digits_beyond_u64_and_f64() {
    let a = SequenceNumber::new("1234567890123456789012345678901234567890");
    let b = SequenceNumber::new("1234567890123456789012345678901234567891");
    assert!(a < b, "f64 would see these as equal");
}

#[test]
fn leading_zeros_compare_equal_but_keep_their_text() {
    let a = SequenceNumber::new("000123");
    assert_eq!(a, SequenceNumber::new("123"));
    assert_eq!(a.as_str(), "000123");
    assert_eq!(SequenceNumber::new("000"), SequenceNumber::new("0"));
}

#[test]
fn non_numeric_is_not_reportable_and_sorts_first() {
    for text in ["", "fake-sequence-number", "12a", " 1", "-1", "1.5"] {
        let s = SequenceNumber::new(text);
        assert!(!s.is_numeric(), "{text:?}");
        assert!(s < SequenceNumber::new("0"), "{text:?}");
    }
}

proptest! {
    #[test]
    fn order_matches_big_integer_order(a in "[0-9]{1,40}", b in "[0-9]{1,40}") {
        let ours = SequenceNumber::new(a.clone()).cmp(&SequenceNumber::new(b.clone()));
        prop_assert_eq!(ours, reference_cmp(&a, &b));
    }

    #[test]
    fn order_matches_u128_where_it_fits(a in any::<u64>(), b in any::<u64>()) {
        let ours = SequenceNumber::new(a.to_string()).cmp(&SequenceNumber::new(b.to_string()));
        prop_assert_eq!(ours, a.cmp(&b));
    }

    #[test]
    fn equal_numbers_hash_alike(n in "[0-9]{1,38}", zeros in 0usize..4) {
        use std::collections::hash_map::DefaultHasher;
        use std::hash::{Hash, Hasher};
        let hash = |s: &SequenceNumber| { let mut h = DefaultHasher::new(); s.hash(&mut h); h.finish() };
        let padded = SequenceNumber::new(format!("{}{n}", "0".repeat(zeros)));
        let plain = SequenceNumber::new(n);
        prop_assert_eq!(&padded, &plain);
        prop_assert_eq!(hash(&padded), hash(&plain));
    }
}

proptest! {
    #[test]
    fn sortable_text_orders_as_the_numbers_do(a in "[0-9]{1,40}", b in "[0-9]{1,40}") {
        let (x, y) = (SequenceNumber::new(a), SequenceNumber::new(b));
        let (sx, sy) = (x.sortable(), y.sortable());
        prop_assert!(sx.is_some() && sy.is_some());
        prop_assert_eq!(sx.cmp(&sy), x.cmp(&y));
    }
}

#[test]
fn sortable_refuses_what_is_not_a_number_of_at_most_forty_digits() {
    assert_eq!(SequenceNumber::new("fake").sortable(), None);
    assert_eq!(SequenceNumber::new("").sortable(), None);
    assert_eq!(SequenceNumber::new("1".repeat(41)).sortable(), None);
    assert_eq!(SequenceNumber::new(format!("0{}", "1".repeat(40))).sortable().map(|s| s.len()), Some(40));
    assert_eq!(SequenceNumber::new("42").sortable().as_deref(), Some("0000000000000000000000000000000000000042"));
}

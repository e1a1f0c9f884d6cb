//! Sequence numbers as DynamoDB can compare them.

use ddbstream::{BoxError, SequenceNumber};

/// The width every stored sequence number is padded to: the most digits DynamoDB Streams uses.
pub const WIDTH: usize = 40;

/// A sequence number as a fixed-width, zero-padded string. DynamoDB numbers keep only 38
/// significant digits and sequence numbers reach 40, so they are stored as text; at a fixed
/// width, text order is numeric order, and a condition such as `last_seq < :seq` compares
/// them exactly.
pub fn sortable(sequence_number: &SequenceNumber) -> Result<String, BoxError> {
    let digits = sequence_number.as_str();
    if !sequence_number.is_numeric() || digits.trim_start_matches('0').len() > WIDTH {
        return Err(format!("sequence number {digits} is not a number of at most {WIDTH} digits").into());
    }
    let significant = digits.trim_start_matches('0');
    Ok(format!("{significant:0>WIDTH$}"))
}

#[cfg(test)]
mod tests {
    use super::sortable;
    use ddbstream::SequenceNumber;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn text_order_is_numeric_order(a in "[0-9]{1,40}", b in "[0-9]{1,40}") {
            let (x, y) = (SequenceNumber::new(a), SequenceNumber::new(b));
            let (sx, sy) = (sortable(&x).ok(), sortable(&y).ok());
            prop_assert_eq!(sx.cmp(&sy), x.cmp(&y));
        }
    }

    #[test]
    fn refuses_what_is_not_a_sequence_number() {
        assert!(sortable(&SequenceNumber::new("fake")).is_err());
        assert!(sortable(&SequenceNumber::new("1".repeat(41))).is_err());
        assert_eq!(sortable(&SequenceNumber::new("42")).ok().map(|s| s.len()), Some(40));
    }
}

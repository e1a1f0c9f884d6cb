//! DynamoDB's size of a number, shared by the exactly-once limits and the test kit.

/// The bytes DynamoDB counts for a number given as text: one per two *significant* digits,
/// plus one. Leading and trailing zeros are not stored, nor are the sign, the decimal point
/// or an exponent (`"1000"` and `"0.001"` are 2 bytes, `"123"` is 3).
pub(crate) fn number_size(text: &str) -> usize {
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let leading = digits.iter().take_while(|&&d| d == b'0').count();
    let trailing = digits[leading..].iter().rev().take_while(|&&d| d == b'0').count();
    (digits.len() - leading - trailing).div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::number_size;

    #[test]
    fn only_significant_digits_count() {
        assert_eq!(number_size("0"), 1);
        assert_eq!(number_size("123"), 3);
        assert_eq!(number_size("1000"), 2);
        assert_eq!(number_size("-0.0015"), 2);
        assert_eq!(number_size("120.0300"), 4, "12003: five significant digits");
        assert_eq!(number_size("1.5E+30"), 2);
        assert_eq!(number_size(&format!("1{}", "0".repeat(37))), 2, "a 38-digit power of ten");
        assert_eq!(number_size(&"9".repeat(38)), 20);
    }
}

//! Stream sequence numbers, ordered as the numbers they are.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A stream record's `SequenceNumber`, exactly as the payload carried it.
///
/// DynamoDB sends sequence numbers as decimal strings of 21 to 40 digits: too long for
/// `u64`, too precise for `f64`, and wrong when compared as text (`"9"` > `"10"`). This type
/// compares them as numbers (significant length first, then digits), and keeps the
/// original text so a failure is reported with the identifier Lambda sent.
///
/// Text that is not all digits (hand-written test payloads) is kept too, but it is not
/// [numeric](Self::is_numeric): such a record sorts before every numeric one and can never
/// be reported as a batch item failure.
///
/// ```
/// use ddbstream::SequenceNumber;
/// let a = SequenceNumber::new("9");
/// let b = SequenceNumber::new("100000000000000000000000000000000000000");
/// assert!(a < b);
/// assert_eq!(SequenceNumber::new("0042"), SequenceNumber::new("42"));
/// ```
#[derive(Clone, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct SequenceNumber(String);

impl SequenceNumber {
    /// Wraps the text of a `SequenceNumber` field.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text exactly as the record carried it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the text is a non-empty run of ASCII digits, so that it can be ordered as a
    /// number and reported back to Lambda as an `itemIdentifier`.
    pub fn is_numeric(&self) -> bool {
        !self.0.is_empty() && self.0.bytes().all(|b| b.is_ascii_digit())
    }

    /// The width of [`sortable`](Self::sortable) text: the most digits DynamoDB Streams uses.
    pub const SORTABLE_WIDTH: usize = 40;

    /// The number as fixed-width, zero-padded text, for storing in DynamoDB: its numbers
    /// keep 38 significant digits and sequence numbers reach 40, so they are stored as
    /// strings, and at a fixed width text order is numeric order (a condition such as
    /// `last_seq < :seq` compares them exactly). `None` when the text is not a number of at
    /// most 40 significant digits.
    ///
    /// ```
    /// use ddbstream::SequenceNumber;
    /// let (a, b) = (SequenceNumber::new("9"), SequenceNumber::new("10"));
    /// assert!(a.sortable() < b.sortable());
    /// assert_eq!(a.sortable().map(|s| s.len()), Some(40));
    /// assert_eq!(SequenceNumber::new("fake").sortable(), None);
    /// ```
    pub fn sortable(&self) -> Option<String> {
        let digits = self.significant()?;
        (digits.len() <= Self::SORTABLE_WIDTH).then(|| format!("{digits:0>width$}", width = Self::SORTABLE_WIDTH))
    }

    /// The digits without leading zeros (`"0"` for zero); `None` when not numeric.
    fn significant(&self) -> Option<&str> {
        if !self.is_numeric() {
            return None;
        }
        let trimmed = self.0.trim_start_matches('0');
        Some(if trimmed.is_empty() { "0" } else { trimmed })
    }
}

impl Ord for SequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.significant(), other.significant()) {
            (Some(a), Some(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            // Non-numeric text sorts first: see `process::order` for why that loses nothing.
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (None, None) => self.0.cmp(&other.0),
        }
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SequenceNumber {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SequenceNumber {}

impl Hash for SequenceNumber {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.significant() {
            Some(digits) => digits.hash(state),
            None => self.0.hash(state),
        }
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SequenceNumber({})", self.0)
    }
}

#[cfg(test)]
mod tests;

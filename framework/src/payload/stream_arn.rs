//! The parts of a DynamoDB stream ARN that routing and metadata need.

/// The table and region named by an `eventSourceARN` of the form
/// `arn:<partition>:dynamodb:<region>:<account>:table/<Table>/stream/<label>`.
///
/// Returns `None` for anything else (hand-written payloads often carry placeholders such
/// as `"stream-ARN"`). The account field is not checked: published samples replace it
/// with all sorts of text.
///
/// ```
/// let arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2024-01-01T00:00:00.000";
/// let parts = ddbstream::StreamArn::parse(arn).unwrap();
/// assert_eq!(parts.table, "Orders");
/// assert_eq!(parts.region, "eu-west-1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamArn<'a> {
    /// The table whose stream this is.
    pub table: &'a str,
    /// The AWS Region in the ARN.
    pub region: &'a str,
    /// The stream label (its creation timestamp).
    pub label: &'a str,
}

impl<'a> StreamArn<'a> {
    /// Parses a stream ARN; `None` when the text is not one.
    pub fn parse(arn: &'a str) -> Option<Self> {
        let mut fields = arn.splitn(6, ':');
        let (prefix, _partition, service, region, _account, resource) =
            (fields.next()?, fields.next()?, fields.next()?, fields.next()?, fields.next()?, fields.next()?);
        if prefix != "arn" || service != "dynamodb" {
            return None;
        }
        let rest = resource.strip_prefix("table/")?;
        // A table name has no `/`: the first one starts `/stream/`.
        let (table, rest) = rest.split_at(rest.find('/')?);
        let label = rest.strip_prefix("/stream/")?;
        if table.is_empty() || label.is_empty() {
            return None;
        }
        Some(Self { table, region, label })
    }
}

/// Whether `arn` names a Kinesis data stream (`arn:<partition>:kinesis:...`): a table's
/// changes that came through its Kinesis streaming destination.
pub(crate) fn is_kinesis_stream(arn: &str) -> bool {
    arn.split(':').nth(2) == Some("kinesis")
}

#[cfg(test)]
mod tests {
    use super::StreamArn;

    #[test]
    fn parses_partitions_and_odd_accounts() {
        let arn = "arn:aws-cn:dynamodb:cn-north-1:🦊:table/my.table-1/stream/2020-07-16T10:45:13.404";
        let parts = StreamArn::parse(arn);
        assert_eq!(
            parts,
            Some(StreamArn { table: "my.table-1", region: "cn-north-1", label: "2020-07-16T10:45:13.404" })
        );
        let label = StreamArn::parse("arn:aws:dynamodb:r:1:table/T/stream/a/stream/b").map(|arn| arn.label);
        assert_eq!(label, Some("a/stream/b"));
    }

    #[test]
    fn rejects_what_is_not_a_stream_arn() {
        for text in [
            "stream-ARN",
            "eventsource_arn",
            "",
            "arn:aws:dynamodb:us-east-1:1:table/Orders",
            "arn:aws:kinesis:us-east-1:1:stream/Orders",
            "arn:aws:dynamodb:us-east-1:1:table//stream/x",
            "arn:aws:dynamodb:us-east-1:1:table/Orders/stream/",
            "arn:aws:dynamodb:us-east-1:1:table/Orders/streams/x",
            "arn:aws:dynamodb:us-east-1:1:table/a/b/stream/x",
            "arn:aws:dynamodb:us-east-1:1:table/a/streamX/stream/x",
        ] {
            assert_eq!(StreamArn::parse(text), None, "{text:?}");
        }
    }
}

//! [`StreamSource`] over the AWS SDK's DynamoDB Streams client.

use aws_sdk_dynamodbstreams::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client;
use serde_json::{json, Value};

use super::source::{RecordsPage, ShardDescription, ShardList, SourceError, SourceRecord, StartAt, StreamSource};
use crate::payload::SequenceNumber;

/// A live stream through `aws-sdk-dynamodbstreams`. Build the client as usual
/// (`aws_config::load_from_env`); the standard `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`
/// variable points it at a local server.
///
/// # AWS permissions
///
/// - `dynamodb:DescribeStream` (listing shards), `dynamodb:GetShardIterator` and
///   `dynamodb:GetRecords` on the stream read, by its ARN
///   (`arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>`). For a runner given
///   a table, grant them on `.../table/<table>/stream/*`: at start it describes every older
///   stream of the table that `ListStreams` returns (a stream disabled and enabled again), to
///   see whether it left one unfinished, and then reads that one to its end.
/// - `dynamodb:ListStreams` on `"*"` (it takes no resource), to find a table's streams: only
///   for a runner given a table, not a stream ARN
///   ([`Runner::stream_arn`](super::Runner::stream_arn)). A redrive re-reading a range
///   calls only `GetShardIterator` and `GetRecords`.
/// - Nothing on the table itself: its items are never read.
#[derive(Clone, Debug)]
pub struct DynamoDbStreams {
    client: Client,
}

impl DynamoDbStreams {
    /// Wraps a client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    error: SdkError<E, R>,
) -> SourceError {
    // One line: the service's error code and message, or the error's chain when the service
    // gave none (never the raw HTTP response, which the SDK's full context would print).
    let message = || match (error.code(), error.message()) {
        (Some(code), Some(text)) => format!("{code}: {text}"),
        (Some(code), None) => code.to_owned(),
        _ => crate::error::error_chain(&error),
    };
    match error.code() {
        Some("ExpiredIteratorException") => SourceError::ExpiredIterator,
        Some("TrimmedDataAccessException") => SourceError::Trimmed(message()),
        Some(
            "LimitExceededException"
            | "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded",
        ) => SourceError::Throttled(message()),
        Some("ResourceNotFoundException") => SourceError::NotFound(message()),
        _ => SourceError::Other(message().into()),
    }
}

fn item(
    map: Option<&std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>,
) -> Option<Value> {
    map.map(|map| json!(serde_dynamo::Item::from(map.clone())))
}

/// A `GetRecords` record as Lambda delivers it (`eventSourceARN` is the stream read).
fn to_lambda(record: &Record, stream_arn: &str) -> Result<SourceRecord, SourceError> {
    let Some(change) = record.dynamodb() else {
        return Err(SourceError::Other(format!("record {:?} has no `dynamodb` body", record.event_id()).into()));
    };
    let Some(sequence_number) = change.sequence_number() else {
        return Err(SourceError::Other(format!("record {:?} has no SequenceNumber", record.event_id()).into()));
    };
    let mut body = json!({
        "ApproximateCreationDateTime": change.approximate_creation_date_time().map(|t| t.secs()),
        "Keys": item(change.keys()),
        "SequenceNumber": sequence_number,
        "SizeBytes": change.size_bytes(),
        "StreamViewType": change.stream_view_type().map(|v| v.as_str()),
    });
    if let Some(new) = item(change.new_image()) {
        body["NewImage"] = new;
    }
    if let Some(old) = item(change.old_image()) {
        body["OldImage"] = old;
    }
    let mut lambda = json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|name| name.as_str()),
        "eventVersion": record.event_version(),
        "eventSource": record.event_source(),
        "awsRegion": record.aws_region(),
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    });
    if let Some(identity) = record.user_identity() {
        lambda["userIdentity"] = json!({"type": identity.r#type(), "principalId": identity.principal_id()});
    }
    Ok(SourceRecord { sequence_number: SequenceNumber::new(sequence_number), lambda_json: lambda })
}

impl StreamSource for DynamoDbStreams {
    async fn stream_of_table(&self, table: &str) -> Result<String, SourceError> {
        let listed = self.client.list_streams().table_name(table).send().await.map_err(classify)?;
        // The newest stream (labels are ISO timestamps) is the one being written.
        listed
            .streams()
            .iter()
            .filter(|stream| stream.table_name() == Some(table))
            .max_by(|a, b| a.stream_label().cmp(&b.stream_label()))
            .and_then(|stream| stream.stream_arn().map(str::to_owned))
            .ok_or_else(|| SourceError::NotFound(format!("table `{table}` has no stream (is StreamSpecification on?)")))
    }

    async fn streams_of_table(&self, table: &str) -> Result<Vec<String>, SourceError> {
        let mut streams = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let listed = self
                .client
                .list_streams()
                .table_name(table)
                .set_exclusive_start_stream_arn(after.take())
                .send()
                .await
                .map_err(classify)?;
            streams.extend(
                listed
                    .streams()
                    .iter()
                    .filter(|stream| stream.table_name() == Some(table))
                    .filter_map(|stream| Some((stream.stream_label()?.to_owned(), stream.stream_arn()?.to_owned()))),
            );
            match listed.last_evaluated_stream_arn() {
                Some(last) => after = Some(last.to_owned()),
                None => break,
            }
        }
        // Labels are ISO timestamps: oldest first.
        streams.sort();
        Ok(streams.into_iter().map(|(_, arn)| arn).collect())
    }

    async fn describe(&self, stream_arn: &str, exclusive_start: Option<&str>) -> Result<ShardList, SourceError> {
        let described = self
            .client
            .describe_stream()
            .stream_arn(stream_arn)
            .set_exclusive_start_shard_id(exclusive_start.map(str::to_owned))
            .send()
            .await
            .map_err(classify)?;
        let Some(description) = described.stream_description() else {
            return Err(SourceError::NotFound(format!("stream {stream_arn} has no description")));
        };
        let shards = description
            .shards()
            .iter()
            .filter_map(|shard| {
                Some(ShardDescription {
                    shard_id: shard.shard_id()?.to_owned(),
                    parent_shard_id: shard.parent_shard_id().map(str::to_owned),
                    closed: shard.sequence_number_range().and_then(|r| r.ending_sequence_number()).is_some(),
                })
            })
            .collect();
        Ok(ShardList { shards, last_evaluated_shard_id: description.last_evaluated_shard_id().map(str::to_owned) })
    }

    async fn iterator(&self, stream_arn: &str, shard_id: &str, at: &StartAt) -> Result<String, SourceError> {
        let (kind, sequence) = match at {
            StartAt::TrimHorizon => (ShardIteratorType::TrimHorizon, None),
            StartAt::Latest => (ShardIteratorType::Latest, None),
            StartAt::At(seq) => (ShardIteratorType::AtSequenceNumber, Some(seq.as_str().to_owned())),
            StartAt::After(seq) => (ShardIteratorType::AfterSequenceNumber, Some(seq.as_str().to_owned())),
        };
        let answer = self
            .client
            .get_shard_iterator()
            .stream_arn(stream_arn)
            .shard_id(shard_id)
            .shard_iterator_type(kind)
            .set_sequence_number(sequence)
            .send()
            .await
            .map_err(classify)?;
        answer
            .shard_iterator()
            .map(str::to_owned)
            .ok_or_else(|| SourceError::NotFound(format!("no iterator for shard {shard_id} (the shard is gone)")))
    }

    async fn records(&self, stream_arn: &str, iterator: &str, limit: usize) -> Result<RecordsPage, SourceError> {
        let limit = i32::try_from(limit.clamp(1, 1_000)).unwrap_or(1_000);
        let answer = self.client.get_records().shard_iterator(iterator).limit(limit).send().await.map_err(classify)?;
        let records = answer.records().iter().map(|r| to_lambda(r, stream_arn)).collect::<Result<_, _>>()?;
        Ok(RecordsPage { records, next_iterator: answer.next_shard_iterator().map(str::to_owned) })
    }
}

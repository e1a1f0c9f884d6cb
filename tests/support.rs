//! Helpers shared by the workspace tests: fixtures, contexts, responses as JSON, a call
//! log, and captured logs.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ddbstream::{Context, Error, Router};

/// The canned payloads directory.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A fixture's bytes; a missing fixture is a test failure naming it.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("fixture {}: {err}", path.display()))
}

/// A context whose deadline is `budget` from now (epoch milliseconds, as Lambda sends).
pub fn context_with_budget(budget: Duration) -> Context {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut context = Context::default();
    context.request_id = "test-request".into();
    context.deadline = u64::try_from((now + budget).as_millis()).unwrap_or(u64::MAX);
    context
}

/// Runs a payload through a router; the response as compact JSON, or the error.
pub async fn respond(router: &Router, payload: &[u8], context: &Context) -> Result<String, Error> {
    let response = router.handle(payload, context).await?;
    Ok(serde_json::to_string(&response).unwrap_or_else(|err| panic!("response does not serialize: {err}")))
}

/// The exact response JSON for a batch whose first failure is `sequence_number`, or for
/// a fully processed batch (`None`).
pub fn expected(sequence_number: Option<&str>) -> String {
    match sequence_number {
        Some(s) => format!(r#"{{"batchItemFailures":[{{"itemIdentifier":"{s}"}}]}}"#),
        None => r#"{"batchItemFailures":[]}"#.to_owned(),
    }
}

/// A shared list of what handlers saw, in call order.
#[derive(Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    /// Appends an entry.
    pub fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(entry.into());
    }

    /// The entries so far.
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// A log sink in memory, for `tracing_subscriber`'s `with_writer` (clones share it).
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

/// Everything logged (at every level) while `work` runs on this thread, as text.
pub async fn capture_logs<F: std::future::Future>(work: F) -> (F::Output, String) {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let output = work.await;
    (output, buffer.text())
}

/// Whether a DynamoDB endpoint (moto, started by `scripts/with-moto`) is configured through
/// the SDK's standard `AWS_ENDPOINT_URL`. Without one, a test that needs it is skipped with a
/// message, unless `DDBSTREAM_REQUIRE_MOTO` is set (as `make test` sets it), when it fails.
pub fn local_dynamodb() -> bool {
    if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
        return true;
    }
    assert!(
        std::env::var_os("DDBSTREAM_REQUIRE_MOTO").is_none(),
        "DDBSTREAM_REQUIRE_MOTO is set but AWS_ENDPOINT_URL is not: run through scripts/with-moto"
    );
    eprintln!("skip: no AWS_ENDPOINT_URL; run `scripts/with-moto cargo test` (make test does)");
    false
}

/// A name no other test run uses, for tables created on the shared local server.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::AtomicU32;
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// A DynamoDB client for the local server, configured only by the SDK's standard
/// environment variables (`AWS_ENDPOINT_URL`, region, credentials).
pub async fn local_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&aws_config::load_from_env().await)
}

/// Creates an on-demand table keyed by string attributes (a hash key, and a range key if
/// given) with a unique name, and returns the name.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, prefix: &str, hash: &str, range: Option<&str>) -> String {
    create(client, prefix, hash, range, None).await
}

/// Creates an on-demand table keyed by the string attribute `hash`, with a stream of
/// `view` (`NEW_AND_OLD_IMAGES`, ...), under a unique name, and returns the name.
pub async fn create_streamed_table(client: &aws_sdk_dynamodb::Client, prefix: &str, hash: &str, view: &str) -> String {
    create(client, prefix, hash, None, Some(view)).await
}

async fn create(
    client: &aws_sdk_dynamodb::Client,
    prefix: &str,
    hash: &str,
    range: Option<&str>,
    view: Option<&str>,
) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification,
        StreamViewType,
    };
    let name = unique_name(prefix);
    let mut request = client.create_table().table_name(&name).billing_mode(BillingMode::PayPerRequest);
    if let Some(view) = view {
        let stream =
            StreamSpecification::builder().stream_enabled(true).stream_view_type(StreamViewType::from(view)).build();
        request = request.stream_specification(stream.unwrap_or_else(|e| panic!("stream specification: {e:?}")));
    }
    for (attribute, key_type) in std::iter::once((hash, KeyType::Hash)).chain(range.map(|r| (r, KeyType::Range))) {
        let definition =
            AttributeDefinition::builder().attribute_name(attribute).attribute_type(ScalarAttributeType::S).build();
        let element = KeySchemaElement::builder().attribute_name(attribute).key_type(key_type).build();
        match (definition, element) {
            (Ok(d), Ok(e)) => request = request.attribute_definitions(d).key_schema(e),
            (d, e) => panic!("key schema: {d:?} {e:?}"),
        }
    }
    request.send().await.unwrap_or_else(|e| panic!("create_table {name}: {e:?}"));
    name
}

/// Every item of a table, as `serde_dynamo` items sorted by their text form, for exact
/// comparisons.
pub async fn scan_all(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<serde_dynamo::Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("scan {table}: {e:?}"));
        items.extend(page.items().iter().map(|item| serde_dynamo::Item::from(item.clone())));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    items.sort_by_key(|item| {
        let mut pairs: Vec<String> = item.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        pairs.sort();
        pairs.join(";")
    });
    items
}

/// Runs a payload through a fallback route that keeps every change it receives, asserts
/// that every record was processed (the logs say why if not), and returns the changes in
/// the order the handler saw them.
pub async fn collect_changes<T, K>(payload: &[u8]) -> Vec<ddbstream::Change<T, K>>
where
    T: serde::de::DeserializeOwned + Send + 'static,
    K: serde::de::DeserializeOwned + Send + 'static,
{
    let seen: Arc<Mutex<Vec<ddbstream::Change<T, K>>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let router = Router::new().fallback(move |change: ddbstream::Change<T, K>| {
        sink.lock().unwrap_or_else(PoisonError::into_inner).push(change);
        std::future::ready(Ok::<(), ddbstream::BoxError>(()))
    });
    let (response, logs) = capture_logs(respond(&router, payload, &Context::default())).await;
    assert_eq!(response.ok(), Some(expected(None)), "{logs}");
    let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
    std::mem::take(&mut *seen)
}

/// How a [`Hooked`] stream changes a [`LiveStream`](ddbstream::testing::LiveStream)'s
/// iterators and pages (each defaults to the live stream's own).
pub trait StreamHook: Send + Sync {
    /// A shard iterator.
    fn iterator(
        &self,
        inner: &ddbstream::testing::LiveStream,
        stream_arn: &str,
        shard_id: &str,
        at: &ddbstream::runner::StartAt,
    ) -> impl std::future::Future<Output = Result<String, ddbstream::runner::SourceError>> + Send {
        use ddbstream::runner::StreamSource;
        inner.iterator(stream_arn, shard_id, at)
    }

    /// A page of records.
    fn records(
        &self,
        inner: &ddbstream::testing::LiveStream,
        stream_arn: &str,
        iterator: &str,
        limit: usize,
    ) -> impl std::future::Future<Output = Result<ddbstream::runner::RecordsPage, ddbstream::runner::SourceError>> + Send
    {
        use ddbstream::runner::StreamSource;
        inner.records(stream_arn, iterator, limit)
    }
}

/// A live stream whose iterators and pages go through `hook`: the stream behaviours a test
/// needs that the live stream has no switch for.
pub struct Hooked<H> {
    /// The stream.
    pub inner: ddbstream::testing::LiveStream,
    /// What changes.
    pub hook: H,
}

impl<H: StreamHook> ddbstream::runner::StreamSource for Hooked<H> {
    async fn stream_of_table(&self, table: &str) -> Result<String, ddbstream::runner::SourceError> {
        self.inner.stream_of_table(table).await
    }

    async fn describe(
        &self,
        stream_arn: &str,
        exclusive_start: Option<&str>,
    ) -> Result<ddbstream::runner::ShardList, ddbstream::runner::SourceError> {
        self.inner.describe(stream_arn, exclusive_start).await
    }

    async fn iterator(
        &self,
        stream_arn: &str,
        shard_id: &str,
        at: &ddbstream::runner::StartAt,
    ) -> Result<String, ddbstream::runner::SourceError> {
        self.hook.iterator(&self.inner, stream_arn, shard_id, at).await
    }

    async fn records(
        &self,
        stream_arn: &str,
        iterator: &str,
        limit: usize,
    ) -> Result<ddbstream::runner::RecordsPage, ddbstream::runner::SourceError> {
        self.hook.records(&self.inner, stream_arn, iterator, limit).await
    }
}

/// The failure record an on-failure destination writes for `records` (as Lambda sends
/// them): the batch's metadata, and with `with_payload` the whole invocation (as S3 keeps it).
pub fn failure_record(
    records: &[serde_json::Value],
    shard: &str,
    stream_arn: &str,
    with_payload: bool,
) -> serde_json::Value {
    let seq = |r: &serde_json::Value| r["dynamodb"]["SequenceNumber"].as_str().unwrap_or_default().to_owned();
    let mut document = serde_json::json!({
        "requestContext": {"requestId": "r-1", "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:f",
                           "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-11-29T10:00:00Z",
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": records.first().map(seq).unwrap_or_default(),
            "endSequenceNumber": records.last().map(seq).unwrap_or_default(),
            "approximateArrivalOfFirstRecord": "2026-11-29T09:59:00Z",
            "approximateArrivalOfLastRecord": "2026-11-29T09:59:01Z",
            "batchSize": records.len(),
            "streamArn": stream_arn,
        },
    });
    if with_payload {
        document["payload"] = serde_json::json!({ "Records": records });
    }
    document
}

/// A current-thread runtime whose clock is paused (timers advance at once), for the
/// simulator.
pub fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The number attribute `name` of `item`, 0 when absent or not a whole number.
pub fn number(item: &ddbstream::Item, name: &str) -> u64 {
    match item.get(name) {
        Some(serde_dynamo::AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    }
}

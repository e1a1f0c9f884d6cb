//! Per-invocation metrics as CloudWatch Embedded Metric Format (EMF) lines: one JSON object
//! per invocation, which CloudWatch Logs turns into metrics without any API call.
//! Turn them on with [`Router::metrics`](crate::Router::metrics) or the
//! `DDBSTREAM_METRICS_NAMESPACE` environment variable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// The environment variable that turns metrics on for `Router::run`, naming the namespace.
pub const METRICS_NAMESPACE_ENV: &str = "DDBSTREAM_METRICS_NAMESPACE";

/// Where EMF lines go: stdout (what Lambda ships to CloudWatch Logs) or a test's sink.
pub(crate) type Sink = Arc<dyn Fn(&str) + Send + Sync>;

/// The router's metrics setting.
#[derive(Clone)]
pub(crate) struct MetricsConfig {
    pub(crate) namespace: String,
    pub(crate) sink: Sink,
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig").field("namespace", &self.namespace).finish_non_exhaustive()
    }
}

#[allow(clippy::print_stdout)] // EMF goes to stdout by design: Lambda ships it to CloudWatch Logs
pub(crate) fn to_stdout(line: &str) {
    println!("{line}");
}

/// Counters of one invocation, shared by the routes that process its records.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    received: AtomicU64,
    /// Epoch milliseconds of the oldest record, `u64::MAX` if none says.
    oldest_ms: AtomicU64,
    table: std::sync::OnceLock<String>,
    processed: AtomicU64,
    filtered: AtomicU64,
    handler_micros: AtomicU64,
}

impl Stats {
    pub(crate) fn new() -> Self {
        Self { oldest_ms: AtomicU64::new(u64::MAX), ..Self::default() }
    }

    /// The batch as received: its size, its table, and each record's creation time.
    pub(crate) fn received(&self, records: usize, table: Option<&str>, created: impl Iterator<Item = f64>) {
        self.received.store(records as u64, Ordering::Relaxed);
        if let Some(table) = table {
            let _ = self.table.set(table.to_owned());
        }
        let oldest = created.filter(|t| t.is_finite() && *t >= 0.0).fold(f64::INFINITY, f64::min);
        if oldest.is_finite() {
            self.oldest_ms.store((oldest * 1_000.0) as u64, Ordering::Relaxed);
        }
    }

    pub(crate) fn processed(&self, records: usize) {
        self.processed.fetch_add(records as u64, Ordering::Relaxed);
    }

    pub(crate) fn filtered(&self) {
        self.filtered.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn handler_time(&self, spent: Duration) {
        self.handler_micros.fetch_add(u64::try_from(spent.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// How one invocation ended, for its EMF line.
#[derive(Debug)]
pub(crate) struct Summary<'a> {
    pub(crate) function: &'a str,
    /// The record reported as failed, if its handler failed (or was abandoned).
    pub(crate) failed: bool,
    /// The record reported as failed, if it could not be decoded.
    pub(crate) undecodable: bool,
}

/// The metric names, units and what each counts.
const METRICS: [(&str, &str); 7] = [
    ("RecordsReceived", "Count"),
    ("RecordsProcessed", "Count"),
    ("RecordsFailed", "Count"),
    ("RecordsFiltered", "Count"),
    ("RecordsUndecodable", "Count"),
    ("HandlerDuration", "Milliseconds"),
    ("IteratorAge", "Milliseconds"),
];

/// The EMF object for one invocation.
pub(crate) fn emf(namespace: &str, summary: &Summary<'_>, stats: &Stats, now: SystemTime) -> Value {
    let now_ms = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    let oldest_ms = stats.oldest_ms.load(Ordering::Relaxed);
    let values = [
        Some(stats.received.load(Ordering::Relaxed) as f64),
        Some(stats.processed.load(Ordering::Relaxed) as f64),
        Some(f64::from(u8::from(summary.failed))),
        Some(stats.filtered.load(Ordering::Relaxed) as f64),
        Some(f64::from(u8::from(summary.undecodable))),
        Some(stats.handler_micros.load(Ordering::Relaxed) as f64 / 1_000.0),
        (oldest_ms != u64::MAX).then(|| (now_ms as f64 - oldest_ms as f64).max(0.0)),
    ];
    let mut root = Map::new();
    let mut definitions = Vec::new();
    for ((name, unit), value) in METRICS.iter().zip(values) {
        if let Some(value) = value {
            definitions.push(json!({ "Name": name, "Unit": unit }));
            root.insert((*name).to_owned(), json!(value));
        }
    }
    root.insert("function".to_owned(), json!(summary.function));
    root.insert("table".to_owned(), json!(stats.table.get().map_or("unknown", String::as_str)));
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": now_ms as u64,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["function", "table"]],
                "Metrics": definitions,
            }],
        }),
    );
    Value::Object(root)
}

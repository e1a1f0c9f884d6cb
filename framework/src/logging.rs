//! Logs set up from Lambda's own settings: `AWS_LAMBDA_LOG_FORMAT` (`JSON` or `Text`),
//! `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls), then `RUST_LOG`.
//!
//! ```no_run
//! # async fn run(router: ddbstream::Router) -> Result<(), lambda_runtime::Error> {
//! ddbstream::logging::init();
//! router.run().await
//! # }
//! ```
//!
//! Every invocation runs in an `invocation` span (request id, deadline) and every record
//! in a `record` span (table, event name, sequence number, event id). Item contents are
//! never logged unless a route opts in with [`Each::log_items`](crate::Each::log_items) or
//! [`Batch::log_items`](crate::Batch::log_items).

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The logging settings a function was started with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// One JSON object per line (`AWS_LAMBDA_LOG_FORMAT=JSON`), or text.
    pub json: bool,
    /// `tracing-subscriber` filter directives: Lambda's level if it is set (it is what the
    /// function's configuration says), else `RUST_LOG`, else `info`.
    pub filter: String,
}

impl LogSettings {
    /// From the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any lookup of environment variables (for tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let json = lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|format| format.trim().eq_ignore_ascii_case("json"));
        let lambda_level = lookup("AWS_LAMBDA_LOG_LEVEL").and_then(|level| lambda_level(&level));
        let filter = match (lambda_level, lookup("RUST_LOG").filter(|f| !f.trim().is_empty())) {
            (Some(level), _) => level.to_owned(),
            (None, Some(rust_log)) => rust_log,
            (None, None) => "info".to_owned(),
        };
        Self { json, filter }
    }
}

/// Lambda's log levels in `tracing`'s terms (`FATAL` is `error`).
fn lambda_level(level: &str) -> Option<&'static str> {
    match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some("trace"),
        "DEBUG" => Some("debug"),
        "INFO" => Some("info"),
        "WARN" => Some("warn"),
        "ERROR" | "FATAL" => Some("error"),
        _ => None,
    }
}

/// A subscriber for `settings` writing to `writer` (Lambda reads stdout). Directives that
/// do not parse are skipped, not fatal.
pub fn subscriber<W>(settings: &LogSettings, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder().parse_lossy(&settings.filter);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_target(false);
    if settings.json {
        // Lambda adds its own timestamp and request id to each line.
        Box::new(builder.json().flatten_event(true).with_current_span(true).with_span_list(true).finish())
    } else {
        Box::new(builder.without_time().with_ansi(false).finish())
    }
}

/// Installs the subscriber for the process environment's settings, writing to stdout. Does
/// nothing if a global subscriber is already installed.
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(&LogSettings::from_env(), std::io::stdout));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> LogSettings {
        LogSettings::from_lookup(|name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn lambda_settings_come_first_then_rust_log_then_info() {
        assert_eq!(settings(&[]), LogSettings { json: false, filter: "info".into() });
        assert_eq!(settings(&[("RUST_LOG", "ddbstream=debug")]).filter, "ddbstream=debug");
        let both =
            settings(&[("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("RUST_LOG", "debug"), ("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
        assert_eq!(both, LogSettings { json: true, filter: "warn".into() });
        assert_eq!(settings(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).filter, "error");
        assert_eq!(settings(&[("AWS_LAMBDA_LOG_LEVEL", "loud"), ("RUST_LOG", "trace")]).filter, "trace");
        assert!(!settings(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).json);
        assert!(settings(&[("AWS_LAMBDA_LOG_FORMAT", " json ")]).json);
    }
}

//! The Lambda glue: a router served by the Lambda runtime.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;

use crate::{Error, Router};

/// The environment variable that sets the deadline margin in milliseconds, so a deployment
/// can match it to the function's timeout.
pub const DEADLINE_MARGIN_ENV: &str = "DDBSTREAM_DEADLINE_MARGIN_MS";

impl Router {
    /// Serves the router on the Lambda runtime until the process ends.
    ///
    /// The event is taken as raw JSON, so the router decides what is malformed, record by
    /// record. `DDBSTREAM_DEADLINE_MARGIN_MS` sets the deadline margin unless
    /// [`deadline_margin`](Self::deadline_margin) did.
    ///
    /// `DDBSTREAM_METRICS_NAMESPACE` turns on [`metrics`](Self::metrics) unless they are on.
    pub async fn run(mut self) -> Result<(), lambda_runtime::Error> {
        if self.deadline_margin.is_none() {
            self.deadline_margin = margin_from_env()?;
        }
        if self.metrics.is_none() {
            if let Some(namespace) = std::env::var(crate::metrics::METRICS_NAMESPACE_ENV).ok().filter(|n| !n.is_empty())
            {
                self = self.metrics(namespace);
            }
        }
        let router = Arc::new(self);
        lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
            let router = Arc::clone(&router);
            async move { router.handle(event.payload.get().as_bytes(), &event.context).await }
        }))
        .await
    }
}

fn margin_from_env() -> Result<Option<Duration>, Error> {
    match std::env::var(DEADLINE_MARGIN_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| Error::Config(format!("{DEADLINE_MARGIN_ENV}={text:?} is not a number of milliseconds"))),
        Err(err) => Err(Error::Config(format!("{DEADLINE_MARGIN_ENV}: {err}"))),
    }
}

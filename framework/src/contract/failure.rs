//! Why a record failed.

use std::fmt;
use std::panic::AssertUnwindSafe;

use crate::decode_error::DecodeError;
use crate::error::BoxError;

/// The reason a record is reported as a batch item failure.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The record, or an image, does not fit.
    Decode(DecodeError),
    /// The handler returned an error; its message.
    Handler(String),
    /// The handler panicked; the panic message.
    Panic(String),
    /// The deadline margin was reached before the record started.
    NotStarted,
    /// The handler was still running when the deadline margin was reached.
    Abandoned,
}

impl Failure {
    /// A handler's error, kept as its message. The error is user code: a `Display` or a
    /// `Drop` that panics is contained here, and the record fails as usual.
    pub(crate) fn handler(error: BoxError) -> Self {
        let message = std::panic::catch_unwind(AssertUnwindSafe(|| error.to_string())).unwrap_or_else(|panic| {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(panic)));
            "an error whose Display panicked".to_owned()
        });
        let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(error)));
        Self::Handler(message)
    }
}

/// The record a batch stopped at, as the runner and the redrive read it (Lambda gets its
/// identifier in the answer instead): its position among the payload's records, why it
/// failed (the runner's on-failure sink gets the reason), and whether it ran (a record that
/// never started, or was abandoned when the invocation was stopped, is no failed attempt).
#[derive(Clone, Debug)]
#[cfg_attr(not(any(feature = "runner", feature = "redrive")), allow(dead_code))]
pub(crate) struct FirstFailure {
    pub(crate) position: usize,
    pub(crate) reason: String,
    pub(crate) ran: bool,
}

impl FirstFailure {
    pub(crate) fn of(position: usize, failure: &Failure) -> Self {
        let ran = !matches!(failure, Failure::NotStarted | Failure::Abandoned);
        Self { position, reason: failure.to_string(), ran }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(err) => write!(f, "does not decode: {err}"),
            Self::Handler(err) => write!(f, "handler error: {err}"),
            Self::Panic(message) => write!(f, "handler panicked: {message}"),
            Self::NotStarted => f.write_str("not started: the invocation's deadline margin was reached"),
            Self::Abandoned => {
                f.write_str("abandoned: the handler was still running when the deadline margin was reached")
            }
        }
    }
}

/// A failure at `index` within the records handed to a route.
#[derive(Debug)]
pub(crate) struct SegmentFailure {
    pub(crate) index: usize,
    pub(crate) failure: Failure,
}

#[cfg(test)]
mod tests {
    use super::Failure;

    #[derive(Debug)]
    struct PanickingDisplay;

    impl std::fmt::Display for PanickingDisplay {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("a panicking Display")
        }
    }

    impl std::error::Error for PanickingDisplay {}

    #[test]
    fn an_error_whose_display_panics_is_still_a_handler_failure() {
        let failure = Failure::handler(Box::new(PanickingDisplay));
        assert_eq!(failure.to_string(), "handler error: an error whose Display panicked");
        assert_eq!(Failure::handler("plain".into()).to_string(), "handler error: plain");
    }
}

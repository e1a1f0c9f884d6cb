//! The shapes of the containers being decoded, noted on the error pass only, so that an
//! error path can tell a struct's field (schema, kept) from a map's key (item content,
//! redacted).

use std::cell::RefCell;

/// What a container at one depth of the path is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Shape {
    /// A struct, with its field names.
    Struct(&'static [&'static str]),
    /// A map: its keys are item contents.
    Map,
    /// A list or a set: positions.
    Seq,
    /// An enum, with its variant names.
    Enum(&'static [&'static str]),
}

#[derive(Default)]
struct Track {
    stack: Vec<Shape>,
    /// The containers open when the first error came up through them.
    at_error: Option<Vec<Shape>>,
}

thread_local! {
    static TRACK: RefCell<Option<Track>> = const { RefCell::new(None) };
}

/// Runs `decode` inside a container of `shape`, noting it when shapes are being tracked.
pub(super) fn within<T, E>(shape: Shape, decode: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let tracking = TRACK.with(|track| match track.borrow_mut().as_mut() {
        Some(track) => {
            track.stack.push(shape);
            true
        }
        None => false,
    });
    if !tracking {
        return decode();
    }
    let result = decode();
    TRACK.with(|track| {
        if let Some(track) = track.borrow_mut().as_mut() {
            if result.is_err() && track.at_error.is_none() {
                track.at_error = Some(track.stack.clone());
            }
            track.stack.pop();
        }
    });
    result
}

/// Runs `decode` noting container shapes; returns its result and the shapes open at its
/// first error, outermost first (one per segment of the error's path).
pub(super) fn tracking<R>(decode: impl FnOnce() -> R) -> (R, Vec<Shape>) {
    let previous = TRACK.with(|track| track.replace(Some(Track::default())));
    let result = decode();
    let track = TRACK.with(|track| track.replace(previous));
    (result, track.and_then(|track| track.at_error).unwrap_or_default())
}

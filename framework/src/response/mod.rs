//! Response out: the partial batch response Lambda checkpoints by, with a tumbling
//! window's state when the event was a window's.

mod batch_response;
mod respond;

pub use batch_response::BatchResponse;
pub(crate) use respond::respond;

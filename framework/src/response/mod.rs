//! Response out: the partial batch response Lambda checkpoints by.

mod respond;

pub(crate) use respond::respond;

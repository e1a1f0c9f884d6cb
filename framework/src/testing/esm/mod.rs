//! A simulator of Lambda's DynamoDB event source mapping.

mod mapping;
mod simulator;
mod trace;

pub use mapping::EventSourceMapping;
pub use simulator::Simulator;
pub use trace::{Attempt, Fate, FailureCondition, InvocationReport, InvocationResult, OnFailureRecord, Trace};

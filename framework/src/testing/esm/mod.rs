//! A simulator of Lambda's DynamoDB event source mapping.

mod mapping;
mod simulator;
mod trace;

pub use mapping::{Delivery, EventSourceMapping};
pub use simulator::Simulator;
pub use trace::{
    Attempt, ClosedWindow, FailureCondition, Fate, InvocationReport, InvocationResult, OnFailureRecord, Trace,
};

#![doc = include_str!("../README.md")]

mod events;
mod layer;

pub use events::{Action, EventError, SubscriptionEvent};

pub use layer::{
    Failures, FromExtensions, Measure, MeterLayer, MeterService, ResponseFuture, Usage, UsageOf,
};

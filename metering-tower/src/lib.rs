#![doc = include_str!("../README.md")]

mod layer;

pub use layer::{
    Failures, FromExtensions, Measure, MeterLayer, MeterService, ResponseFuture, Usage, UsageOf,
};

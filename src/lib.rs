#![doc = include_str!("../README.md")]

pub use metering_core::*;

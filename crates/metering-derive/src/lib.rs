//! Derive macros for `metering`: typed dimensions and allocation tags, checked at compile
//! time. Use them through the `metering` crate, which re-exports them.

use marketplace_metering::{Customer, Quantity};
use metering_tower::{Measure, Usage};

/// What a request costs, as the `MeterLayer`'s closure answers it.
fn usage(customer: Customer) {
    // A dimension by its key: a typo here would bill nothing, so it does not compile.
    let _ = Usage::new(customer, "api_calls", Measure::Fixed(Quantity::ZERO));
}

fn main() {}

use std::sync::Arc;

use http::Request;
use metering::{Customer, Meter, Quantity};
use metering_tower::{Measure, MeterLayer, Usage};

fn layer(meter: Arc<Meter>) {
    let _ = MeterLayer::new(meter, |request: &Request<()>| {
        let customer = request.extensions().get::<Customer>()?.clone();
        // A dimension by its key: a typo here would bill nothing, so it does not compile.
        Some(Usage::new(customer, "api_calls", Measure::Fixed(Quantity::ZERO)))
    });
}

fn main() {}

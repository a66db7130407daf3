use marketplace_metering::{Customer, Dimension, Meter, Quantity};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
enum Calls {
    ApiCalls,
}

fn record(meter: &Meter, customer: &Customer) {
    let handle = meter.usage(customer, Calls::ApiCalls).handle().unwrap();
    let _ = handle.observe(Quantity::ZERO);
}

fn main() {}

use marketplace_metering::{Customer, Dimension, Meter, Quantity};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
enum Calls {
    ApiCalls,
}

fn record(meter: &Meter, customer: &Customer) {
    let _ = meter.usage(customer, Calls::ApiCalls).set(Quantity::ZERO);
}

fn main() {}

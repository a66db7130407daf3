use marketplace_metering::{Customer, Dimension, Meter};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
enum Calls {
    ApiCalls,
}

fn record(meter: &Meter, customer: &Customer) {
    let _ = meter.usage(customer, Calls::ApiCalls).mark("user-1");
}

fn main() {}

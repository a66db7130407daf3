use marketplace_metering::{Customer, Dimension, Meter, Quantity};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(kind = "distinct")]
enum Active {
    Users,
}

fn record(meter: &Meter, customer: &Customer) {
    let handle = meter.usage(customer, Active::Users).handle().unwrap();
    let _ = handle.set(Quantity::ZERO);
}

fn main() {}

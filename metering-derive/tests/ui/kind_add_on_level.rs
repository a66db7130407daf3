use marketplace_metering::{Customer, Dimension, Meter, Quantity};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(kind = "level")]
enum Stored {
    Gigabytes,
}

fn record(meter: &Meter, customer: &Customer) {
    let handle = meter.usage(customer, Stored::Gigabytes).handle().unwrap();
    let _ = handle.add(Quantity::ZERO);
}

fn main() {}

use marketplace_metering::{Customer, Dimension, Meter, Quantity};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(kind = "level")]
enum Stored {
    Gigabytes,
}

fn record(meter: &Meter, customer: &Customer) {
    let _ = meter.usage(customer, Stored::Gigabytes).observe(Quantity::ZERO);
}

fn main() {}

use marketplace_metering::{Customer, Dimension, Meter, Timestamp};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(kind = "level")]
enum Stored {
    Gigabytes,
}

fn record(meter: &Meter, customer: &Customer, at: Timestamp) {
    let handle = meter.usage(customer, Stored::Gigabytes).handle().unwrap();
    let _ = handle.mark_at("user-1", at);
}

fn main() {}

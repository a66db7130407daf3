use marketplace_metering::{Customer, Dimension, Meter, Quantity, Timestamp};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(kind = "max")]
enum Peak {
    Hosts,
}

fn record(meter: &Meter, customer: &Customer, at: Timestamp) {
    let handle = meter.usage(customer, Peak::Hosts).handle().unwrap();
    let _ = handle.set_at(Quantity::ZERO, at);
}

fn main() {}

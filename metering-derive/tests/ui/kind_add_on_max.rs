use marketplace_metering::{Customer, Dimension, Meter, Quantity};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(kind = "max")]
enum Peak {
    Hosts,
}

fn record(meter: &Meter, customer: &Customer) {
    let _ = meter.usage(customer, Peak::Hosts).add(Quantity::ZERO);
}

fn main() {}

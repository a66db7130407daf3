use marketplace_metering::{Customer, Dimension, Quantity, Timestamp};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
enum Usage {
    ApiCalls,
    #[metering(rename = "ApiCalls")]
    Calls,
}

fn record(customer: Customer, at: Timestamp, quantity: Quantity) -> marketplace_metering::UsageRecord {
    let _ = Usage::ALL;
    Usage::Calls.record().customer(customer).at(at).quantity(quantity).build()
}

fn main() {}

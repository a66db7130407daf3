use marketplace_metering::{Customer, Dimension, Quantity, Timestamp};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
enum Usage {
    ApiCalls,
}

fn check(customer: Customer, other: Customer, at: Timestamp, quantity: Quantity) {
    let _ = (&customer, &other, &at, &quantity);
    let _ = Usage::ApiCalls.record().customer(customer).at(at).quantity(quantity).quantity(quantity).build();
}

fn main() {}

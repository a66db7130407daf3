use marketplace_metering::{Customer, Dimension, Quantity, Timestamp};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
enum Usage {
    ApiCalls,
}

#[derive(marketplace_metering::UsageTags)]
struct CostTags {
    team: String,
}

fn check(customer: Customer, other: Customer, at: Timestamp, quantity: Quantity, tags: CostTags) {
    let _ = (&customer, &other, &at, &quantity, &tags);
    let _ = Usage::ApiCalls.record().customer(customer).at(at).quantity(quantity).allocate(quantity, &tags).build();
}

fn main() {}

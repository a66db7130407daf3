use marketplace_metering::{Customer, Dimension, Quantity, Timestamp};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
enum Usage {
    ApiCalls,
}

struct CostTags {
    team: String,
}

fn check(customer: Customer, at: Timestamp, quantity: Quantity, tags: CostTags) {
    let _ = &tags.team;
    let _ = Usage::ApiCalls.record().customer(customer).at(at).allocate(quantity, &tags).build();
}

fn main() {}

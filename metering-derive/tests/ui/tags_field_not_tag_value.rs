use marketplace_metering::UsageTags;

#[derive(UsageTags)]
struct CostTags {
    team: String,
    replicas: u32,
}

fn main() {}

use marketplace_metering::UsageTags;

#[derive(UsageTags)]
struct CostTags {}

fn main() {}

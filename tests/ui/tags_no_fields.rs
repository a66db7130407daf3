use metering::UsageTags;

#[derive(UsageTags)]
struct CostTags {}

fn main() {}

use marketplace_metering::UsageTags;

#[derive(UsageTags)]
struct CostTags(String);

fn main() {}

use marketplace_metering::UsageTags;

#[derive(UsageTags)]
enum CostTags {
    Team(String),
}

fn main() {}

use marketplace_metering::UsageTags;

#[derive(UsageTags)]
struct CostTags {
    team: Option<String>,
    env: std::option::Option<String>,
}

fn main() {}

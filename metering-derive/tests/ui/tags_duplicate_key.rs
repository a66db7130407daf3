use marketplace_metering::UsageTags;

#[derive(UsageTags)]
struct CostTags {
    env: String,
    #[metering(rename = "env")]
    environment: String,
}

fn main() {}

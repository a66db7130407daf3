use marketplace_metering::UsageTags;

#[derive(UsageTags)]
struct CostTags {
    #[metering(rename = "cost?center")]
    cost_center: String,
}

fn main() {}

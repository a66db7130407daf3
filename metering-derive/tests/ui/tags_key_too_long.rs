use marketplace_metering::UsageTags;

#[derive(UsageTags)]
struct CostTags {
    #[metering(rename = "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk")]
    team: String,
}

fn main() {}

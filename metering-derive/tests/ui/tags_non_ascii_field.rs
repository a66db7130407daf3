use marketplace_metering::UsageTags;

#[derive(UsageTags)]
struct CostTags {
    équipe: String,
}

fn main() {}

use marketplace_metering::UsageTags;

#[derive(UsageTags)]
#[metering(catalog = "tests/ui/catalog/dimensions.json")]
struct CostTags {
    team: String,
}

fn main() {}

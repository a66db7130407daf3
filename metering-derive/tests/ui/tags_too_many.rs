use marketplace_metering::UsageTags;

#[derive(UsageTags)]
struct CostTags {
    a: String,
    b: String,
    c: String,
    d: String,
    e: String,
    f: String,
}

fn main() {}

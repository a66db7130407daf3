use marketplace_metering::ToTagValue;

#[derive(ToTagValue)]
struct Env {
    name: String,
}

fn main() {}

use metering::TagValue;

#[derive(TagValue)]
struct Env {
    name: String,
}

fn main() {}

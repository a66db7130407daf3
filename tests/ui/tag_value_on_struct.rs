use metering::ToTagValue;

#[derive(ToTagValue)]
struct Env {
    name: String,
}

fn main() {}

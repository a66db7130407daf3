use metering::TagValue;

#[derive(TagValue)]
enum Env {
    Prod,
    Custom { name: String },
}

fn main() {}

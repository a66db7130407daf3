use marketplace_metering::ToTagValue;

#[derive(ToTagValue)]
enum Env {
    Prod,
    Custom { name: String },
}

fn main() {}

use marketplace_metering::ToTagValue;

#[derive(ToTagValue)]
enum Env {
    Prod,
    #[metering(rename = "a>b")]
    Weird,
}

fn main() {}

use metering::TagValue;

#[derive(TagValue)]
enum Env {
    Prod,
    #[metering(rename = "a>b")]
    Weird,
}

fn main() {}

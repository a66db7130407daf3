use metering::TagValue;

#[derive(TagValue)]
#[metering(rename_all = "lowercase")]
enum Env {
    Prod,
    #[metering(rename = "prod")]
    Production,
}

fn main() {}

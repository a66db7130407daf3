use marketplace_metering::ToTagValue;

#[derive(ToTagValue)]
#[metering(rename_all = "lowercase")]
enum Env {
    Prod,
    #[metering(rename = "prod")]
    Production,
}

fn main() {}

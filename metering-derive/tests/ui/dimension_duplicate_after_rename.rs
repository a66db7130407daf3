use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case")]
enum Usage {
    ApiCalls,
    Storage,
    #[metering(rename = "api_calls")]
    Calls,
}

fn main() {}

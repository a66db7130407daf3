use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
enum Usage {
    #[metering(rename = api_calls)]
    ApiCalls,
}

fn main() {}

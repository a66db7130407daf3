use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case")]
enum Usage {
    ApiCalls,
    #[metering(rename = "")]
    Storage,
    #[metering(rename = "api_calls")]
    Calls,
    Seats(u32),
    #[metering(renamed = "x")]
    Users,
}

fn main() {}

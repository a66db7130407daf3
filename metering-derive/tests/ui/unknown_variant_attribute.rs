use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
enum Usage {
    #[metering(rename_all = "snake_case")]
    ApiCalls,
}

fn main() {}

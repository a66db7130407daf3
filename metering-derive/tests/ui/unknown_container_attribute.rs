use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(renam_all = "snake_case")]
enum Usage {
    ApiCalls,
}

fn main() {}

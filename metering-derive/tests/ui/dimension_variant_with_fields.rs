use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
enum Usage {
    ApiCalls,
    Storage(u64),
}

fn main() {}

use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(crate = "not a path")]
enum Usage {
    ApiCalls,
}

fn main() {}

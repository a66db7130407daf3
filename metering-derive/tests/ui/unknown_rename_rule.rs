use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake")]
enum Usage {
    ApiCalls,
}

fn main() {}

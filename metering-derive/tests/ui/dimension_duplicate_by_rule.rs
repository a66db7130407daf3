use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "lowercase")]
enum Usage {
    ApiCalls,
    Apicalls,
}

fn main() {}

use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(catalog = "tests/ui/catalog/invalid.json")]
enum Usage {
    ApiCalls,
}

fn main() {}

use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(catalog = "tests/ui/catalog/nested.json")]
enum Usage {
    ApiCalls,
}

fn main() {}

use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(catalog = "tests/ui/catalog/no-such-file.json")]
enum Usage {
    ApiCalls,
}

fn main() {}

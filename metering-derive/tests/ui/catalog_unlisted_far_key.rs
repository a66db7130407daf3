use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case", catalog = "tests/ui/catalog/dimensions.json")]
enum Usage {
    ApiCalls,
    StorageGbHours,
    Seats,
    Bandwidth,
}

fn main() {}

use marketplace_metering::Dimension;

// `catalog/dimensions.json` exists beside this file, not in the crate's directory.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case", catalog = "catalog/dimensions.json")]
enum Usage {
    ApiCalls,
    StorageGbHours,
    Seats,
}

fn main() {}

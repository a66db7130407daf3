use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case", catalog = "tests/ui/catalog/dimensions.json", with(Seats))]
enum Requests {
    ApiCalls,
}

// `storage_gb_hours` is in neither enum.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case", kind = "max")]
enum Seats {
    Seats,
}

fn main() {}

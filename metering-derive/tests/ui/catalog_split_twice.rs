use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case", catalog = "tests/ui/catalog/dimensions.json", with(Seats, Storage))]
enum Requests {
    ApiCalls,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case", kind = "max")]
enum Seats {
    Seats,
}

// `seats` again, in a second enum.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case", kind = "level")]
enum Storage {
    StorageGbHours,
    Seats,
}

fn main() {}

use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case", catalog = "tests/ui/catalog/dimensions.json", with(Seats))]
enum Requests {
    ApiCalls,
    StorageGbHours,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Seats {
    Seats,
}

fn main() {}

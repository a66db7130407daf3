// A product's dimensions split over three enums, one per kind: together they name each
// metered dimension of the catalog once (the contract dimension `support_plan` needs none).
use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(
    rename_all = "snake_case",
    catalog = "tests/ui/catalog/dimensions.json",
    with(Seats, Storage)
)]
enum Requests {
    ApiCalls,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case", kind = "max")]
enum Seats {
    Seats,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case", kind = "level")]
enum Storage {
    StorageGbHours,
}

fn main() {
    assert_eq!(Requests::ApiCalls.as_str(), "api_calls");
    assert_eq!(Seats::Seats.as_str(), "seats");
    assert_eq!(Storage::StorageGbHours.as_str(), "storage_gb_hours");
}

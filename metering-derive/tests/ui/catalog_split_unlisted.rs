use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case", catalog = "tests/ui/catalog/dimensions.json", with(Others))]
enum Requests {
    ApiCalls,
}

// A key the catalog does not list, and a contract dimension, in the other enum.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case")]
enum Others {
    Seats,
    StorageGbHour,
    SupportPlan,
}

fn main() {}

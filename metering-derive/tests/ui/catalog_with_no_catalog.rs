use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(rename_all = "snake_case", with(Seats))]
enum Requests {
    ApiCalls,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
enum Seats {
    Seats,
}

fn main() {}

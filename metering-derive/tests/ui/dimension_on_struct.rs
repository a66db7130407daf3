use marketplace_metering::Dimension;

#[derive(Dimension)]
struct Usage {
    calls: u64,
}

fn main() {}

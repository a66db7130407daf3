#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Usage {
    ApiCalls,
}

fn main() {
    let _ = marketplace_metering::RecordBuilder::new(Usage::ApiCalls);
}

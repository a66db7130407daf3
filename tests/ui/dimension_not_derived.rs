#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Usage {
    ApiCalls,
}

fn main() {
    let _ = metering::RecordBuilder::new(Usage::ApiCalls);
}

use marketplace_metering::ToTagValue;

#[derive(ToTagValue)]
enum Env<T> {
    Prod(T),
}

fn main() {}

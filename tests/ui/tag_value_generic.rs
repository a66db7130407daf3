use metering::TagValue;

#[derive(TagValue)]
enum Env<T> {
    Prod(T),
}

fn main() {}

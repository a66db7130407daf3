use marketplace_metering::Dimension;

#[derive(Dimension)]
enum Usage<T> {
    ApiCalls,
    Other(std::marker::PhantomData<T>),
}

fn main() {}

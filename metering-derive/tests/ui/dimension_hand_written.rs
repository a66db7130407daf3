#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Usage {
    ApiCalls,
}

impl marketplace_metering::Dimension for Usage {
    type Kind = marketplace_metering::kind::Sum;
    const ALL: &'static [Self] = &[Self::ApiCalls];
    fn as_str(self) -> &'static str {
        ""
    }
}

fn main() {}

use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
enum Usage
where
    u8: Copy,
{
    ApiCalls,
}

fn main() {}

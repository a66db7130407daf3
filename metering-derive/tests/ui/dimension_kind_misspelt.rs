use marketplace_metering::Dimension;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(kind = "maximum")]
enum Peak {
    Hosts,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Dimension)]
#[metering(kind = "Distinct")]
enum Active {
    Users,
}

fn main() {}

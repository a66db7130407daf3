// Without the derives `Dimension`'s supertraits need: one error naming all of them, not one
// per missing trait and impl.
#[derive(Debug, marketplace_metering::Dimension)]
enum Usage {
    ApiCalls,
}

fn main() {}

//! Hours as the meter counts them: hour numbers (hours since the Unix epoch), and the
//! clock's readings in microseconds.

use crate::Timestamp;

const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

/// The hour number (hours since the Unix epoch) `at` falls in.
pub(super) fn hour_number(at: Timestamp) -> i64 {
    let nanos = at.unix_nanos();
    // Within 1677..2262 the nanoseconds fit an i64, whose division by a constant compiles
    // to a multiplication (an i128's is a call). Within the years -9999..=9999 the hour
    // number fits an i64 with room to spare.
    i64::try_from(nanos).map_or_else(
        |_| i64::try_from(nanos.div_euclid(NANOS_PER_HOUR.into())).unwrap_or_default(),
        |nanos| nanos.div_euclid(NANOS_PER_HOUR),
    )
}

/// `at` in whole microseconds since the epoch: every timestamp fits an i64 so.
pub(super) fn micros(at: Timestamp) -> i64 {
    i64::try_from(at.unix_nanos().div_euclid(1000)).unwrap_or_default()
}

/// The start of hour number `hour`.
pub(super) fn hour_start(hour: i64) -> Timestamp {
    Timestamp::from_unix_nanos(i128::from(hour) * i128::from(NANOS_PER_HOUR))
        .unwrap_or_else(|_| unreachable!("hour numbers come from valid timestamps"))
}

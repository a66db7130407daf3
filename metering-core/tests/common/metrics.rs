//! A `metrics` recorder for this thread (a current-thread runtime's tasks) that a test
//! reads series from by name and labels.

use std::collections::BTreeMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// Series as `name{label=value,...}`: a counter's increase since the last read, a gauge's
/// value, a histogram's number of observations.
pub(crate) struct Metrics {
    snapshotter: Snapshotter,
}

impl Metrics {
    /// Reads (and resets: counters count from 0 again) every series touched since the last
    /// read.
    pub(crate) fn read(&self) -> BTreeMap<String, f64> {
        self.snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let labels: Vec<String> = key
                    .labels()
                    .map(|label| format!("{}={}", label.key(), label.value()))
                    .collect();
                let name = if labels.is_empty() {
                    key.name().to_owned()
                } else {
                    format!("{}{{{}}}", key.name(), labels.join(","))
                };
                #[allow(clippy::cast_precision_loss, reason = "small test counts")]
                let value = match value {
                    DebugValue::Counter(count) => count as f64,
                    DebugValue::Gauge(value) => value.into_inner(),
                    DebugValue::Histogram(values) => values.len() as f64,
                };
                (name, value)
            })
            .collect()
    }
}

/// Records this thread's metrics while the guard is held.
pub(crate) fn start() -> (Metrics, Guard) {
    let recorder = Box::leak(Box::new(DebuggingRecorder::new()));
    let metrics = Metrics {
        snapshotter: recorder.snapshotter(),
    };
    (metrics, metrics::set_default_local_recorder(recorder))
}

pub(crate) type Guard = metrics::LocalRecorderGuard<'static>;

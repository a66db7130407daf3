//! A `tracing` layer that keeps every event with its fields and the spans it happened in.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Fields by name, as `Debug` shows them (strings without quotes).
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields(BTreeMap<&'static str, String>);

impl Fields {
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub target: String,
    pub level: Level,
    pub fields: Fields,
    /// The spans it happened in, outermost first: name and fields.
    pub spans: Vec<(&'static str, Fields)>,
}

impl Event {
    pub(crate) fn message(&self) -> &str {
        self.fields.get("message")
    }
}

#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Vec<Event>>>);

impl Capture {
    pub(crate) fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        context.span(id).unwrap().extensions_mut().insert(fields);
    }

    fn on_event(&self, event: &tracing::Event<'_>, context: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let spans = context.event_scope(event).map_or_else(Vec::new, |scope| {
            scope
                .from_root()
                .map(|span| {
                    let fields = span.extensions().get::<Fields>().cloned();
                    (span.name(), fields.unwrap_or_default())
                })
                .collect()
        });
        let metadata = event.metadata();
        self.0.lock().unwrap().push(Event {
            target: metadata.target().to_owned(),
            level: *metadata.level(),
            fields,
            spans,
        });
    }
}

/// Captures the events of this thread (a current-thread runtime's tasks) while held.
pub(crate) fn start() -> (Capture, tracing::subscriber::DefaultGuard) {
    use tracing_subscriber::layer::SubscriberExt;
    // While one dispatcher exists, `tracing` asks only the registering thread whether a
    // callsite is of interest, and caches the answer for every thread: another test's
    // thread, which has none, would turn this thread's events off for good. A second
    // dispatcher, kept for the whole run, makes it ask them all.
    static SECOND: OnceLock<tracing::Dispatch> = OnceLock::new();
    SECOND.get_or_init(|| tracing::Dispatch::new(tracing_subscriber::registry()));
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    (capture, tracing::subscriber::set_default(subscriber))
}

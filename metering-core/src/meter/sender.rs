//! The Meter's sending side: a [`Flusher`] run in the background every flush interval, and
//! asked directly for an unsubscribing customer.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::MeterConfig;
use crate::Customer;
use crate::ledger::{BoxFuture, FlushReport, Flusher, FlusherHealth, Ledger, LedgerError};
use crate::submit::{Submitter, Transport};

/// A flusher with its transport's type erased, so that the Meter is not generic over it.
trait FlushDyn: Send + Sync {
    fn flush(&self) -> BoxFuture<'_, Result<FlushReport, LedgerError>>;
    fn flush_customer<'a>(
        &'a self,
        customer: &'a Customer,
    ) -> BoxFuture<'a, Result<FlushReport, LedgerError>>;
    fn run(self: Arc<Self>, stop: oneshot::Receiver<()>) -> BoxFuture<'static, ()>;
    fn health(&self) -> FlusherHealth;
}

impl<T: Transport> FlushDyn for Flusher<T> {
    fn flush(&self) -> BoxFuture<'_, Result<FlushReport, LedgerError>> {
        Box::pin(Flusher::flush(self))
    }

    fn flush_customer<'a>(
        &'a self,
        customer: &'a Customer,
    ) -> BoxFuture<'a, Result<FlushReport, LedgerError>> {
        Box::pin(Flusher::flush_customer(self, customer))
    }

    fn run(self: Arc<Self>, stop: oneshot::Receiver<()>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            Flusher::run(&self, async {
                let _ = stop.await;
            })
            .await;
        })
    }

    fn health(&self) -> FlusherHealth {
        Flusher::health(self)
    }
}

/// How a builder makes the flusher once the configuration is final.
pub(super) type MakeFlusher = Box<dyn FnOnce(MeterConfig) -> Sender + Send>;

/// The flusher a builder was given, not yet started.
pub(super) fn make<T: Transport>(ledger: Arc<dyn Ledger>, submitter: Submitter<T>) -> MakeFlusher {
    Box::new(move |config| Sender {
        flusher: Arc::new(Flusher::new(ledger, submitter, config)),
        running: Mutex::new(None),
    })
}

/// The flusher, and its background loop once started.
pub(super) struct Sender {
    flusher: Arc<dyn FlushDyn>,
    running: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

impl Sender {
    /// Starts the background loop on `runtime`.
    pub(super) fn start(&mut self, runtime: &tokio::runtime::Handle) {
        let (stop, stopped) = oneshot::channel();
        let task = runtime.spawn(self.flusher.clone().run(stopped));
        *self
            .running
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = Some((stop, task));
    }

    pub(super) fn health(&self) -> FlusherHealth {
        self.flusher.health()
    }

    pub(super) async fn flush(&self) -> Result<FlushReport, LedgerError> {
        self.flusher.flush().await
    }

    pub(super) async fn flush_customer(
        &self,
        customer: &Customer,
    ) -> Result<FlushReport, LedgerError> {
        self.flusher.flush_customer(customer).await
    }

    /// Stops the loop, waiting for a flush under way at most `within`; a flush cut short
    /// leaves its claims to expire, and their records are sent again, identical.
    pub(super) async fn stop(&self, within: std::time::Duration) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some((stop, task)) = running else {
            return;
        };
        let _ = stop.send(());
        let abort = task.abort_handle();
        if tokio::time::timeout(within, task).await.is_err() {
            tracing::warn!(
                target: "metering::meter",
                "the flush under way did not end within the shutdown timeout; its claimed \
                 records are sent again when their lease expires"
            );
            abort.abort();
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, task)) = running.take() {
            task.abort();
        }
    }
}

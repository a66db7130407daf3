//! The builder: every setting of an emulator, and starting it.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use metering_core::{Clock, SystemClock, TimePolicy};
use tokio::net::TcpListener;

use crate::error::EmulatorError;
use crate::faults::Faults;
use crate::quota::Quota;
use crate::registration::Registration;
use crate::request::Catalog;
use crate::server::RunningEmulator;

/// Configures and starts an emulator. Every setting defaults to the permissive choice: every
/// customer subscribed, every product, dimension and licence known, no faults, the system
/// clock, the service's current time rules, `127.0.0.1` on a free port.
pub struct Builder {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: TimePolicy,
    pub(crate) catalog: Catalog,
    pub(crate) subscribed: Option<HashSet<String>>,
    pub(crate) unsubscribed: HashSet<String>,
    pub(crate) faults: Faults,
    pub(crate) quota: Option<Quota>,
    pub(crate) disabled_api: bool,
    pub(crate) request_timeout: Duration,
    pub(crate) registrations: HashMap<String, Registration>,
    bind: SocketAddr,
    allow_non_loopback: bool,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The clock is a trait object with no `Debug`; the rest is what a reader checks.
        f.debug_struct("Builder")
            .field("policy", &self.policy)
            .field("catalog", &self.catalog)
            .field("subscribed", &self.subscribed)
            .field("unsubscribed", &self.unsubscribed)
            .field("faults", &self.faults)
            .field("quota", &self.quota)
            .field("disabled_api", &self.disabled_api)
            .field("request_timeout", &self.request_timeout)
            .field("registrations", &self.registrations)
            .field("bind", &self.bind)
            .field("allow_non_loopback", &self.allow_non_loopback)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            policy: TimePolicy::new(),
            catalog: Catalog::default(),
            subscribed: None,
            unsubscribed: HashSet::new(),
            faults: Faults::none(),
            quota: None,
            disabled_api: false,
            request_timeout: Duration::from_secs(20),
            registrations: HashMap::new(),
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            allow_non_loopback: false,
        }
    }
}

fn owned<S: Into<String>>(items: impl IntoIterator<Item = S>) -> HashSet<String> {
    items.into_iter().map(Into::into).collect()
}

impl Builder {
    /// The clock the time rules are checked against (a `ManualClock` in tests).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The time rules (24-hour window, month-end cut-off, future skew).
    #[must_use]
    pub fn time_policy(mut self, policy: TimePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Only these customers (`CustomerIdentifier` or `CustomerAWSAccountId` values) are
    /// subscribed; others get `CustomerNotSubscribed`. By default every customer is.
    #[must_use]
    pub fn subscribed<S: Into<String>>(mut self, customers: impl IntoIterator<Item = S>) -> Self {
        self.subscribed = Some(owned(customers));
        self
    }

    /// These customers are not subscribed, whatever [`Builder::subscribed`] says.
    #[must_use]
    pub fn unsubscribed<S: Into<String>>(mut self, customers: impl IntoIterator<Item = S>) -> Self {
        self.unsubscribed.extend(owned(customers));
        self
    }

    /// Only these dimensions are known; others get `InvalidUsageDimensionException`.
    #[must_use]
    pub fn known_dimensions<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.catalog.dimensions = Some(owned(keys));
        self
    }

    /// Only these product codes are known; others get `InvalidProductCodeException`.
    #[must_use]
    pub fn products<S: Into<String>>(mut self, codes: impl IntoIterator<Item = S>) -> Self {
        self.catalog.products = Some(owned(codes));
        self
    }

    /// Only these licences exist, each granted to one account (`(LicenseArn,
    /// CustomerAWSAccountId)`); others, or a licence sent with another account, get
    /// `InvalidLicenseException`.
    #[must_use]
    pub fn licenses<A: Into<String>, B: Into<String>>(
        mut self,
        licenses: impl IntoIterator<Item = (A, B)>,
    ) -> Self {
        self.catalog.licenses = Some(
            licenses
                .into_iter()
                .map(|(arn, account)| (arn.into(), account.into()))
                .collect::<HashMap<_, _>>(),
        );
        self
    }

    /// Registration tokens `ResolveCustomer` resolves, each once; any other token is
    /// answered `InvalidTokenException`. By default there are none.
    #[must_use]
    pub fn registrations(mut self, registrations: impl IntoIterator<Item = Registration>) -> Self {
        self.registrations.extend(
            registrations
                .into_iter()
                .map(|registration| (registration.token.clone(), registration)),
        );
        self
    }

    /// The faults to inject.
    #[must_use]
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Throttles requests beyond `quota` (e.g. [`Quota::SERVICE`], the service's 10 a
    /// second); by default there is no quota, so tests and benchmarks can go as fast as
    /// they like.
    #[must_use]
    pub fn quota(mut self, quota: Option<Quota>) -> Self {
        self.quota = quota;
        self
    }

    /// Answers every request with `DisabledApiException`, as a region without the API does.
    #[must_use]
    pub fn disabled_api(mut self, disabled: bool) -> Self {
        self.disabled_api = disabled;
        self
    }

    /// How long a request's headers, and then its body, may take to arrive (default 20 s);
    /// a body that trickles in slower is answered `RequestTimeoutException` (HTTP 408).
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The address to listen on (default `127.0.0.1:0`, a free port).
    #[must_use]
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Allows a non-loopback bind address (the emulator accepts any signature: never expose
    /// it without meaning to).
    #[must_use]
    pub fn allow_non_loopback(mut self, allow: bool) -> Self {
        self.allow_non_loopback = allow;
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// A non-loopback address without permission, invalid fault shares or quota, or a failed
    /// bind.
    pub async fn start(self) -> Result<RunningEmulator, EmulatorError> {
        if !self.bind.ip().is_loopback() && !self.allow_non_loopback {
            return Err(EmulatorError::NonLoopback(self.bind));
        }
        self.faults.validate()?;
        if let Some(quota) = &self.quota {
            quota.validate()?;
        }
        let bind_error = |source| EmulatorError::Bind {
            addr: self.bind,
            source,
        };
        let listener = TcpListener::bind(self.bind).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        Ok(RunningEmulator::spawn(self, listener, addr))
    }
}

//! How a [`PostgresLedger`] connects: a URL, a pool, an optional schema.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::OnceCell;
use tokio_postgres::config::SslMode;

use super::PostgresLedger;
use crate::ledger::LedgerError;

/// Configures a [`PostgresLedger`]: the URL's settings (host, user, password, database,
/// `sslmode`, `connect_timeout`, `options`...), then the pool's.
///
/// ```no_run
/// // `no_run`: it needs a PostgreSQL server at that address.
/// # async fn run() -> Result<(), metering_core::ledger::LedgerError> {
/// use std::time::Duration;
/// use metering_core::ledger::PostgresLedger;
///
/// let ledger = PostgresLedger::builder("postgres://metering@db.internal:5432/billing")?
///     .max_connections(8)
///     .wait_timeout(Duration::from_secs(5))
///     .schema("metering")?
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct PostgresLedgerBuilder {
    config: tokio_postgres::Config,
    max_connections: usize,
    wait_timeout: Duration,
    schema: Option<String>,
}

/// How long a new connection may take, unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl PostgresLedgerBuilder {
    pub(super) fn new(url: &str) -> Result<Self, LedgerError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|error| {
            // The cause names the setting; the URL itself is not repeated: it may hold a
            // password.
            let cause = std::error::Error::source(&error)
                .map(|cause| format!(": {cause}"))
                .unwrap_or_default();
            LedgerError::Config(format!("the PostgreSQL URL is not valid: {error}{cause}"))
        })?;
        if config.get_ssl_mode() == SslMode::Require && !cfg!(feature = "postgres-tls") {
            return Err(LedgerError::Config(
                "the PostgreSQL URL asks for TLS (sslmode=require): build with the \
                 `postgres-tls` feature"
                    .into(),
            ));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        Ok(Self {
            config,
            max_connections: 16,
            wait_timeout: Duration::from_secs(30),
            schema: None,
        })
    }

    /// The most connections the pool opens (16 unless set). Each ledger operation holds one
    /// for one transaction.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How long an operation waits for a free connection (or a new one) before failing
    /// (30 seconds unless set).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Keeps the ledger's tables in `schema` (created if missing) rather than the first of
    /// the URL's `search_path`.
    ///
    /// # Errors
    /// [`LedgerError::Config`] when `name` is not a plain lowercase identifier
    /// (`[a-z_][a-z0-9_]*`, at most 63 bytes).
    pub fn schema(mut self, name: &str) -> Result<Self, LedgerError> {
        let plain = name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain {
            return Err(LedgerError::Config(format!(
                "schema {name:?} is not a plain lowercase identifier ([a-z_][a-z0-9_]*, at \
                 most 63 bytes)"
            )));
        }
        let options = match self.config.get_options() {
            Some(options) => format!("{options} -c search_path={name}"),
            None => format!("-c search_path={name}"),
        };
        self.config.options(options);
        self.schema = Some(name.to_owned());
        Ok(self)
    }

    /// The ledger, without touching the database yet: the pool connects, and the schema is
    /// migrated, at the first operation.
    ///
    /// # Errors
    /// [`LedgerError::Config`] when the pool cannot be made (TLS roots missing).
    pub fn build(self) -> Result<PostgresLedger, LedgerError> {
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = if self.config.get_ssl_mode() == SslMode::Require {
            Manager::from_config(self.config, tls()?, manager_config)
        } else {
            Manager::from_config(self.config, tokio_postgres::NoTls, manager_config)
        };
        let pool = Pool::builder(manager)
            .max_size(self.max_connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.wait_timeout))
            .create_timeout(Some(self.wait_timeout))
            .recycle_timeout(Some(self.wait_timeout))
            .build()
            .map_err(|error| LedgerError::Config(format!("the connection pool: {error}")))?;
        Ok(PostgresLedger {
            pool,
            schema: self.schema,
            migrated: Arc::new(OnceCell::new()),
            key_ids: Arc::new(Mutex::default()),
        })
    }

    /// The ledger, connected, its schema brought up to date.
    ///
    /// # Errors
    /// As [`PostgresLedgerBuilder::build`]; [`LedgerError::Storage`] when the database does
    /// not answer; [`LedgerError::SchemaTooNew`] when a newer version wrote its schema.
    pub async fn connect(self) -> Result<PostgresLedger, LedgerError> {
        let ledger = self.build()?;
        drop(ledger.client().await?);
        Ok(ledger)
    }
}

/// TLS through rustls (its own `ring` provider, whatever else the process installed),
/// verified against the system's roots.
#[cfg(feature = "postgres-tls")]
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, LedgerError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(LedgerError::Config(format!(
            "sslmode=require, but no root certificate could be loaded from the system: {:?}",
            found.errors
        )));
    }
    let config = rustls::ClientConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()
    .map_err(|error| LedgerError::Config(format!("TLS: {error}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Unreachable: [`PostgresLedgerBuilder::new`] refuses `sslmode=require` without the
/// feature.
#[cfg(not(feature = "postgres-tls"))]
fn tls() -> Result<tokio_postgres::NoTls, LedgerError> {
    Err(LedgerError::Config(
        "TLS needs the `postgres-tls` feature".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::PostgresLedger;

    #[test]
    fn debug_never_shows_the_password() {
        let builder =
            PostgresLedger::builder("postgres://metering:hunter2-secret@db.internal:5432/billing")
                .unwrap();
        let shown = format!("{builder:?}");
        assert!(shown.contains("db.internal"), "{shown}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
    }
}

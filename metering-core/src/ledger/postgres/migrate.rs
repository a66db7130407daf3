//! The schema's migrations, embedded and applied at start.

use deadpool_postgres::Pool;

use crate::ledger::LedgerError;
use crate::ledger::sql::Dialect;

/// Applies the migrations not applied yet, in one transaction that holds a
/// transaction-level advisory lock: instances starting at once take turns, and the lock
/// goes with the transaction whatever happens to the connection.
pub(super) async fn migrate(pool: &Pool, schema: Option<&str>) -> Result<(), LedgerError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('metering ledger'), \
         hashtext(COALESCE($1, current_schema(), '')))",
        &[&schema],
    )
    .await?;
    if let Some(schema) = schema {
        // The name was checked to be a plain identifier.
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; SET LOCAL search_path TO {schema}"
        ))
        .await?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, \
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await?;
    let found: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    // `schema_migrations` lists the versions applied.
    let migrations = Dialect::Postgres.migrations();
    let known = i32::try_from(migrations.len()).unwrap_or(i32::MAX);
    if found > known {
        return Err(LedgerError::SchemaTooNew {
            found: found.into(),
            known: known.into(),
        });
    }
    for (version, migration) in (1..).zip(&migrations).skip(found.unsigned_abs() as usize) {
        tx.batch_execute(migration).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

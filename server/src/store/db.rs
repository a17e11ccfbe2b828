//! Storage backends: PostgreSQL (production, row-level security) and SQLite (embedded
//! default). One enum rather than `sqlx::Any`: the two differ in types (uuid, jsonb,
//! timestamptz vs TEXT) and PostgreSQL adds RLS and `SKIP LOCKED`, so each query is written
//! for its backend.

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL `{0}`: use postgres://... or sqlite://PATH")]
    UnsupportedUrl(String),
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

impl Db {
    /// Connects and runs the migrations. `sqlite://PATH` creates the file if missing.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // No ping before each acquire (sqlx's default): sqlx already pings every
            // connection on its way back to the pool, so a second ping on the way out
            // only adds a round trip to every request. A connection that died while idle
            // fails its next query, which answers 503 and drops the connection.
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(5))
                .test_before_acquire(false)
                .connect(url)
                .await
                .map_err(DbError::Connect)?;
            PG_MIGRATOR.run(&pool).await.map_err(DbError::Migrate)?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|_| DbError::UnsupportedUrl(url.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections.max(1))
                .connect_with(opts)
                .await
                .map_err(DbError::Connect)?;
            SQLITE_MIGRATOR.run(&pool).await.map_err(DbError::Migrate)?;
            Ok(Db::Sqlite(pool))
        } else {
            Err(DbError::UnsupportedUrl(url.to_string()))
        }
    }

    /// Wraps an existing PostgreSQL pool (tests: `flowgate_testkit::TestDatabase`), running migrations.
    pub async fn from_pg_pool(pool: PgPool) -> Result<Db, DbError> {
        PG_MIGRATOR.run(&pool).await.map_err(DbError::Migrate)?;
        Ok(Db::Postgres(pool))
    }

    /// The engine's own connections to the same database: each runs as role
    /// `flowgate_engine` for its whole session (`SET ROLE` when it connects), so that a
    /// single statement needs no transaction to set the role (the hand-off is one
    /// statement, one round trip); and the API's load cannot take the workers'
    /// connections, nor the workers the API's. Connections open on demand. SQLite: the
    /// same pool (writers are serialised there anyway).
    pub(crate) fn engine_pool(&self, max_connections: u32) -> Db {
        match self {
            Db::Postgres(p) => {
                let options = (*p.connect_options()).clone();
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .min_connections(0)
                    .acquire_timeout(Duration::from_secs(5))
                    .test_before_acquire(false)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::Executor::execute(&mut *conn, "SET ROLE flowgate_engine")
                                .await
                                .map(|_| ())
                        })
                    })
                    .connect_lazy_with(options);
                Db::Postgres(pool)
            }
            Db::Sqlite(_) => self.clone(),
        }
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Postgres(_) => "postgres",
            Db::Sqlite(_) => "sqlite",
        }
    }

    /// Cheap liveness probe for /health and /ready.
    pub async fn ping(&self) -> bool {
        match self {
            Db::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.is_ok(),
            Db::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Db;
    use crate::store::sql;

    /// The hand-off's single statement relies on it: without the session role it would run
    /// as the connecting user (a superuser in tests, which bypasses row-level security).
    #[tokio::test]
    async fn the_engine_pool_runs_as_the_engine_role() {
        let Some(test_db) = flowgate_testkit::TestDatabase::create("flowgate_unit").await else {
            return;
        };
        let db = Db::from_pg_pool(test_db.pool().await)
            .await
            .expect("migrations");
        let engine = db.engine_pool(2);
        for _ in 0..3 {
            let row = sql::fetch_optional(&engine, "SELECT current_user::text AS u", &[])
                .await
                .expect("query")
                .expect("a row");
            assert_eq!(row.text("u").expect("text"), "flowgate_engine");
        }
    }
}

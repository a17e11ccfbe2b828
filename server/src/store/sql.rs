//! A thin layer that lets one SQL text run on both backends. Queries use `$N`
//! placeholders (both PostgreSQL and SQLite accept them); parameters are [`P`] values bound
//! with each backend's types (uuid vs TEXT, jsonb vs TEXT); rows are read through [`Row`].

use crate::store::db::Db;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::types::Json;
use sqlx::{Postgres, Row as _, Sqlite, TypeInfo as _, ValueRef as _};
use uuid::Uuid;

/// One bound parameter.
#[derive(Debug, Clone)]
pub(crate) enum P {
    Uuid(Uuid),
    Text(Option<String>),
    Int(i64),
    Bool(bool),
    Ts(Option<DateTime<Utc>>),
    Json(Option<Value>),
}

impl From<Uuid> for P {
    fn from(v: Uuid) -> Self {
        P::Uuid(v)
    }
}
impl From<&str> for P {
    fn from(v: &str) -> Self {
        P::Text(Some(v.to_string()))
    }
}
impl From<String> for P {
    fn from(v: String) -> Self {
        P::Text(Some(v))
    }
}
impl From<Option<String>> for P {
    fn from(v: Option<String>) -> Self {
        P::Text(v)
    }
}
impl From<i64> for P {
    fn from(v: i64) -> Self {
        P::Int(v)
    }
}
impl From<bool> for P {
    fn from(v: bool) -> Self {
        P::Bool(v)
    }
}
impl From<DateTime<Utc>> for P {
    fn from(v: DateTime<Utc>) -> Self {
        P::Ts(Some(v))
    }
}
impl From<Option<DateTime<Utc>>> for P {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        P::Ts(v)
    }
}
impl From<Value> for P {
    fn from(v: Value) -> Self {
        P::Json(Some(v))
    }
}
impl From<Option<Value>> for P {
    fn from(v: Option<Value>) -> Self {
        P::Json(v)
    }
}

/// The current time at microsecond precision, so that PostgreSQL (µs) and SQLite (text)
/// store the same instant and keyset cursors compare equal on both.
pub(crate) fn now() -> DateTime<Utc> {
    let t = Utc::now();
    let micros = t.timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or(t)
}

/// The statement with its parameters bound by reference: a create's JSON documents are
/// encoded straight from the request's values, not cloned first.
fn pg_query<'q>(sql: &'q str, params: &'q [P]) -> Query<'q, Postgres, PgArguments> {
    let mut q = sqlx::query(sql);
    for p in params {
        q = match p {
            P::Uuid(v) => q.bind(*v),
            P::Text(v) => q.bind(v.as_deref()),
            P::Int(v) => q.bind(*v),
            P::Bool(v) => q.bind(*v),
            P::Ts(v) => q.bind(*v),
            P::Json(v) => q.bind(v.as_ref().map(Json)),
        };
    }
    q
}

fn lite_query<'q>(sql: &'q str, params: &'q [P]) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    let mut q = sqlx::query(sql);
    for p in params {
        q = match p {
            P::Uuid(v) => q.bind(v.hyphenated().to_string()),
            P::Text(v) => q.bind(v.as_deref()),
            P::Int(v) => q.bind(*v),
            P::Bool(v) => q.bind(*v),
            P::Ts(v) => q.bind(*v),
            P::Json(v) => q.bind(v.as_ref().map(Json)),
        };
    }
    q
}

/// An open transaction on either backend.
pub(crate) enum Tx {
    Pg(sqlx::Transaction<'static, Postgres>),
    Lite(sqlx::Transaction<'static, Sqlite>),
}

impl Tx {
    /// Begins a transaction. On SQLite a writing transaction takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that a read followed by a write never fails with SQLITE_BUSY.
    pub(crate) async fn begin(db: &Db, writes: bool) -> Result<Tx, sqlx::Error> {
        Ok(match db {
            Db::Postgres(p) => Tx::Pg(p.begin().await?),
            Db::Sqlite(p) => {
                if writes {
                    Tx::Lite(p.begin_with("BEGIN IMMEDIATE").await?)
                } else {
                    Tx::Lite(p.begin().await?)
                }
            }
        })
    }

    /// Begins a transaction that runs as `role` with `settings` (name, value) in effect
    /// (`set_config(.., true)`: until the transaction ends). `writes` matters on SQLite
    /// only (see [`Tx::begin`]). On PostgreSQL the BEGIN and
    /// the settings go in one simple-query round trip; the values are inlined, so they
    /// must never come from a request as text (callers pass role names they own and
    /// UUIDs they formatted). SQLite has neither roles nor settings: a plain begin.
    pub(crate) async fn begin_as(
        db: &Db,
        writes: bool,
        role: &'static str,
        settings: &[(&'static str, Uuid)],
    ) -> Result<Tx, sqlx::Error> {
        match db {
            Db::Postgres(p) => {
                let mut sql = format!("BEGIN; SELECT set_config('role', '{role}', true)");
                for (name, value) in settings {
                    sql.push_str(&format!(", set_config('{name}', '{value}', true)"));
                }
                Ok(Tx::Pg(p.begin_with(sql).await?))
            }
            Db::Sqlite(_) => Tx::begin(db, writes).await,
        }
    }

    /// Ends a transaction that only read, without a COMMIT round trip: sqlx queues a
    /// ROLLBACK when a transaction is dropped and sends it with the ping that checks the
    /// connection on its way back to the pool (a round trip that happens anyway). For a
    /// transaction that wrote nothing, rolling back and committing are the same.
    pub(crate) fn end_read(self) {
        drop(self);
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Tx::Pg(_))
    }

    /// Undoes the transaction now (its locks released before this returns).
    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Pg(t) => t.rollback().await,
            Tx::Lite(t) => t.rollback().await,
        }
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Pg(t) => t.commit().await,
            Tx::Lite(t) => t.commit().await,
        }
    }

    pub(crate) async fn execute(&mut self, sql: &str, params: &[P]) -> Result<u64, sqlx::Error> {
        Ok(match self {
            Tx::Pg(t) => pg_query(sql, params)
                .execute(&mut **t)
                .await?
                .rows_affected(),
            Tx::Lite(t) => lite_query(sql, params)
                .execute(&mut **t)
                .await?
                .rows_affected(),
        })
    }

    pub(crate) async fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[P],
    ) -> Result<Option<Row>, sqlx::Error> {
        Ok(match self {
            Tx::Pg(t) => pg_query(sql, params)
                .fetch_optional(&mut **t)
                .await?
                .map(Row::Pg),
            Tx::Lite(t) => lite_query(sql, params)
                .fetch_optional(&mut **t)
                .await?
                .map(Row::Lite),
        })
    }

    pub(crate) async fn fetch_all(
        &mut self,
        sql: &str,
        params: &[P],
    ) -> Result<Vec<Row>, sqlx::Error> {
        Ok(match self {
            Tx::Pg(t) => pg_query(sql, params)
                .fetch_all(&mut **t)
                .await?
                .into_iter()
                .map(Row::Pg)
                .collect(),
            Tx::Lite(t) => lite_query(sql, params)
                .fetch_all(&mut **t)
                .await?
                .into_iter()
                .map(Row::Lite)
                .collect(),
        })
    }
}

/// Runs one statement outside a transaction (auth lookups, health).
pub(crate) async fn fetch_optional(
    db: &Db,
    sql: &str,
    params: &[P],
) -> Result<Option<Row>, sqlx::Error> {
    Ok(match db {
        Db::Postgres(p) => pg_query(sql, params).fetch_optional(p).await?.map(Row::Pg),
        Db::Sqlite(p) => lite_query(sql, params)
            .fetch_optional(p)
            .await?
            .map(Row::Lite),
    })
}

/// Runs one statement outside a transaction, all its rows.
pub(crate) async fn fetch_all(db: &Db, sql: &str, params: &[P]) -> Result<Vec<Row>, sqlx::Error> {
    Ok(match db {
        Db::Postgres(p) => pg_query(sql, params)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(Row::Pg)
            .collect(),
        Db::Sqlite(p) => lite_query(sql, params)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(Row::Lite)
            .collect(),
    })
}

/// Runs one statement outside a transaction; the rows it changed.
pub(crate) async fn execute(db: &Db, sql: &str, params: &[P]) -> Result<u64, sqlx::Error> {
    Ok(match db {
        Db::Postgres(p) => pg_query(sql, params).execute(p).await?.rows_affected(),
        Db::Sqlite(p) => lite_query(sql, params).execute(p).await?.rows_affected(),
    })
}

/// A result row of either backend, read by column name or, where a result has many rows,
/// by the position [`Row::position`] found once (a name is a hash lookup per value).
pub(crate) enum Row {
    Pg(PgRow),
    Lite(SqliteRow),
}

/// A column of a result row: its name or its position.
pub(crate) trait Col:
    sqlx::ColumnIndex<PgRow> + sqlx::ColumnIndex<SqliteRow> + std::fmt::Display + Copy
{
}
impl Col for &str {}
impl Col for usize {}

fn bad_uuid(col: impl Col, e: uuid::Error) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: col.to_string(),
        source: Box::new(e),
    }
}

impl Row {
    /// The position of the column named `name`, to read many rows by it.
    pub(crate) fn position(&self, name: &str) -> Result<usize, sqlx::Error> {
        use sqlx::Column as _;
        match self {
            Row::Pg(r) => r.try_column(name).map(|c| c.ordinal()),
            Row::Lite(r) => r.try_column(name).map(|c| c.ordinal()),
        }
    }

    /// Whether the value at `col` is SQL NULL, without decoding it.
    pub(crate) fn is_null(&self, col: impl Col) -> Result<bool, sqlx::Error> {
        use sqlx::ValueRef as _;
        match self {
            Row::Pg(r) => Ok(r.try_get_raw(col)?.is_null()),
            Row::Lite(r) => Ok(r.try_get_raw(col)?.is_null()),
        }
    }

    pub(crate) fn uuid(&self, col: impl Col) -> Result<Uuid, sqlx::Error> {
        match self {
            Row::Pg(r) => r.try_get(col),
            Row::Lite(r) => {
                let s: String = r.try_get(col)?;
                Uuid::parse_str(&s).map_err(|e| bad_uuid(col, e))
            }
        }
    }

    pub(crate) fn text(&self, col: impl Col) -> Result<String, sqlx::Error> {
        match self {
            Row::Pg(r) => r.try_get(col),
            Row::Lite(r) => r.try_get(col),
        }
    }

    pub(crate) fn opt_text(&self, col: impl Col) -> Result<Option<String>, sqlx::Error> {
        match self {
            Row::Pg(r) => r.try_get(col),
            Row::Lite(r) => r.try_get(col),
        }
    }

    /// Any integer column (PostgreSQL int4 or int8, SQLite INTEGER).
    pub(crate) fn int(&self, col: impl Col) -> Result<i64, sqlx::Error> {
        self.opt_int(col)?.ok_or_else(|| sqlx::Error::ColumnDecode {
            index: col.to_string(),
            source: "unexpected NULL".into(),
        })
    }

    pub(crate) fn opt_int(&self, col: impl Col) -> Result<Option<i64>, sqlx::Error> {
        match self {
            // Decoded as the column's own width: trying int8 first and falling back on
            // the mismatch built (and formatted) an error for every int4 column read.
            Row::Pg(r) => {
                let is_int4 = r.try_get_raw(col)?.type_info().name() == "INT4";
                if is_int4 {
                    Ok(r.try_get::<Option<i32>, _>(col)?.map(i64::from))
                } else {
                    r.try_get(col)
                }
            }
            Row::Lite(r) => r.try_get(col),
        }
    }

    pub(crate) fn bool(&self, col: impl Col) -> Result<bool, sqlx::Error> {
        match self {
            Row::Pg(r) => r.try_get(col),
            Row::Lite(r) => r.try_get(col),
        }
    }

    pub(crate) fn ts(&self, col: impl Col) -> Result<DateTime<Utc>, sqlx::Error> {
        match self {
            Row::Pg(r) => r.try_get(col),
            Row::Lite(r) => r.try_get(col),
        }
    }

    pub(crate) fn opt_ts(&self, col: impl Col) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        match self {
            Row::Pg(r) => r.try_get(col),
            Row::Lite(r) => r.try_get(col),
        }
    }

    pub(crate) fn opt_json(&self, col: impl Col) -> Result<Option<Value>, sqlx::Error> {
        Ok(match self {
            Row::Pg(r) => r.try_get::<Option<Json<Value>>, _>(col)?.map(|j| j.0),
            Row::Lite(r) => r.try_get::<Option<Json<Value>>, _>(col)?.map(|j| j.0),
        })
    }

    pub(crate) fn json(&self, col: impl Col) -> Result<Value, sqlx::Error> {
        Ok(self.opt_json(col)?.unwrap_or(Value::Null))
    }
}

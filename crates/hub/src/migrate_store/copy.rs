//! Copying a table's rows from SQLite into PostgreSQL, generically: the columns come from both
//! schemas (`pragma_table_info`, `information_schema.columns`), each value is read from SQLite as
//! the PostgreSQL column's type says (`INTEGER` → `BIGINT`, `INTEGER` or `BOOLEAN`; `BLOB` →
//! `BYTEA`; `TEXT` → `TEXT`) and written in batches of multi-row `INSERT`s.

use futures_util::TryStreamExt as _;
use sqlx::postgres::Postgres;
use sqlx::query_builder::Separated;
use sqlx::sqlite::SqliteRow;
use sqlx::{PgConnection, QueryBuilder, Row as _, SqliteConnection};

use super::error::MigrateError;

/// Binds per statement at most (PostgreSQL's limit is 65,535).
const MAX_BINDS: usize = 30_000;
/// Rows per statement at most.
const MAX_ROWS: usize = 1_000;

/// The PostgreSQL type of a column, as the PostgreSQL migrations declare it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PgType {
    Text,
    BigInt,
    Integer,
    SmallInt,
    Boolean,
    Bytea,
}

impl PgType {
    fn of(data_type: &str) -> Option<PgType> {
        Some(match data_type {
            "text" => PgType::Text,
            "bigint" => PgType::BigInt,
            "integer" => PgType::Integer,
            "smallint" => PgType::SmallInt,
            "boolean" => PgType::Boolean,
            "bytea" => PgType::Bytea,
            _ => return None,
        })
    }

    /// The SQLite type (a STRICT table's declared type) that holds this type's values.
    fn sqlite(self) -> &'static str {
        match self {
            PgType::Text => "TEXT",
            PgType::BigInt | PgType::Integer | PgType::SmallInt | PgType::Boolean => "INTEGER",
            PgType::Bytea => "BLOB",
        }
    }
}

/// A column to copy: its name and its type on the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Column {
    pub name: String,
    pub ty: PgType,
}

/// The columns of `table`, in the target's order, after checking that both schemas have the
/// same columns with types that hold the same values; a difference is refused, naming it.
pub(crate) async fn columns(
    source: &mut SqliteConnection,
    target: &mut PgConnection,
    table: &str,
) -> Result<Vec<Column>, MigrateError> {
    let on_source: Vec<(String, String)> = sqlx::query_as("SELECT name, upper(type) FROM pragma_table_info(?1)")
        .bind(table)
        .fetch_all(&mut *source)
        .await
        .map_err(|e| MigrateError::source(format!("cannot read the columns of {table}"), e))?;
    let on_target: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *target)
    .await
    .map_err(|e| MigrateError::target(format!("cannot read the columns of {table}"), e))?;
    let schema = |why: String| MigrateError::Schema(format!("table {table}: {why}"));
    let mut columns = Vec::with_capacity(on_target.len());
    for (name, data_type) in &on_target {
        let ty = PgType::of(data_type).ok_or_else(|| schema(format!("column {name} has type {data_type}")))?;
        let Some((_, declared)) = on_source.iter().find(|(n, _)| n == name) else {
            return Err(schema(format!("column {name} is missing in the source")));
        };
        if declared != ty.sqlite() {
            return Err(schema(format!("column {name} is {declared} in the source and {data_type} in the target")));
        }
        columns.push(Column { name: name.clone(), ty });
    }
    if let Some((extra, _)) = on_source.iter().find(|(n, _)| !on_target.iter().any(|(t, _)| t == n)) {
        return Err(schema(format!("column {extra} is missing in the target")));
    }
    Ok(columns)
}

/// One value on its way, typed for the target (`None`: NULL).
enum Value {
    Text(Option<String>),
    BigInt(Option<i64>),
    Integer(Option<i32>),
    SmallInt(Option<i16>),
    Boolean(Option<bool>),
    Bytea(Option<Vec<u8>>),
}

impl Value {
    fn read(row: &SqliteRow, i: usize, column: &Column, table: &str) -> Result<Value, MigrateError> {
        let bad = |why: &str| MigrateError::Source(format!("{table}.{}: {why}", column.name), None);
        let read_err = |e: sqlx::Error| MigrateError::source(format!("cannot read {table}.{}", column.name), e);
        let int = || row.try_get::<Option<i64>, _>(i).map_err(read_err);
        Ok(match column.ty {
            PgType::Text => Value::Text(row.try_get(i).map_err(read_err)?),
            PgType::Bytea => Value::Bytea(row.try_get(i).map_err(read_err)?),
            PgType::BigInt => Value::BigInt(int()?),
            PgType::Integer => Value::Integer(
                int()?.map(i32::try_from).transpose().map_err(|_| bad("a value does not fit the target's INTEGER"))?,
            ),
            PgType::SmallInt => Value::SmallInt(
                int()?.map(i16::try_from).transpose().map_err(|_| bad("a value does not fit the target's SMALLINT"))?,
            ),
            PgType::Boolean => Value::Boolean(match int()? {
                None => None,
                Some(0) => Some(false),
                Some(1) => Some(true),
                Some(_) => return Err(bad("a flag is neither 0 nor 1")),
            }),
        })
    }

    fn bind(self, b: &mut Separated<'_, '_, Postgres, &'static str>) {
        match self {
            Value::Text(v) => b.push_bind(v),
            Value::BigInt(v) => b.push_bind(v),
            Value::Integer(v) => b.push_bind(v),
            Value::SmallInt(v) => b.push_bind(v),
            Value::Boolean(v) => b.push_bind(v),
            Value::Bytea(v) => b.push_bind(v),
        };
    }
}

/// A name quoted for either database's SQL.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Copies every row of `table` (in rowid order) from `source` to `target`: the number of rows.
pub(crate) async fn copy_table(
    source: &mut SqliteConnection,
    target: &mut PgConnection,
    table: &str,
    columns: &[Column],
) -> Result<u64, MigrateError> {
    let list = columns.iter().map(|c| quoted(&c.name)).collect::<Vec<_>>().join(", ");
    let select = format!("SELECT {list} FROM {} ORDER BY rowid", quoted(table));
    let insert = format!("INSERT INTO {} ({list}) ", quoted(table));
    let batch = (MAX_BINDS / columns.len().max(1)).clamp(1, MAX_ROWS);
    let mut rows = sqlx::query(&select).fetch(&mut *source);
    let mut pending: Vec<Vec<Value>> = Vec::with_capacity(batch);
    let mut copied = 0u64;
    loop {
        let row = rows.try_next().await.map_err(|e| MigrateError::source(format!("cannot read {table}"), e))?;
        if let Some(row) = &row {
            let values =
                columns.iter().enumerate().map(|(i, c)| Value::read(row, i, c, table)).collect::<Result<_, _>>()?;
            pending.push(values);
        }
        if pending.len() == batch || (row.is_none() && !pending.is_empty()) {
            let n = pending.len() as u64;
            let mut query = QueryBuilder::<Postgres>::new(&insert);
            query.push_values(pending.drain(..), |mut b, values| {
                for value in values {
                    value.bind(&mut b);
                }
            });
            query
                .build()
                .execute(&mut *target)
                .await
                .map_err(|e| MigrateError::target(format!("cannot write {table}"), e))?;
            copied += n;
        }
        if row.is_none() {
            return Ok(copied);
        }
    }
}

/// Moves the target's identity columns past the copied ids, and past the ids SQLite's
/// `AUTOINCREMENT` has handed out (rows removed later included), so the next row the hub adds
/// gets an id neither database has seen.
pub(crate) async fn advance_identities(
    source: &mut SqliteConnection,
    target: &mut PgConnection,
    tables: &[&str],
) -> Result<Vec<(String, i64)>, MigrateError> {
    let identities: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = ANY($1) \
           AND (is_identity = 'YES' OR column_default LIKE 'nextval(%') ORDER BY table_name",
    )
    .bind(tables)
    .fetch_all(&mut *target)
    .await
    .map_err(|e| MigrateError::target("cannot read the identity columns".into(), e))?;
    let has_sequence: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence')")
            .fetch_one(&mut *source)
            .await
            .map_err(|e| MigrateError::source("cannot read sqlite_sequence".into(), e))?;
    let mut advanced = Vec::new();
    for (table, column) in identities {
        let handed_out: Option<i64> = if has_sequence {
            sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = ?1")
                .bind(&table)
                .fetch_optional(&mut *source)
                .await
                .map_err(|e| MigrateError::source("cannot read sqlite_sequence".into(), e))?
        } else {
            None
        };
        let max: Option<i64> =
            sqlx::query_scalar(&format!("SELECT MAX({})::bigint FROM {}", quoted(&column), quoted(&table)))
                .fetch_one(&mut *target)
                .await
                .map_err(|e| MigrateError::target(format!("cannot read the largest {table}.{column}"), e))?;
        let next = max.unwrap_or(0).max(handed_out.unwrap_or(0)).saturating_add(1);
        sqlx::query("SELECT setval(pg_get_serial_sequence($1, $2), $3, false)")
            .bind(quoted(&table))
            .bind(&column)
            .bind(next)
            .execute(&mut *target)
            .await
            .map_err(|e| MigrateError::target(format!("cannot advance the sequence of {table}.{column}"), e))?;
        advanced.push((format!("{table}.{column}"), next));
    }
    Ok(advanced)
}

//! The data browser: every table, read-only, a page at a time by its key,
//! filtered by one column's value. Columns that hold secrets (password and
//! token hashes, signing secrets, PKCE verifiers, ...) are replaced by
//! `(hidden)` in the SQL itself, so their values never leave the database.
//!
//! Table and column names come from the database's own catalog, never from
//! the request: a request names a table or column, and only a name the
//! catalog lists is used.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use uuid::Uuid;

use crate::{
    db::Db,
    error::{AppError, AppResult},
};

/// A column of a table, as the catalog describes it.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    /// The declared type, lowercase.
    kind: String,
    pub(crate) hidden: bool,
}

/// One table's shape.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) name: String,
    pub(crate) columns: Vec<Column>,
    /// The primary key's columns in key order (the first column when there
    /// is no key): pages follow them, newest first.
    pub(crate) key: Vec<String>,
}

/// Rows as text, one `Option<String>` per column (`None` for NULL).
pub(crate) type Rows = Vec<Vec<Option<String>>>;

/// Names that hold secrets, in any table (an application's too).
fn secret(column: &str) -> bool {
    let column = column.to_ascii_lowercase();
    column.ends_with("_hash")
        || [
            "secret",
            "password",
            "token",
            "code_verifier",
            "nonce",
            "fingerprint",
        ]
        .iter()
        .any(|s| column.contains(s))
}

/// Every table in the database, by name.
pub(crate) async fn tables(db: &Db) -> AppResult<Vec<String>> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<String>("", "name").ok())
        .collect())
}

/// `name`'s columns and key, or `NOT_FOUND` when no such table exists.
pub(crate) async fn table(db: &Db, name: &str) -> AppResult<Table> {
    if !tables(db).await?.iter().any(|t| t == name) {
        return Err(AppError::NotFound("table"));
    }
    let backend = db.get_database_backend();
    let (sql, values): (&str, Vec<Value>) = match backend {
        DbBackend::Postgres => (
            "SELECT c.column_name AS name, c.data_type AS kind, \
               COALESCE((SELECT k.ordinal_position FROM information_schema.key_column_usage k \
                 JOIN information_schema.table_constraints t ON t.constraint_name = k.constraint_name \
                  AND t.table_schema = k.table_schema \
                 WHERE t.constraint_type = 'PRIMARY KEY' AND k.table_schema = c.table_schema \
                   AND k.table_name = c.table_name AND k.column_name = c.column_name), 0)::int AS pk \
             FROM information_schema.columns c \
             WHERE c.table_schema = current_schema() AND c.table_name = $1 ORDER BY c.ordinal_position",
            vec![name.into()],
        ),
        _ => (
            "SELECT name, type AS kind, pk FROM pragma_table_info(?) ORDER BY cid",
            vec![name.into()],
        ),
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut key: Vec<(i32, String)> = Vec::new();
    let mut columns = Vec::new();
    for row in &rows {
        let column: String = row.try_get("", "name")?;
        let kind: String = row.try_get("", "kind")?;
        let pk: i32 = row.try_get("", "pk")?;
        if pk > 0 {
            key.push((pk, column.clone()));
        }
        columns.push(Column {
            hidden: secret(&column),
            name: column,
            kind: kind.to_lowercase(),
        });
    }
    key.sort();
    let mut key: Vec<String> = key.into_iter().map(|(_, column)| column).collect();
    if key.is_empty() {
        key.extend(columns.first().map(|c| c.name.clone()));
    }
    Ok(Table {
        name: name.to_owned(),
        columns,
        key,
    })
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// A column as text, whatever its type: SQLite keeps UUIDs as 16-byte
/// blobs, shown in their usual form.
fn rendered(backend: DbBackend, column: &Column) -> String {
    let c = quote(&column.name);
    if column.hidden {
        return "CASE WHEN ".to_owned() + &c + " IS NULL THEN NULL ELSE '(hidden)' END";
    }
    match backend {
        DbBackend::Postgres => format!("{c}::text"),
        _ => format!(
            "CASE WHEN typeof({c}) = 'blob' AND length({c}) = 16 THEN lower(substr(hex({c}), 1, 8) || '-' || \
             substr(hex({c}), 9, 4) || '-' || substr(hex({c}), 13, 4) || '-' || substr(hex({c}), 17, 4) || '-' || \
             substr(hex({c}), 21)) WHEN typeof({c}) = 'blob' THEN '(' || length({c}) || ' bytes)' \
             ELSE CAST({c} AS TEXT) END"
        ),
    }
}

/// A value from a request, typed like `column` so comparisons with it can
/// use the column's index.
fn typed(column: &Column, raw: &str) -> AppResult<Value> {
    let invalid = || {
        AppError::bad_input(
            column.name.clone(),
            format!("`{raw}` is not a value of {}", column.name),
        )
    };
    if column.kind.contains("uuid") {
        Ok(raw.trim().parse::<Uuid>().map_err(|_| invalid())?.into())
    } else if column.kind.contains("int") || column.kind == "bigint" {
        Ok(raw.trim().parse::<i64>().map_err(|_| invalid())?.into())
    } else {
        Ok(raw.to_owned().into())
    }
}

/// Which rows to show.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub(crate) struct Query {
    /// Filter: this column...
    #[serde(default)]
    pub(crate) column: String,
    /// ...shown as exactly this text.
    #[serde(default)]
    pub(crate) value: String,
    /// Rows whose key comes before this one (the next page): the key's
    /// values as a JSON array of text, as [`rows`] gives it.
    pub(crate) after: Option<String>,
}

/// A page of `table`'s rows, newest key first, and the next page's cursor.
/// A key of several columns pages by all of them (a row-value comparison),
/// so no row is skipped where a page ends.
pub(crate) async fn rows(
    db: &Db,
    table: &Table,
    query: &Query,
    limit: u64,
) -> AppResult<(Rows, Option<String>)> {
    let backend = db.get_database_backend();
    let placeholder = |n: usize| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let select: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{} AS {}", rendered(backend, c), quote(&c.name)))
        .collect();
    let mut conditions = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if !query.column.is_empty() {
        let column = table
            .columns
            .iter()
            .find(|c| c.name == query.column && !c.hidden)
            .ok_or_else(|| AppError::bad_input("column", "no such column to filter by"))?;
        // UUIDs are shown lowercase and hyphenated: match them however typed.
        let value = query
            .value
            .trim()
            .parse::<Uuid>()
            .map_or_else(|_| query.value.clone(), |id| id.to_string());
        values.push(value.into());
        conditions.push(format!(
            "{} = {}",
            rendered(backend, column),
            placeholder(values.len())
        ));
    }
    let key: Vec<&Column> = table
        .key
        .iter()
        .filter_map(|name| table.columns.iter().find(|c| &c.name == name))
        .collect();
    if key.is_empty() {
        return Err(AppError::NotFound("table"));
    }
    if let Some(after) = &query.after {
        let bad = || AppError::bad_input("after", "is not a cursor of this table");
        let parts: Vec<String> = serde_json::from_str(after).map_err(|_| bad())?;
        if parts.len() != key.len() {
            return Err(bad());
        }
        let mut marks = Vec::new();
        for (column, raw) in key.iter().zip(&parts) {
            values.push(typed(column, raw)?);
            marks.push(placeholder(values.len()));
        }
        let names: Vec<String> = key.iter().map(|c| quote(&c.name)).collect();
        conditions.push(format!("({}) < ({})", names.join(", "), marks.join(", ")));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let order: Vec<String> = key
        .iter()
        .map(|c| format!("{} DESC", quote(&c.name)))
        .collect();
    let sql = format!(
        "SELECT {} FROM {}{filter} ORDER BY {} LIMIT {}",
        select.join(", "),
        quote(&table.name),
        order.join(", "),
        limit + 1
    );
    let found = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut rows: Rows = found
        .iter()
        .map(|row| {
            table
                .columns
                .iter()
                .map(|c| row.try_get::<Option<String>>("", &c.name).ok().flatten())
                .collect()
        })
        .collect();
    let key_at: Vec<usize> = key
        .iter()
        .filter_map(|k| table.columns.iter().position(|c| c.name == k.name))
        .collect();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
            .and_then(|r| {
                key_at
                    .iter()
                    .map(|&i| r[i].clone())
                    .collect::<Option<Vec<_>>>()
            })
            .and_then(|parts| serde_json::to_string(&parts).ok())
    } else {
        None
    };
    Ok((rows, next))
}

#[cfg(test)]
mod tests {
    use super::secret;

    #[test]
    fn secret_columns_are_recognised_by_name() {
        for name in [
            "password_hash",
            "token_hash",
            "device_secret_hash",
            "secret",
            "code_verifier",
            "nonce",
            "state_hash",
            "code_hash",
        ] {
            assert!(secret(name), "{name}");
        }
        for name in ["id", "email", "username", "created_at", "body", "kind"] {
            assert!(!secret(name), "{name}");
        }
    }
}

//! Bulk inserts on PostgreSQL: one `INSERT ... SELECT ... FROM UNNEST($1::uuid[], ...)` per chunk,
//! every column bound as one array.
//!
//! sea-orm's multi-row `INSERT ... VALUES` binds one parameter per cell (14 to 21 a row here):
//! building and binding them cost this process as much CPU as PostgreSQL spent on the insert
//! (100k patients: about 2 s of each, measured with the backend's `/proc` CPU time). With arrays
//! the statement has one parameter per column and the same text for every chunk (one prepared
//! statement), and the client's share falls to sealing. What remains is the server's own work:
//! index entries and foreign-key checks (half of the time for `run_rows`, which has four).
//!
//! While the server inserts one chunk, the next is sealed ([`while_executing`]), so on two cores
//! the client's work mostly disappears from the wall time.
//!
//! sea-query binds an array only when every element is present (a `NULL` element panics in its
//! binder), so a nullable column travels as two arrays: the values, with a placeholder where there
//! is none, and a `bool[]` saying which are present; the select turns the placeholders back into
//! `NULL` (`CASE WHEN present THEN value END`). No value is ever mistaken for a missing one.
//!
//! SQLite has no arrays: its callers keep sea-orm's multi-row inserts.

use std::future::Future;
use std::task::Poll;

use sea_orm::{DbBackend, Statement, Value};

/// Rows per statement: large enough that the round trip and the statement's fixed cost vanish,
/// small enough that one chunk's sealed values (about 1 KB a row) stay a few megabytes.
pub(crate) const CHUNK: usize = 5000;

/// One chunk's `INSERT ... SELECT ... FROM UNNEST(...)`, built column by column.
pub(crate) struct UnnestInsert {
    table: &'static str,
    /// The table's columns, in insert order.
    targets: Vec<&'static str>,
    /// What the select gives for each target.
    selects: Vec<String>,
    /// The `UNNEST` arguments (`$n::type[]`) and their column aliases.
    arrays: Vec<String>,
    aliases: Vec<String>,
    values: Vec<Value>,
}

impl UnnestInsert {
    pub(crate) fn new(table: &'static str) -> Self {
        UnnestInsert {
            table,
            targets: Vec::new(),
            selects: Vec::new(),
            arrays: Vec::new(),
            aliases: Vec::new(),
            values: Vec::new(),
        }
    }

    /// A column with a value in every row; `values` is a `Vec` of the rows' values in order and
    /// `sql_type` its element type (`uuid`, `bytea`, `text`, `int4`).
    pub(crate) fn column(
        &mut self,
        name: &'static str,
        sql_type: &str,
        values: impl Into<Value>,
    ) -> &mut Self {
        let alias = self.array(name, sql_type, values.into());
        self.targets.push(name);
        self.selects.push(format!("u.{alias}"));
        self
    }

    /// A column that may be `NULL`: `fill` stands in for a missing value in the array and never
    /// reaches the table.
    pub(crate) fn nullable<T>(
        &mut self,
        name: &'static str,
        sql_type: &str,
        values: Vec<Option<T>>,
        fill: T,
    ) -> &mut Self
    where
        T: Clone,
        Vec<T>: Into<Value>,
    {
        let present: Vec<bool> = values.iter().map(Option::is_some).collect();
        let values: Vec<T> = values.into_iter().map(|v| v.unwrap_or_else(|| fill.clone())).collect();
        let alias = self.array(name, sql_type, values.into());
        let flag = self.array(&format!("{name}_present"), "bool", present.into());
        self.targets.push(name);
        self.selects.push(format!("CASE WHEN u.{flag} THEN u.{alias} END"));
        self
    }

    /// A column with the same value in every row, bound once.
    pub(crate) fn same(&mut self, name: &'static str, sql_type: &str, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        self.targets.push(name);
        self.selects.push(format!("${}::{sql_type}", self.values.len()));
        self
    }

    /// The statement, with `tail` (such as `ON CONFLICT ... RETURNING ...`) after the select.
    pub(crate) fn statement(self, tail: &str) -> Statement {
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {} FROM UNNEST({}) AS u({}) {tail}",
            self.table,
            self.targets.join(", "),
            self.selects.join(", "),
            self.arrays.join(", "),
            self.aliases.join(", "),
        );
        Statement::from_sql_and_values(DbBackend::Postgres, sql, self.values)
    }

    fn array(&mut self, name: &str, sql_type: &str, values: Value) -> String {
        self.values.push(values);
        self.arrays.push(format!("${}::{sql_type}[]", self.values.len()));
        self.aliases.push(name.to_owned());
        name.to_owned()
    }
}

/// Runs `work` (sealing and building the next chunk) while the database executes `statement` (this
/// chunk), and answers both. The statement is polled once, which sends it, then `work` runs, then
/// the statement is awaited. `work` blocks the task, so it must be short: one chunk's worth.
pub(crate) async fn while_executing<F: Future, T>(statement: F, work: impl FnOnce() -> T) -> (F::Output, T) {
    let mut statement = std::pin::pin!(statement);
    let first = std::future::poll_fn(|cx| Poll::Ready(statement.as_mut().poll(cx))).await;
    let done = work();
    let output = match first {
        Poll::Ready(output) => output,
        Poll::Pending => statement.await,
    };
    (output, done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_unnests_one_array_per_column_and_binds_constants_once() {
        let mut insert = UnnestInsert::new("things");
        insert
            .column("id", "int4", vec![1_i32, 2])
            .nullable("note", "text", vec![Some("a".to_owned()), None], String::new())
            .same("kind", "text", "x");

        let statement = insert.statement("RETURNING id");

        assert_eq!(
            statement.sql,
            "INSERT INTO things (id, note, kind) SELECT u.id, CASE WHEN u.note_present THEN u.note END, \
             $4::text FROM UNNEST($1::int4[], $2::text[], $3::bool[]) AS u(id, note, note_present) RETURNING id"
        );
        let values = statement.values.map(|v| v.0).unwrap_or_default();
        assert_eq!(values.len(), 4);
        assert_eq!(values[2], Value::from(vec![true, false]));
        assert_eq!(values[1], Value::from(vec!["a".to_owned(), String::new()]));
    }
}

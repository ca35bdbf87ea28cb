//! JSON columns read as their text, then decoded once straight into the type they hold.
//!
//! SeaORM reads a JSON column as a `serde_json::Value` tree; decoding a campaign's variables
//! through that tree allocated a node per value and showed up as a tenth of `campaigns.list`'s
//! CPU (docs/benchmarks.md). [`JsonText`] borrows sqlx's JSON decoding to keep the column's bytes
//! as a [`RawValue`] (one string), and [`JsonText::decode`] parses them into the target type, so
//! a value that no longer decodes is still reported as a corrupt column rather than a driver error.

use sea_orm::TryGetableFromJson;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::{PersistenceError, Result};

/// The text of a JSON (PostgreSQL `jsonb`, SQLite text) column, unparsed.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct JsonText(Box<RawValue>);

impl TryGetableFromJson for JsonText {}

impl JsonText {
    /// The column's value as a `T`; `table`/`column` name it in the error when it does not fit.
    pub(crate) fn decode<T: DeserializeOwned>(&self, table: &'static str, column: &'static str) -> Result<T> {
        serde_json::from_str(self.0.get()).map_err(|_| PersistenceError::Corrupt { table, column })
    }
}

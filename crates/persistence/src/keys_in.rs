//! Lookups by many keys at once: `column = ANY($1)` with the keys bound as one array on
//! PostgreSQL, `column IN (?, ?, ...)` on SQLite (which has no arrays).
//!
//! An import matches every row of a sheet against the organization's patients by three keys. With
//! one bound parameter per key, each batch of 1,000 rows was a statement of 3,000 parameters that
//! sea-query built value by value and PostgreSQL parsed and planned anew (the statement text
//! changes with the number of keys); with arrays a batch is three parameters, the statement text
//! is the same for every batch (prepared once), and a batch can be as large as a bulk insert's.

use sea_orm::sea_query::extension::postgres::PgFunc;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ColumnTrait, DbBackend};

/// Keys per lookup statement on `backend`: PostgreSQL binds one array whatever its length;
/// SQLite binds a parameter per key and a statement may hold a few lookups of this many.
pub(crate) fn batch(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Postgres => crate::bulk::CHUNK,
        _ => 1000,
    }
}

/// `column` equals one of `keys`, as `backend` best binds it.
pub(crate) fn key_in<C, I, K>(backend: DbBackend, column: C, keys: I) -> SimpleExpr
where
    C: ColumnTrait,
    I: IntoIterator<Item = K>,
    K: Into<String>,
{
    let keys: Vec<String> = keys.into_iter().map(Into::into).collect();
    match backend {
        DbBackend::Postgres => Expr::col((column.entity_name(), column)).eq(PgFunc::any(Expr::val(keys))),
        _ => column.is_in(keys),
    }
}

/// `column` equals one of `ids`, as `backend` best binds it.
pub(crate) fn id_in<C>(backend: DbBackend, column: C, ids: &[uuid::Uuid]) -> SimpleExpr
where
    C: ColumnTrait,
{
    match backend {
        DbBackend::Postgres => {
            Expr::col((column.entity_name(), column)).eq(PgFunc::any(Expr::val(ids.to_vec())))
        }
        _ => column.is_in(ids.iter().copied()),
    }
}

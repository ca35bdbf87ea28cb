//! Limit/offset pagination.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, PaginatorTrait, QueryResult, QuerySelect, Select,
};

use crate::Result;

/// One page of a list. `limit` is capped at [`Page::MAX_LIMIT`] so no caller can ask for a whole
/// table at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u64,
    pub offset: u64,
}

impl Page {
    pub const MAX_LIMIT: u64 = 500;
    pub const DEFAULT_LIMIT: u64 = 50;

    pub fn new(limit: u64, offset: u64) -> Self {
        Page { limit, offset }
    }

    /// The limit actually applied: at least 1, at most [`Page::MAX_LIMIT`].
    pub fn effective_limit(&self) -> u64 {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }

    /// The rows of `query` on this page, sorted by `order`, and how many rows it matches in all
    /// (counted before the sort, which a count does not need).
    pub(crate) async fn fetch<E>(
        self,
        conn: &impl ConnectionTrait,
        query: Select<E>,
        order: impl FnOnce(Select<E>) -> Select<E>,
    ) -> Result<(Vec<E::Model>, u64)>
    where
        E: EntityTrait,
        E::Model: Sync,
    {
        let total = query.clone().count(conn).await?;
        let rows = order(query).limit(self.effective_limit()).offset(self.offset).all(conn).await?;
        Ok((rows, total))
    }

    /// Like [`Page::fetch`], in one round trip: each row carries the total (`COUNT(*) OVER ()`),
    /// and rows decode as `M` (the entity's columns, read as `M` wants them). Only for sets that
    /// stay small per organization: the window makes the database read every matching row, where
    /// the separate count of a large set can stop at an index.
    pub(crate) async fn fetch_counted<E, M>(
        self,
        conn: &impl ConnectionTrait,
        query: Select<E>,
        order: impl FnOnce(Select<E>) -> Select<E>,
    ) -> Result<(Vec<M>, u64)>
    where
        E: EntityTrait,
        E::Model: Sync,
        M: FromQueryResult + Send + Sync,
    {
        let rows = order(query.clone())
            .column_as(Expr::cust("COUNT(*) OVER ()"), Counted::<M>::TOTAL)
            .limit(self.effective_limit())
            .offset(self.offset)
            .into_model::<Counted<M>>()
            .all(conn)
            .await?;
        let total = match rows.first() {
            Some(first) => u64::try_from(first.total).unwrap_or(0),
            None if self.offset == 0 => 0,
            // Past the end: no row to carry the total.
            None => query.count(conn).await?,
        };
        Ok((rows.into_iter().map(|counted| counted.row).collect(), total))
    }
}

/// A row and the window count that came with it.
struct Counted<M> {
    row: M,
    total: i64,
}

impl<M> Counted<M> {
    const TOTAL: &'static str = "rivvi_total_rows";
}

impl<M: FromQueryResult> FromQueryResult for Counted<M> {
    fn from_query_result(res: &QueryResult, pre: &str) -> std::result::Result<Self, DbErr> {
        Ok(Counted { row: M::from_query_result(res, pre)?, total: res.try_get(pre, Self::TOTAL)? })
    }
}

impl Default for Page {
    fn default() -> Self {
        Page { limit: Self::DEFAULT_LIMIT, offset: 0 }
    }
}

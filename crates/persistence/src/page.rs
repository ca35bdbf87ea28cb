//! Limit/offset pagination.

use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, QuerySelect, Select};

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
}

impl Default for Page {
    fn default() -> Self {
        Page { limit: Self::DEFAULT_LIMIT, offset: 0 }
    }
}

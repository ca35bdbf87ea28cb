//! Plumbing every list procedure shares: limit/offset input, `hasMore`, counts on the wire, and
//! the check of a `from`/`to` time filter.

use chrono::{DateTime, Utc};
use rivvi_domain::ids::OrgId;
use rivvi_persistence::Page;

use super::error::{ApiError, ApiResult};

paged_input! {
    /// Limit/offset paging of the caller's organization's list; `limit` is 1..=100 (default 50).
    #[derive(Default)]
    pub struct Pagination {
        /// Operators only: act in this organization (the access is audited there).
        #[specta(optional)]
        pub org_id: Option<OrgId>,
    }
}

/// The page a list input's `limit` and `offset` ask for (a 400 naming `limit` when out of range).
pub fn page(limit: Option<u32>, offset: Option<u32>) -> ApiResult<Page> {
    let limit = limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 100"));
    }
    Ok(Page::new(limit.into(), offset.unwrap_or(0).into()))
}

/// Whether rows remain after a page that returned `returned` of `total`.
pub fn has_more(page: Page, returned: usize, total: u64) -> bool {
    page.offset + (returned as u64) < total
}

/// A count as the wire's `u32` (clamped; no list holds four billion rows).
pub fn count(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Checks a list filter's `from` (inclusive) / `to` (exclusive) pair: when both are given, `to`
/// must come after `from` (a 400 naming `to`).
pub fn check_time_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> ApiResult<()> {
    match (from, to) {
        (Some(from), Some(to)) if to <= from => Err(ApiError::invalid("to", "must be after from")),
        _ => Ok(()),
    }
}

//! The one clock reading repositories use for `created_at`/`updated_at`.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, truncated to microseconds: PostgreSQL keeps microseconds, so a record returned from an
/// insert equals the same record read back, on both databases.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

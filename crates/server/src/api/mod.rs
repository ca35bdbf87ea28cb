//! The typed RPC API: one module per namespace, merged here, keys mirroring the original tRPC names.
//!
//! A procedure file holds the namespace's wire types (inputs and outputs, exported to
//! `bindings/`), and for each procedure a thin handler: the least role with [`Ctx::require`], one
//! call into `crate::services`, and the mapping of the answer to the wire type. Errors of every
//! area become wire errors in [`error`] only. The table-driven test in
//! `tests/api/authorization.rs` checks every procedure against every role.
//!
//! # Layout
//! - [`context`]: [`Ctx`], built per request from the verified identity.
//! - [`input`]: [`Input`], so a field that fails to deserialize is a 400 naming it.
//! - [`error`]: [`ApiError`] and every `From` into it; the rspc and plain-HTTP forms.
//! - [`paging`]: limit/offset, `hasMore`, counts, time ranges.
//! - [`live`]: the subscriptions (`runs.events`, `organizations.events`, `admin.engine.health`)
//!   and how a refused one reaches the socket.
//! - one module per namespace: [`organizations`], [`admin`], [`campaigns`], [`audit`],
//!   [`patients`], [`runs`], [`calls`], [`dnc`], [`analytics`], [`campaign_requests`] (and its
//!   operators' half, mounted by `admin`), [`phone_numbers`] (mounted by `admin` and
//!   `organizations`).

/// The mount of one procedure: `.query("list", procedure!(list))` deserializes the input into
/// [`Input`], turns a bad field into a 400 naming it, and calls `list(&ctx, input)`.
macro_rules! procedure {
    ($handler:path) => {
        |t| {
            t(|ctx: $crate::api::Ctx, input: $crate::api::Input<_>| async move {
                Ok($handler(&ctx, input.parse()?).await?)
            })
        }
    };
}

/// A list procedure's input: the struct as written, plus the optional `limit` (1..=100, default
/// 50) and `offset` every list takes, and `page()` to check them. (`#[serde(flatten)]` of a
/// shared struct would lose `deny_unknown_fields`.)
macro_rules! paged_input {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($fields:tt)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Deserialize, specta::Type)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        // The fields pass through as plain tokens (a `ty` fragment would hide them from specta's
        // derive); each ends with a comma.
        pub struct $name {
            $($fields)*
            #[specta(optional)]
            pub limit: Option<u32>,
            #[specta(optional)]
            pub offset: Option<u32>,
        }

        impl $name {
            /// The page `limit` and `offset` ask for (a 400 naming `limit` when out of range).
            pub fn page(&self) -> $crate::api::ApiResult<rivvi_persistence::Page> {
                $crate::api::paging::page(self.limit, self.offset)
            }
        }
    };
}

/// A list procedure's answer: one page of `items` mapped to their wire type, the number of all
/// matching, and whether more follow; `Name::of(page, found, total, view)` builds it.
macro_rules! page_output {
    ($(#[$meta:meta])* pub struct $name:ident { $items:ident: $item:ident }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Serialize, specta::Type)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub $items: Vec<$item>,
            pub total: u32,
            pub has_more: bool,
        }

        impl $name {
            /// The page `found` (of `total` matching), each mapped to the wire by `view`.
            pub fn of<R>(
                page: rivvi_persistence::Page,
                found: Vec<R>,
                total: u64,
                view: impl FnMut(R) -> $item,
            ) -> Self {
                $name {
                    has_more: $crate::api::paging::has_more(page, found.len(), total),
                    $items: found.into_iter().map(view).collect(),
                    total: $crate::api::paging::count(total),
                }
            }
        }
    };
}

pub mod admin;
pub mod analytics;
pub mod audit;
pub mod calls;
pub mod campaign_requests;
pub mod campaigns;
pub mod context;
pub mod dnc;
pub mod error;
pub mod input;
pub mod live;
pub mod organizations;
pub mod paging;
pub mod patients;
pub mod phone_numbers;
pub mod runs;

use std::path::Path;
use std::sync::Arc;

pub use context::Ctx;
pub use error::{ApiError, ApiResult};
pub use input::Input;

/// The procedure router with every namespace mounted.
pub fn router() -> Arc<rspc::Router<Ctx>> {
    build().build().arced()
}

fn build() -> rspc::RouterBuilder<Ctx> {
    rspc::Router::<Ctx>::new()
        .merge("organizations.", organizations::mount())
        .merge("admin.", admin::mount())
        .merge("campaigns.", campaigns::mount())
        .merge("campaignRequests.", campaign_requests::mount())
        .merge("audit.", audit::mount())
        .merge("patients.", patients::mount())
        .merge("runs.", runs::mount())
        .merge("calls.", calls::mount())
        .merge("dnc.", dnc::mount())
        .merge("analytics.", analytics::mount())
}

/// Header of the generated bindings file.
const BINDINGS_HEADER: &str = "// Generated by `cargo run -p rivvi-server -- bindings` (or `just gen`). Do not edit.\n/* eslint-disable */";

/// Writes the TypeScript procedure map and every named input/output/error type to `path`.
pub fn export_bindings(path: &Path) -> anyhow::Result<()> {
    let router = build().config(rspc::Config::new().set_ts_bindings_header(BINDINGS_HEADER)).build();
    router.export_ts(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// `bindings/procedures.ts` must match the router; regenerate with `just gen` when this fails.
    #[test]
    fn committed_bindings_match_the_router() {
        let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bindings/procedures.ts");
        let fresh = tempfile::NamedTempFile::new().unwrap();
        super::export_bindings(fresh.path()).unwrap();
        let fresh = std::fs::read_to_string(fresh.path()).unwrap();
        let committed = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            fresh == committed,
            "bindings/procedures.ts is stale: run `just gen` (cargo run -p rivvi-server -- bindings)"
        );
    }
}

//! Replay protection for incoming webhooks: each `(source, idempotency key)` is recorded once.
//!
//! Record the event and apply it in one transaction: if applying fails, the record rolls back
//! with it and the provider's retry is treated as new; once committed, every replay is a no-op.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::entities::webhook_events;
use crate::time::now;
use crate::{PersistenceError, Result};

/// What [`record_once`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookReceipt {
    /// The stored event (for [`mark_processed`]): the new one, or the one recorded before.
    pub id: Uuid,
    /// `true` the first time this event arrives; `false` for a replay, which must change nothing.
    pub first_time: bool,
}

/// A stored webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEventRecord {
    pub id: Uuid,
    pub source: String,
    pub idempotency_key: String,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
}

/// Records the event unless it was recorded before (`INSERT .. ON CONFLICT DO NOTHING`, so two
/// concurrent deliveries cannot both be first).
#[tracing::instrument(level = "debug", skip_all, fields(source = %source), err(level = "debug"))]
pub async fn record_once(
    conn: &impl ConnectionTrait,
    source: &str,
    idempotency_key: &str,
) -> Result<WebhookReceipt> {
    let id = Uuid::now_v7();
    let row = webhook_events::ActiveModel {
        id: Set(id),
        source: Set(source.to_owned()),
        idempotency_key: Set(idempotency_key.to_owned()),
        received_at: Set(now()),
        processed_at: Set(None),
        outcome: Set(None),
    };
    let inserted = webhook_events::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([webhook_events::Column::Source, webhook_events::Column::IdempotencyKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    if inserted == 1 {
        return Ok(WebhookReceipt { id, first_time: true });
    }
    let earlier = find(conn, source, idempotency_key)
        .await?
        .ok_or_else(|| PersistenceError::not_found("webhook event", format!("{source}/{idempotency_key}")))?;
    Ok(WebhookReceipt { id: earlier.id, first_time: false })
}

/// Notes how the event was handled (`applied`, `ignored: unknown org`, ...): no PHI.
#[tracing::instrument(level = "debug", skip_all, fields(webhook_event_id = %id), err(level = "debug"))]
pub async fn mark_processed(conn: &impl ConnectionTrait, id: Uuid, outcome: &str) -> Result<()> {
    let updated = webhook_events::Entity::update_many()
        .col_expr(webhook_events::Column::ProcessedAt, Expr::value(now()))
        .col_expr(webhook_events::Column::Outcome, Expr::value(outcome))
        .filter(webhook_events::Column::Id.eq(id))
        .exec(conn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(PersistenceError::not_found("webhook event", id));
    }
    Ok(())
}

/// The stored event for this source and key, if any.
#[tracing::instrument(level = "debug", skip_all, fields(source = %source), err(level = "debug"))]
pub async fn find(
    conn: &impl ConnectionTrait,
    source: &str,
    idempotency_key: &str,
) -> Result<Option<WebhookEventRecord>> {
    let found = webhook_events::Entity::find()
        .filter(webhook_events::Column::Source.eq(source))
        .filter(webhook_events::Column::IdempotencyKey.eq(idempotency_key))
        .one(conn)
        .await?;
    Ok(found.map(|row| WebhookEventRecord {
        id: row.id,
        source: row.source,
        idempotency_key: row.idempotency_key,
        received_at: row.received_at,
        processed_at: row.processed_at,
        outcome: row.outcome,
    }))
}

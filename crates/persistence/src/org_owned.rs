//! The organization scope as part of a query's type rather than a filter each query repeats.
//!
//! Every entity with an `org_id` column is [`OrgOwned`]; a scoped query of it says
//! `.in_org(scope)` ([`InOrg`]), which adds `WHERE <table>.org_id = <scope>`. The column comes from
//! the entity the query is built on, so it cannot name another table's `org_id` by mistake. A
//! condition on some other table (a subquery) uses [`org_filter`], naming that entity.

use sea_orm::prelude::Uuid;
use sea_orm::sea_query::{Asterisk, Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DeleteMany, EntityTrait, QueryFilter, QuerySelect, Select, SelectTwo,
    UpdateMany,
};

use crate::entities::{
    audit_log, calls, campaign_requests, campaigns, do_not_call, managed_agents, memberships, patient_phones,
    patients, phone_numbers, prompt_variations, run_rows, runs, uploads,
};
use crate::{OrgScope, PersistenceError, Result};

/// An entity whose rows belong to one organization.
pub(crate) trait OrgOwned: EntityTrait {
    fn org_column() -> Self::Column;
    /// The `uuid` primary key.
    fn id_column() -> Self::Column;
}

macro_rules! org_owned {
    ($($entity:ident),+ $(,)?) => {
        $(
            impl OrgOwned for $entity::Entity {
                fn org_column() -> Self::Column {
                    $entity::Column::OrgId
                }
                fn id_column() -> Self::Column {
                    $entity::Column::Id
                }
            }
        )+
    };
}

org_owned!(
    audit_log,
    calls,
    campaign_requests,
    campaigns,
    do_not_call,
    managed_agents,
    memberships,
    patient_phones,
    patients,
    phone_numbers,
    prompt_variations,
    run_rows,
    runs,
    uploads
);

/// `<E's table>.org_id = <scope>`, for a condition that is not on the query's own entity.
pub(crate) fn org_filter<E: OrgOwned>(scope: &OrgScope) -> SimpleExpr {
    E::org_column().eq(scope.org_id().as_uuid())
}

/// Restricts a query to the rows of one organization.
pub(crate) trait InOrg {
    fn in_org(self, scope: &OrgScope) -> Self;
}

impl<E: OrgOwned> InOrg for Select<E> {
    fn in_org(self, scope: &OrgScope) -> Self {
        self.filter(org_filter::<E>(scope))
    }
}

/// Scoped by the base entity; the related entity is reached through it.
impl<E: OrgOwned, F: EntityTrait> InOrg for SelectTwo<E, F> {
    fn in_org(self, scope: &OrgScope) -> Self {
        self.filter(org_filter::<E>(scope))
    }
}

impl<E: OrgOwned> InOrg for UpdateMany<E> {
    fn in_org(self, scope: &OrgScope) -> Self {
        self.filter(org_filter::<E>(scope))
    }
}

impl<E: OrgOwned> InOrg for DeleteMany<E> {
    fn in_org(self, scope: &OrgScope) -> Self {
        self.filter(org_filter::<E>(scope))
    }
}

/// Applies `update` to the organization's row `id` of `E`. NotFound, naming `entity`, when the
/// organization has no such row: a row of another organization is never touched.
pub(crate) async fn update_row<E: OrgOwned>(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    update: UpdateMany<E>,
    entity: &'static str,
    id: Uuid,
) -> Result<()> {
    let updated = update.filter(E::id_column().eq(id)).in_org(scope).exec(conn).await?;
    if updated.rows_affected == 0 {
        return Err(PersistenceError::not_found(entity, id));
    }
    Ok(())
}

/// How many of the organization's rows of `E` match `condition`, per stored value of `column`
/// (`None` for NULL); values without rows are absent. The caller parses the values.
pub(crate) async fn count_per_value<E: OrgOwned>(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    condition: SimpleExpr,
    column: E::Column,
) -> Result<Vec<(Option<String>, u64)>> {
    let rows: Vec<(Option<String>, i64)> = E::find()
        .select_only()
        .column(column)
        .column_as(Expr::col(Asterisk).count(), "count")
        .in_org(scope)
        .filter(condition)
        .group_by(column)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|(value, count)| (value, u64::try_from(count).unwrap_or(0))).collect())
}

#[cfg(test)]
mod tests {
    use rivvi_domain::ids::OrgId;
    use sea_orm::sea_query::{Expr, Query};
    use sea_orm::{DbBackend, QueryTrait};

    use super::*;
    use crate::entities::users;

    fn scope() -> OrgScope {
        OrgScope::for_verified_org(OrgId::new())
    }

    fn expected(table: &str, scope: &OrgScope) -> String {
        format!(r#""{table}"."org_id" = '{}'"#, scope.org_id().as_uuid())
    }

    #[test]
    fn select_is_filtered_by_the_scope() {
        let scope = scope();
        let sql = calls::Entity::find().in_org(&scope).build(DbBackend::Sqlite).to_string();
        assert!(sql.contains(&expected("calls", &scope)), "{sql}");
    }

    #[test]
    fn select_two_is_filtered_on_its_base_entity() {
        let scope = scope();
        let sql = memberships::Entity::find()
            .find_also_related(users::Entity)
            .in_org(&scope)
            .build(DbBackend::Sqlite)
            .to_string();
        assert!(sql.contains(&expected("memberships", &scope)), "{sql}");
    }

    #[test]
    fn update_many_is_filtered_by_the_scope() {
        let scope = scope();
        let sql = runs::Entity::update_many()
            .col_expr(runs::Column::Status, Expr::value("cancelled"))
            .in_org(&scope)
            .build(DbBackend::Sqlite)
            .to_string();
        assert!(sql.starts_with("UPDATE"), "{sql}");
        assert!(sql.contains(&expected("runs", &scope)), "{sql}");
    }

    #[test]
    fn delete_many_is_filtered_by_the_scope() {
        let scope = scope();
        let sql = do_not_call::Entity::delete_many().in_org(&scope).build(DbBackend::Sqlite).to_string();
        assert!(sql.starts_with("DELETE"), "{sql}");
        assert!(sql.contains(&expected("do_not_call", &scope)), "{sql}");
    }

    #[test]
    fn org_filter_works_in_a_plain_subquery() {
        let scope = scope();
        let subquery = Query::select()
            .column(runs::Column::Id)
            .from(runs::Entity)
            .and_where(org_filter::<runs::Entity>(&scope))
            .to_owned();
        let sql = DbBackend::Sqlite.build(&subquery).to_string();
        assert!(sql.contains(&expected("runs", &scope)), "{sql}");
    }
}

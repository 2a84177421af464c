//! Coupon templates and their two quota counters.

use crate::backend::Session;
use crate::error::{StoreError, StoreResult};
use crate::on_backend;
use crate::scope_sql::{ScopeColumns, push_page, push_scope};
use crate::timestamp::Ts;
use huiyuan_domain::auth::ScopePredicate;
use huiyuan_domain::coupons::{CouponTemplate, TemplateInput, TemplateStatus};
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_domain::paging::{Page, PageRequest};
use sqlx::QueryBuilder;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

pub const TEMPLATE_COLUMNS: ScopeColumns = ScopeColumns {
    format: Some("format_id"),
    store: Some("store_id"),
    guide: None,
};

/// A template as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTemplate {
    pub template: CouponTemplate,
    pub format_id: Option<Uuid>,
    pub store_id: Option<Uuid>,
    pub issued_count: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct TemplateRow {
    id: Uuid,
    spec: Json<TemplateInput>,
    status: String,
    format_id: Option<Uuid>,
    store_id: Option<Uuid>,
    issued_count: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<TemplateRow> for StoredTemplate {
    type Error = StoreError;

    fn try_from(row: TemplateRow) -> Result<Self, Self::Error> {
        let status = TemplateStatus::parse("status", &row.status)
            .map_err(|_| StoreError::Corrupt("coupon_templates.status"))?;
        Ok(Self {
            template: CouponTemplate {
                id: row.id,
                spec: row.spec.0,
                status,
            },
            format_id: row.format_id,
            store_id: row.store_id,
            issued_count: row.issued_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const TEMPLATE_SELECT: &str = "SELECT id, spec, status, format_id, store_id, issued_count, created_at, updated_at \
     FROM coupon_templates WHERE tenant_id = ";

pub async fn insert_template(
    s: &mut Session,
    tenant: TenantId,
    stored: &StoredTemplate,
) -> StoreResult<()> {
    let t = &stored.template;
    let auto = &t.spec.auto_issue;
    on_backend!(s, c => sqlx::query(
        "INSERT INTO coupon_templates (tenant_id, id, spec, status, kind, format_id, store_id, issued_count, total_quota, \
         on_registration, on_tier_upgrade, on_birthday, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11, $12, $13)")
        .bind(tenant.0).bind(t.id).bind(Json(&t.spec)).bind(t.status.as_str()).bind(t.spec.benefit.kind().as_str())
        .bind(stored.format_id).bind(stored.store_id).bind(t.spec.total_quota)
        .bind(auto.on_registration).bind(!auto.on_tier_upgrade_to.is_empty()).bind(auto.on_birthday)
        .bind(Ts(stored.created_at)).bind(Ts(stored.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Replaces a template's configuration and status (never its issue count); `false` when the
/// new total quota is below what was already issued, or there is no such template.
pub async fn update_template(
    s: &mut Session,
    tenant: TenantId,
    stored: &StoredTemplate,
) -> StoreResult<bool> {
    let t = &stored.template;
    let auto = &t.spec.auto_issue;
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE coupon_templates SET spec = $3, status = $4, kind = $5, format_id = $6, store_id = $7, total_quota = $8, \
         on_registration = $9, on_tier_upgrade = $10, on_birthday = $11, updated_at = $12 \
         WHERE tenant_id = $1 AND id = $2 AND ($8 IS NULL OR issued_count <= $8)")
        .bind(tenant.0).bind(t.id).bind(Json(&t.spec)).bind(t.status.as_str()).bind(t.spec.benefit.kind().as_str())
        .bind(stored.format_id).bind(stored.store_id).bind(t.spec.total_quota)
        .bind(auto.on_registration).bind(!auto.on_tier_upgrade_to.is_empty()).bind(auto.on_birthday)
        .bind(Ts(stored.updated_at))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

pub async fn get_template(
    s: &mut Session,
    tenant: TenantId,
    id: Uuid,
) -> StoreResult<Option<StoredTemplate>> {
    let row: Option<TemplateRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(TEMPLATE_SELECT);
        query.push_bind(tenant.0).push(" AND id = ").push_bind(id);
        query.build_query_as().fetch_optional(&mut *c).await
    })?;
    row.map(StoredTemplate::try_from).transpose()
}

/// Templates the caller may see (`predicate` over [`TEMPLATE_COLUMNS`]), optionally of one
/// status, by id.
pub async fn list_templates(
    s: &mut Session,
    tenant: TenantId,
    predicate: &ScopePredicate,
    status: Option<TemplateStatus>,
    page: PageRequest,
) -> StoreResult<Page<StoredTemplate>> {
    let rows: Vec<TemplateRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(TEMPLATE_SELECT);
        query.push_bind(tenant.0);
        if let Some(status) = status {
            query.push(" AND status = ").push_bind(status.as_str());
        }
        push_scope(&mut query, predicate, &TEMPLATE_COLUMNS);
        push_page(&mut query, page);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    let rows = rows
        .into_iter()
        .map(StoredTemplate::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(rows, page, |row| row.template.id))
}

/// The events that issue coupons on their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoRule {
    Registration,
    TierUpgrade,
    Birthday,
}

/// Most active templates one event issues; more is a configuration mistake.
pub const MAX_AUTO_TEMPLATES: i64 = 50;

/// Active templates that `rule` issues, by id.
pub async fn auto_templates(
    s: &mut Session,
    tenant: TenantId,
    rule: AutoRule,
) -> StoreResult<Vec<StoredTemplate>> {
    let column = match rule {
        AutoRule::Registration => "on_registration",
        AutoRule::TierUpgrade => "on_tier_upgrade",
        AutoRule::Birthday => "on_birthday",
    };
    let rows: Vec<TemplateRow> = on_backend!(s, c => {
        let mut query = QueryBuilder::new(TEMPLATE_SELECT);
        query.push_bind(tenant.0).push(" AND status = 'active' AND ").push(column).push(" = ").push_bind(true);
        query.push(" ORDER BY id LIMIT ").push_bind(MAX_AUTO_TEMPLATES);
        query.build_query_as().fetch_all(&mut *c).await
    })?;
    rows.into_iter().map(StoredTemplate::try_from).collect()
}

/// Counts one more coupon of the template against its total quota; `false` (nothing counted)
/// when the quota is used up or the template is not active.
pub async fn take_total_quota(
    s: &mut Session,
    tenant: TenantId,
    template: Uuid,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE coupon_templates SET issued_count = issued_count + 1 WHERE tenant_id = $1 AND id = $2 \
         AND status = 'active' AND (total_quota IS NULL OR issued_count < total_quota)")
        .bind(tenant.0).bind(template).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// Counts one more coupon of the template for the member; `false` (nothing counted) when the
/// member already holds `quota`.
pub async fn take_member_quota(
    s: &mut Session,
    tenant: TenantId,
    template: Uuid,
    member: MemberId,
    quota: i64,
) -> StoreResult<bool> {
    let counted = on_backend!(s, c => sqlx::query(
        "INSERT INTO coupon_member_quotas (tenant_id, template_id, member_id, issued) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (tenant_id, template_id, member_id) DO UPDATE SET issued = coupon_member_quotas.issued + 1 \
         WHERE coupon_member_quotas.issued < $4")
        .bind(tenant.0).bind(template).bind(member.0).bind(quota)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(counted == 1)
}

/// Undoes [`take_total_quota`] (and [`take_member_quota`] for `member`) for a coupon that was
/// not issued after all (another issue under the same natural key won).
pub async fn give_back_quota(
    s: &mut Session,
    tenant: TenantId,
    template: Uuid,
    member: Option<MemberId>,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "UPDATE coupon_templates SET issued_count = issued_count - 1 WHERE tenant_id = $1 AND id = $2 AND issued_count > 0")
        .bind(tenant.0).bind(template).execute(&mut *c).await.map(|_| ()))?;
    if let Some(member) = member {
        on_backend!(s, c => sqlx::query(
            "UPDATE coupon_member_quotas SET issued = issued - 1 WHERE tenant_id = $1 AND template_id = $2 \
             AND member_id = $3 AND issued > 0")
            .bind(tenant.0).bind(template).bind(member.0).execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// How many coupons of the template the member was issued.
pub async fn member_issued(
    s: &mut Session,
    tenant: TenantId,
    template: Uuid,
    member: MemberId,
) -> StoreResult<i64> {
    let issued: Option<i64> = on_backend!(s, c => sqlx::query_scalar(
        "SELECT issued FROM coupon_member_quotas WHERE tenant_id = $1 AND template_id = $2 AND member_id = $3")
        .bind(tenant.0).bind(template).bind(member.0).fetch_optional(&mut *c).await)?;
    Ok(issued.unwrap_or(0))
}

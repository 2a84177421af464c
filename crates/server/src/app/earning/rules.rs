//! The earning rules (积分规则) the engine evaluates every order against: creating, editing,
//! pausing, reading and listing them. A rule is validated as a whole on every save; at most
//! [`MAX_ENABLED_RULES`] are enabled at once, so evaluating an order stays bounded.

use crate::app::error::{ApiError, ApiResult};
use crate::app::mutation::Mutation;
use huiyuan_domain::earning::{Caps, Conditions, EarningRule, EarningRuleInput, Effect, Stacking};
use huiyuan_domain::ids::TenantId;
use huiyuan_domain::paging::{Page, PageRequest};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::Session;
use huiyuan_store::earning_rules::{self, MAX_ENABLED_RULES, StoredRule};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// A change of a rule: fields given replace the stored ones, and the result is validated as a
/// whole.
#[derive(Default)]
pub struct RulePatch {
    pub name: Option<String>,
    pub priority: Option<i32>,
    /// `false` pauses the rule; `true` resumes it.
    pub enabled: Option<bool>,
    pub conditions: Option<Conditions>,
    pub effect: Option<Effect>,
    pub caps: Option<Caps>,
    pub stacking: Option<Stacking>,
    pub active_from: Option<OffsetDateTime>,
    pub active_until: Option<OffsetDateTime>,
}

/// A new rule, validated, with its new id.
pub fn parse_new(input: EarningRuleInput) -> Result<EarningRule, FieldErrors> {
    input.into_rule(Uuid::now_v7())
}

/// The tenant's earning rules, by id.
pub async fn list(
    session: &mut Session,
    tenant: TenantId,
    page: PageRequest,
) -> ApiResult<Page<StoredRule>> {
    Ok(earning_rules::list_rules(session, tenant, page).await?)
}

/// The earning rule `id`.
pub async fn get(session: &mut Session, tenant: TenantId, id: Uuid) -> ApiResult<StoredRule> {
    earning_rules::get_rule(session, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("earning rule"))
}

/// A 422 when enabling one more rule would pass [`MAX_ENABLED_RULES`].
async fn check_enabled_room(m: &mut Mutation) -> ApiResult<()> {
    if earning_rules::count_enabled(&mut m.session, m.tenant).await? >= MAX_ENABLED_RULES {
        return Err(FieldError::new(
            "enabled",
            "too_many",
            format!("at most {MAX_ENABLED_RULES} rules can be enabled"),
        )
        .into());
    }
    Ok(())
}

/// Saves a new rule, audited as `earning_rule.created`.
pub async fn create(m: &mut Mutation, rule: EarningRule) -> ApiResult<StoredRule> {
    if rule.enabled {
        check_enabled_room(m).await?;
    }
    let stored = StoredRule {
        rule,
        created_at: m.now,
        updated_at: m.now,
    };
    m.config_changed();
    earning_rules::insert_rule(&mut m.session, m.tenant, &stored).await?;
    m.audit(
        "earning_rule.created",
        "earning_rule",
        stored.rule.id,
        json!({ "rule": stored.rule }),
    )
    .await?;
    Ok(stored)
}

/// Applies `patch` to the rule `id` and saves the result when it is valid as a whole (422 with
/// every reason), audited as `earning_rule.updated`. Orders already accrued keep what they earned.
pub async fn change(m: &mut Mutation, id: Uuid, patch: RulePatch) -> ApiResult<StoredRule> {
    let stored = earning_rules::get_rule(&mut m.session, m.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("earning rule"))?;
    let before = stored.rule.clone();
    let input = EarningRuleInput {
        name: patch.name.unwrap_or(before.name.clone()),
        priority: patch.priority.unwrap_or(before.priority),
        enabled: patch.enabled.unwrap_or(before.enabled),
        conditions: patch.conditions.unwrap_or(before.conditions.clone()),
        effect: patch.effect.unwrap_or(before.effect),
        caps: patch.caps.unwrap_or(before.caps),
        stacking: patch.stacking.unwrap_or(before.stacking.clone()),
        active_from: patch.active_from.or(before.active_from),
        active_until: patch.active_until.or(before.active_until),
    };
    let rule = input.into_rule(id)?;
    if rule.enabled && !before.enabled {
        check_enabled_room(m).await?;
    }
    let updated = StoredRule {
        rule,
        created_at: stored.created_at,
        updated_at: m.now,
    };
    m.config_changed();
    if !earning_rules::update_rule(&mut m.session, m.tenant, &updated).await? {
        return Err(ApiError::not_found("earning rule"));
    }
    m.audit(
        "earning_rule.updated",
        "earning_rule",
        id,
        json!({ "before": before, "after": updated.rule }),
    )
    .await?;
    Ok(updated)
}

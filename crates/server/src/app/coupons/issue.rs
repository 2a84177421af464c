//! Issuing coupons. [`issue_in_tx`] is the one way a coupon comes to exist: the manual issue
//! endpoint, the rule-based sources (registration, tier upgrade, birthday) and other modules
//! (the points mall, journeys, checkout) all call it inside their own transaction.
//!
//! Quotas are guarded counters (see `huiyuan_store::coupons`): the total quota and the member's
//! quota are each taken with one conditional statement, so concurrent issues never pass them. A
//! natural key (`registration:<template>:<member>`, `mall:<redemption>` …) is unique per tenant:
//! a retry finds the coupon already issued, and if two issues race on one key the loser gives
//! its quota back and answers the winner's coupon. None of these steps fails a statement, so an
//! error never poisons the caller's transaction.

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::mutation::Mutation;
use huiyuan_domain::coupons::calendar::end_of_local_day;
use huiyuan_domain::coupons::{CouponCode, CouponState, IssueSource, TemplateStatus, code};
use huiyuan_domain::identity::MemberStatus;
use huiyuan_domain::ids::MemberId;
use huiyuan_domain::validation::FieldError;
use huiyuan_store::coupons::{self as store, StoredCoupon};
use huiyuan_store::members;
use rand::RngCore;
use serde_json::json;
use uuid::Uuid;

/// Attempts at a fresh code before giving up (a collision at 80 bits is already vanishingly rare).
const CODE_ATTEMPTS: usize = 4;

/// What [`issue_in_tx`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Issued {
    /// A new coupon.
    New(StoredCoupon),
    /// The coupon issued earlier under the same natural key.
    Existing(StoredCoupon),
}

impl Issued {
    pub fn coupon(&self) -> &StoredCoupon {
        match self {
            Issued::New(coupon) | Issued::Existing(coupon) => coupon,
        }
    }
}

/// A fresh code of 80 random bits.
pub fn new_code() -> CouponCode {
    let mut bytes = [0u8; code::RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    CouponCode::from_random(bytes)
}

fn quota_exhausted(which: &str) -> ApiError {
    ApiError {
        errors: vec![FieldError::new("template_id", "quota_exhausted", which)],
        ..ApiError::with_detail(ErrorCode::QuotaExhausted, which)
    }
}

/// Issues one coupon of `template_id` to `member_id` inside the caller's open mutation, with an
/// audit entry. With a `natural_key` (unique per tenant) a second call answers
/// [`Issued::Existing`] instead of issuing again, so retries never double-issue.
///
/// Errors: 404 when the template does not exist; 409 `quota_exhausted` when the total or the
/// member's quota is used up; 409 `conflict` when the template is archived or its fixed validity
/// has ended; 422 when the member does not exist or is not active. The member id must be the
/// surviving member (resolve merges first); the caller checks permissions and scopes.
pub async fn issue_in_tx(
    m: &mut Mutation,
    template_id: Uuid,
    member_id: MemberId,
    source: IssueSource,
    natural_key: Option<&str>,
) -> ApiResult<Issued> {
    if let Some(key) = natural_key
        && let Some(existing) = store::coupon_by_natural_key(&mut m.session, m.tenant, key).await?
    {
        return Ok(Issued::Existing(existing));
    }
    let template = store::get_template(&mut m.session, m.tenant, template_id)
        .await?
        .ok_or_else(|| ApiError::not_found("coupon template"))?
        .template;
    if template.status != TemplateStatus::Active {
        return Err(ApiError {
            errors: vec![FieldError::new(
                "template_id",
                "archived",
                "the template is archived",
            )],
            ..ApiError::with_detail(ErrorCode::Conflict, "the template is archived")
        });
    }
    let member = members::get_member(&mut m.session, m.tenant, member_id).await?;
    if member.is_none_or(|row| row.status != MemberStatus::Active.as_str()) {
        return Err(FieldError::new("member_id", "not_found", "no such active member").into());
    }
    let tz = crate::app::tenancy::zone::tenant_zone(&mut m.session, m.tenant).await?;
    let (starts_at, expires_at) = template
        .spec
        .window_at(m.now, |at, days| end_of_local_day(at, days, &tz))
        .ok_or_else(|| ApiError::internal("validity out of range"))?;
    if expires_at <= m.now {
        return Err(ApiError {
            errors: vec![FieldError::new(
                "template_id",
                "expired",
                "the template's validity has ended",
            )],
            ..ApiError::with_detail(ErrorCode::Conflict, "the template's validity has ended")
        });
    }
    if !store::take_total_quota(&mut m.session, m.tenant, template_id).await? {
        return Err(quota_exhausted("the template's total quota is used up"));
    }
    if let Some(quota) = template.spec.per_member_quota
        && !store::take_member_quota(
            &mut m.session,
            m.tenant,
            template_id,
            member_id,
            i64::from(quota),
        )
        .await?
    {
        give_back(m, template_id, None).await?;
        return Err(quota_exhausted(
            "the member's quota of this template is used up",
        ));
    }
    let issued_by = m.actor.actor_id();
    for _ in 0..CODE_ATTEMPTS {
        let coupon = StoredCoupon {
            id: Uuid::now_v7(),
            member_id,
            code: new_code().as_str().to_owned(),
            template_id,
            state: CouponState::Available.as_str().to_owned(),
            starts_at,
            expires_at,
            source: source.as_str().to_owned(),
            natural_key: natural_key.map(str::to_owned),
            issuing_format_id: template.spec.issuing_format_id.map(|id| id.0),
            issued_by,
            redemption_id: None,
            used_at: None,
            created_at: m.now,
            updated_at: m.now,
        };
        if store::insert_coupon(&mut m.session, m.tenant, &coupon).await? {
            m.audit(
                "coupon.issued",
                "coupon",
                coupon.id,
                json!({ "template_id": template_id, "member_id": member_id, "source": source,
                        "natural_key": natural_key, "expires_at": coupon.expires_at.unix_timestamp() }),
            )
            .await?;
            return Ok(Issued::New(coupon));
        }
        // Taken: by a concurrent issue under the same natural key, or (rarely) the same code.
        if let Some(key) = natural_key
            && let Some(winner) =
                store::coupon_by_natural_key(&mut m.session, m.tenant, key).await?
        {
            let member_quota = template.spec.per_member_quota.map(|_| member_id);
            give_back(m, template_id, member_quota).await?;
            return Ok(Issued::Existing(winner));
        }
    }
    Err(ApiError::internal(
        "no free coupon code after several attempts",
    ))
}

/// Returns quota taken for a coupon that was not issued after all.
async fn give_back(m: &mut Mutation, template: Uuid, member: Option<MemberId>) -> ApiResult<()> {
    store::give_back_quota(&mut m.session, m.tenant, template, member).await?;
    Ok(())
}

/// Whether an issue error means "this member gets no coupon of this template now" rather than a
/// fault: rule-based sources skip such templates instead of failing the event that triggered them.
pub fn is_refusal(error: &ApiError) -> bool {
    matches!(
        error.code,
        ErrorCode::QuotaExhausted | ErrorCode::Conflict | ErrorCode::ValidationFailed
    ) && error.cause.is_none()
}

/// Most members one manual issue names.
pub const MAX_ISSUE_TARGETS: usize = 1_000;

/// The body of `POST /coupons/issue`.
#[derive(Clone, Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueInput {
    pub template_id: Uuid,
    /// The members to issue one coupon each to (1 to 1000).
    #[serde(default)]
    pub member_ids: Vec<MemberId>,
    /// A segment to issue to. Segments are not available yet: naming one is refused with 422.
    pub segment_id: Option<Uuid>,
    /// The caller's reference for this issue (a campaign or batch id, 1–64 characters): issuing
    /// again with the same reference never gives a member a second coupon.
    pub reference: Option<String>,
}

impl IssueInput {
    fn check(&self) -> Result<Vec<MemberId>, crate::app::error::ApiError> {
        let mut errors = huiyuan_domain::validation::FieldErrors::new();
        if self.segment_id.is_some() {
            errors.push(FieldError::new(
                "segment_id",
                "unsupported",
                "issuing to a segment is not available yet; name the members in member_ids",
            ));
        }
        if self.member_ids.is_empty() && self.segment_id.is_none() {
            errors.push(FieldError::new(
                "member_ids",
                "required",
                "name at least one member",
            ));
        }
        if self.member_ids.len() > MAX_ISSUE_TARGETS {
            errors.push(FieldError::new(
                "member_ids",
                "too_many",
                format!("at most {MAX_ISSUE_TARGETS} members per request"),
            ));
        }
        if let Some(reference) = &self.reference
            && (reference.trim().is_empty()
                || reference.chars().count() > 64
                || reference.chars().any(char::is_control))
        {
            errors.push(FieldError::new(
                "reference",
                "invalid_format",
                "1 to 64 printable characters",
            ));
        }
        errors.finish()?;
        let mut unique = Vec::with_capacity(self.member_ids.len());
        for id in &self.member_ids {
            if !unique.contains(id) {
                unique.push(*id);
            }
        }
        Ok(unique)
    }
}

/// Issues by hand (source `manual`) to every named member, all or nothing: the caller must be
/// allowed to change records where the template sits and to see each member. Answers the
/// coupons, each member's once.
pub async fn issue_manual(
    m: &mut Mutation,
    caller: &huiyuan_domain::auth::Principal,
    input: IssueInput,
) -> ApiResult<Vec<StoredCoupon>> {
    use huiyuan_domain::auth::{Access, RecordClass};
    let targets = input.check()?;
    let template = crate::app::access::visible(
        caller,
        store::get_template(&mut m.session, m.tenant, input.template_id).await?,
        RecordClass::Org,
        crate::app::coupons::templates::stored_placement,
        "coupon template",
    )?;
    crate::app::access::writable(
        caller,
        RecordClass::Org,
        &crate::app::coupons::templates::stored_placement(&template),
    )?;
    let mut coupons = Vec::with_capacity(targets.len());
    for (index, target) in targets.iter().enumerate() {
        let found = crate::app::identity::view::resolve(&mut m.session, m.tenant, *target).await?;
        let member = found
            .map(|(row, _)| row)
            .filter(|row| {
                caller.permits(
                    Access::Read,
                    RecordClass::MemberData,
                    &crate::app::identity::view::placement(row),
                )
            })
            .ok_or_else(|| {
                FieldError::new(
                    format!("member_ids[{index}]"),
                    "not_found",
                    "no such member",
                )
            })?;
        let key = input.reference.as_deref().map(|reference| {
            format!(
                "manual:{}:{}:{}",
                input.template_id,
                reference.trim(),
                member.id
            )
        });
        let issued = issue_in_tx(
            m,
            input.template_id,
            member.id,
            IssueSource::Manual,
            key.as_deref(),
        )
        .await
        .map_err(|mut error| {
            for field_error in &mut error.errors {
                if field_error.field == "member_id" {
                    field_error.field = format!("member_ids[{index}]");
                }
            }
            error
        })?;
        coupons.push(issued.coupon().clone());
    }
    Ok(coupons)
}

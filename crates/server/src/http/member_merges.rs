//! `/api/v1/members/{id}/merge` and `/unmerge`: merging a duplicate member into the one that
//! survives, and undoing that merge.

use crate::app::access::visible_member;
use crate::app::error::{ApiError, ApiResult};
use crate::app::identity::merge::{self, Merged, Unmerged};
use crate::app::identity::view::{MemberView, member_view, resolve};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, Command};
use crate::http::respond::Respond;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Permission};
use huiyuan_domain::ids::MemberId;
use huiyuan_domain::validation::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(merge_member))
        .routes(routes!(unmerge_member))
}

/// `POST /members/{id}/merge`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeMembers {
    /// The duplicate to merge into `{id}`; it becomes an alias of `{id}`.
    pub source_member_id: MemberId,
}

/// What a merge did, and the surviving member as it is now.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeResult {
    /// Names the merge for `POST /members/{id}/unmerge`.
    pub merge_id: Uuid,
    pub source_member_id: MemberId,
    /// Rows moved to the survivor, per member-owned table.
    pub moved: BTreeMap<String, usize>,
    /// Rows left with the source because the survivor already holds their like, per table.
    pub kept: BTreeMap<String, i64>,
    /// Profile fields the survivor took from the source (it had none of its own).
    pub filled_fields: Vec<String>,
    pub member: MemberView,
}

/// `POST /members/{id}/unmerge`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnmergeMembers {
    /// The merge to undo; by default the latest merge into `{id}` still in effect.
    pub merge_id: Option<Uuid>,
}

/// What undoing a merge did, and both members as they are now.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnmergeResult {
    pub merge_id: Uuid,
    /// Rows moved back to the source, per member-owned table.
    pub moved_back: BTreeMap<String, u64>,
    /// Profile fields the merge had filled that the survivor gave back (fields changed since the
    /// merge stay as they are).
    pub restored_fields: Vec<String>,
    pub survivor: MemberView,
    pub source: MemberView,
}

/// Merge the source member into `{id}` in one transaction: its identifiers, consents and every
/// other member-owned record move to `{id}`, fields empty on `{id}` are filled from the source,
/// and the source becomes an alias that resolves to `{id}`. Undo with `POST /members/{id}/unmerge`.
#[utoipa::path(post, path = "/members/{id}/merge", tag = "members", request_body = MergeMembers,
    params(("id" = Uuid, Path, description = "The member that survives"), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "Merged: the surviving member and what moved", body = MergeResult),
        (status = 403, description = "Missing `members:write`, or a member outside the caller's data scope", body = crate::http::problem::Problem),
        (status = 404, description = "Either member not found", body = crate::http::problem::Problem),
        (status = 409, description = "Either member is not active (already merged, erased)", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input, or a member merged into itself", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn merge_member(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<MemberId>,
    command: Command<MergeMembers>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::MembersWrite)?;
    let source_id = body.source_member_id;
    if source_id == id {
        return Err(FieldError::new(
            "source_member_id",
            "same_member",
            "a member cannot be merged into itself",
        )
        .into());
    }
    let reveal = caller.permissions.contains(Permission::PiiRead);
    let (vault, scope) = (app.vault.clone(), caller.clone());
    let sections = app.profile_sections;
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let survivor = visible_member(&mut m.session, &scope, id, Access::Write).await?;
            let source = visible_member(&mut m.session, &scope, source_id, Access::Write).await?;
            let Merged {
                merge_id,
                survivor_id,
                moved,
                kept,
                filled,
                ..
            } = merge::merge(m, &vault, &scope, survivor, source).await?;
            let member = current(m, &vault, sections, survivor_id, reveal).await?;
            Ok(MergeResult {
                merge_id,
                source_member_id: source_id,
                moved,
                kept,
                filled_fields: filled.into_iter().map(str::to_owned).collect(),
                member,
            })
        })
    })
    .await
}

/// Undo a merge into `{id}`: the rows it moved go back to the source, the fields it filled are
/// emptied again (unless changed since), and the source is an active member again. Merges into
/// one member are undone latest first.
#[utoipa::path(post, path = "/members/{id}/unmerge", tag = "members", request_body = UnmergeMembers,
    params(("id" = Uuid, Path, description = "The member that survived the merge"), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "Undone: both members as they are now", body = UnmergeResult),
        (status = 403, description = "Missing `members:write`, or a member outside the caller's data scope", body = crate::http::problem::Problem),
        (status = 404, description = "Member or merge not found, or no merge into the member to undo", body = crate::http::problem::Problem),
        (status = 409, description = "Already undone, a later merge must be undone first, or the source has changed since", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn unmerge_member(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<MemberId>,
    command: Command<UnmergeMembers>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::MembersWrite)?;
    let reveal = caller.permissions.contains(Permission::PiiRead);
    let (vault, scope) = (app.vault.clone(), caller.clone());
    let sections = app.profile_sections;
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let survivor = visible_member(&mut m.session, &scope, id, Access::Write).await?;
            let Unmerged {
                merge_id,
                survivor_id,
                source_id,
                moved_back,
                restored,
            } = merge::unmerge(m, &vault, &scope, survivor, body.merge_id).await?;
            Ok(UnmergeResult {
                merge_id,
                moved_back,
                restored_fields: restored.into_iter().map(str::to_owned).collect(),
                survivor: current(m, &vault, sections, survivor_id, reveal).await?,
                source: current(m, &vault, sections, source_id, reveal).await?,
            })
        })
    })
    .await
}

/// The member as it stands in the open mutation.
async fn current(
    m: &mut crate::app::mutation::Mutation,
    vault: &crate::app::vault::Vault,
    sections: &[crate::app::profile::ProfileSection],
    id: MemberId,
    reveal: bool,
) -> ApiResult<MemberView> {
    let (row, _) = resolve(&mut m.session, m.tenant, id)
        .await?
        .ok_or_else(|| ApiError::internal("merged member vanished"))?;
    member_view(&mut m.session, vault, sections, m.tenant, row, reveal, None).await
}

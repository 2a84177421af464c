//! `/api/v1/events`: member events that earn rewards (sign-in, check-in, share, review, profile
//! completed, custom); `/api/v1/event-rewards`: the tenant's reward configuration. The rules
//! live in [`crate::app::event_rewards`].

use crate::app::access::visible_member;
use crate::app::error::ApiResult;
use crate::app::event_rewards::{self, Event, EventOutcome, RewardConfig};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, Caller, Command};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, DataScope, Permission};
use huiyuan_domain::identity::MemberStatus;
use huiyuan_domain::ids::{MemberId, StoreId};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::utc_now;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_event))
        .routes(routes!(list_member_events))
        .routes(routes!(get_config, put_config))
}

/// How far an event's time may run ahead of the server's clock (device clocks drift).
const CLOCK_SKEW: Duration = Duration::minutes(1);
/// How late an offline device may report an event.
const MAX_AGE: Duration = Duration::days(60);

/// `POST /api/v1/events`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEvent {
    pub member_id: MemberId,
    /// `sign_in`, `check_in`, `share`, `review`, `profile_completed` or `custom`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The store checked in at (`check_in`; a store-bound key's store by default).
    pub store_id: Option<Uuid>,
    /// The custom event's configured name (`custom`).
    pub name: Option<String>,
    /// When it happened (default now; not in the future, at most 60 days ago). Its day in the
    /// tenant's time zone is the day the event counts on.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub occurred_at: Option<OffsetDateTime>,
}

fn parse_event(body: &CreateEvent, default_store: Option<StoreId>) -> Result<Event, FieldError> {
    match body.kind.as_str() {
        "sign_in" => Ok(Event::SignIn),
        "share" => Ok(Event::Share),
        "review" => Ok(Event::Review),
        "profile_completed" => Ok(Event::ProfileCompleted),
        "check_in" => body
            .store_id
            .map(StoreId)
            .or(default_store)
            .map(|store_id| Event::CheckIn { store_id })
            .ok_or_else(|| FieldError::new("store_id", "required", "a check-in names its store")),
        "custom" => body
            .name
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| Event::Custom {
                name: name.to_owned(),
            })
            .ok_or_else(|| {
                FieldError::new(
                    "name",
                    "required",
                    "a custom event names its configured event",
                )
            }),
        _ => Err(FieldError::new(
            "type",
            "invalid",
            "one of sign_in, check_in, share, review, profile_completed, custom",
        )),
    }
}

/// Record a member event and grant its reward. A second sign-in on the same local day (or
/// check-in at the same store) answers the first one's result with `duplicate: true`; an event
/// over its daily cap answers 0 points with a `reason`. Either way nothing more is granted.
#[utoipa::path(post, path = "/events", tag = "earning", request_body = CreateEvent,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "Recorded (or refused with a reason)", body = EventOutcome),
        (status = 404, description = "No such member", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn create_event(
    State(app): State<AppState>,
    command: Command<CreateEvent>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::MembersWrite)?;
    let default_store = match &caller.scope {
        DataScope::Stores { store_ids } if store_ids.len() == 1 => store_ids.first().copied(),
        _ => None,
    };
    let mut errors = FieldErrors::new();
    let event = errors.take(parse_event(&body, default_store));
    let now = utc_now();
    let occurred_at = body.occurred_at.unwrap_or(now);
    if occurred_at > now + CLOCK_SKEW {
        errors.push(FieldError::new(
            "occurred_at",
            "in_future",
            "must not be in the future",
        ));
    } else if occurred_at < now - MAX_AGE {
        errors.push(FieldError::new(
            "occurred_at",
            "too_old",
            "must be at most 60 days ago",
        ));
    }
    errors.finish()?;
    let event = event.ok_or_else(|| FieldError::new("type", "invalid", "no event"))?;
    let scope = caller.clone();
    let vault = app.vault.clone();
    let member_id = body.member_id;
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let (member, _) =
                visible_member(&mut m.session, &scope, member_id, Access::Write).await?;
            if member.status != MemberStatus::Active.as_str() {
                return Err(FieldError::new(
                    "member_id",
                    "not_active",
                    "only active members earn rewards",
                )
                .into());
            }
            event_rewards::record(m, &vault, &member, event, occurred_at).await
        })
    })
    .await
}

/// Most events `GET /members/{id}/events` lists.
const RECENT_EVENTS: i64 = 100;

/// A rewarded member event.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberEventView {
    pub id: Uuid,
    /// `sign_in`, `check_in`, `share`, `review`, `profile_completed`, `custom`, `registration`,
    /// `birthday`, `referral`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The store of a check-in, the name of a custom event, the referee of a referral.
    pub subject: Option<String>,
    /// The tenant-local day it counts on, `YYYY-MM-DD`.
    pub local_day: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// Sign-in: consecutive days signed in, this one included.
    pub streak_days: Option<i64>,
    pub points: i64,
}

/// A member's most recent rewarded events (at most 100), newest first.
#[utoipa::path(get, path = "/members/{id}/events", tag = "earning", params(("id" = Uuid, Path)),
    responses((status = 200, description = "OK", body = Vec<MemberEventView>), (status = 404, description = "Not found", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn list_member_events(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<MemberId>,
) -> ApiResult<Json<Vec<MemberEventView>>> {
    caller.require(Permission::MembersRead)?;
    let mut session = app.store.read().await?;
    let (member, _) = visible_member(&mut session, &caller, id, Access::Read).await?;
    let found = huiyuan_store::event_rewards::recent(
        &mut session,
        caller.tenant_id,
        member.id,
        RECENT_EVENTS,
    )
    .await?;
    Ok(Json(
        found
            .into_iter()
            .map(|event| MemberEventView {
                id: event.id,
                streak_days: (event.kind == "sign_in").then_some(event.streak),
                kind: event.kind,
                subject: Some(event.subject).filter(|s| !s.is_empty()),
                local_day: event.local_day.to_string(),
                occurred_at: event.occurred_at,
                points: event.points,
            })
            .collect(),
    ))
}

/// The tenant's event rewards (the defaults until saved).
#[utoipa::path(get, path = "/event-rewards", tag = "earning",
    responses((status = 200, description = "OK", body = RewardConfig)), security(("bearer" = [])))]
async fn get_config(
    State(app): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<RewardConfig>> {
    caller.require(Permission::OrgRead)?;
    let mut session = app.store.read().await?;
    Ok(Json(
        event_rewards::config::load(&mut session, caller.tenant_id).await?,
    ))
}

/// Replace the tenant's event rewards (permission `config:write`); applies to events from now on.
#[utoipa::path(put, path = "/event-rewards", tag = "earning", request_body = RewardConfig,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = RewardConfig), (status = 422, description = "Invalid input", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn put_config(
    State(app): State<AppState>,
    command: Command<RewardConfig>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::ConfigWrite)?;
    caller.require_tenant_scope()?;
    body.validate()?;
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { event_rewards::set_config(m, body).await })
    })
    .await
}

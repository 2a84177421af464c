//! The HTTP API: one router per resource under `/api/v1`, collected with their OpenAPI
//! descriptions, plus the operations endpoints. Handlers turn requests into `crate::app` calls
//! and their results into responses.
//!
//! - [`service`]: the router with its layers, and `serve` on a bound listener.
//! - [`extract`]: the caller (bearer token → principal), JSON bodies, the write envelope.
//! - [`problem`]: errors rendered as problem+json.
//! - [`respond`]: the write path's answers as responses (replays marked).
//! - [`paging`]: list queries and pages.
//! - one module per resource: `members`, `orders`, `points`, `coupons`, `mall/`, …

mod api_keys;
mod audit;
mod auth;
mod channels;
mod checkouts;
mod coupon_redemptions;
mod coupon_templates;
mod coupons;
mod earning_rules;
mod event_rewards;
pub mod extract;
mod formats;
mod mall;
mod member_codes;
mod member_identifiers;
mod member_import;
mod member_merges;
mod member_privacy;
mod members;
mod merchant_revenue;
mod orders;
pub mod paging;
mod points;
pub mod problem;
pub mod respond;
mod roles;
pub mod service;
mod settlements;
mod staff;
mod stores;
mod system;
mod tiers;

use crate::app::state::AppState;
use axum::{Extension, Router};
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(title = "Huiyuan API", description = "Omnichannel membership and loyalty platform. Amounts in integer fen, \
        points as integers, times RFC 3339. Errors are application/problem+json with a stable `code`."),
    modifiers(&BearerAuth),
    components(schemas(crate::http::problem::Problem)),
    tags(
        (name = "auth", description = "Staff login and the current caller"),
        (name = "organisation", description = "Business formats, stores and merchants, channels"),
        (name = "access", description = "Roles, staff accounts, channel API keys"),
        (name = "audit", description = "The append-only audit log"),
        (name = "members", description = "Member identity: registration, profile, identifiers, codes, merge, privacy"),
        (name = "points", description = "Points balances, entries, adjustments and the points policy"),
        (name = "orders", description = "Orders, refunds, receipt claims and the accrual preview"),
        (name = "earning", description = "Earning rules and event rewards"),
        (name = "tiers", description = "The tier ladder and members' tiers"),
        (name = "coupons", description = "Coupon templates, issuing, validation, redemption (核销) and reversals"),
        (name = "mall", description = "The points mall: rewards catalogue, redemptions and their fulfilment"),
        (name = "settlement", description = "Settlement policy, statements per period (liability, claims, inter-format transfers, coupon costs, merchant revenue split) and CSV export"),
        (name = "checkout", description = "Checkout: quote a cart with coupons and points as cash, reserve, confirm, cancel"),
        (name = "operations", description = "Health, readiness, metrics and documentation"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The `Idempotency-Key` header every mutating call accepts.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKeyHeader {
    /// Same key and same request replays the first response; same key and a different request is
    /// refused with 422. Remembered for 24 hours.
    #[param(rename = "Idempotency-Key")]
    idempotency_key: Option<String>,
}

/// All routes and the OpenAPI document describing them.
pub fn build() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::new()
        .merge(auth::router())
        .merge(formats::router())
        .merge(stores::router())
        .merge(channels::router())
        .merge(roles::router())
        .merge(staff::router())
        .merge(api_keys::router())
        .merge(audit::router())
        .merge(members::router())
        .merge(member_identifiers::router())
        .merge(member_codes::router())
        .merge(member_merges::router())
        .merge(member_privacy::router())
        .merge(member_import::router())
        .merge(points::router())
        .merge(orders::router())
        .merge(earning_rules::router())
        .merge(event_rewards::router())
        .merge(tiers::router())
        .merge(coupon_templates::router())
        .merge(coupons::router())
        .merge(coupon_redemptions::router())
        .merge(mall::rewards::router())
        .merge(mall::redemptions::router())
        .merge(settlements::router())
        .merge(merchant_revenue::router())
        .merge(checkouts::router());
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api)
        .merge(system::router())
        .split_for_parts();
    openapi.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let document = Arc::new(openapi.to_json().unwrap_or_else(|_| "{}".to_owned()));
    (
        router.layer(Extension(system::OpenApiJson(document))),
        openapi,
    )
}

/// The OpenAPI document as pretty JSON (`huiyuan openapi`).
pub fn openapi_document() -> String {
    build()
        .1
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned())
}

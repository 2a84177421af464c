//! `POST /api/v1/events`: the events members report, and where each is decided.

use crate::app::error::ApiResult;
use crate::app::event_rewards::activity::{Cap, capped, check_in, profile_completed};
use crate::app::event_rewards::days::local_day;
use crate::app::event_rewards::outcome::EventOutcome;
use crate::app::event_rewards::sign_in::sign_in;
use crate::app::mutation::Mutation;
use crate::app::tenancy::zone::tenant_zone;
use crate::app::vault::Vault;
use huiyuan_domain::ids::StoreId;
use huiyuan_domain::validation::FieldError;
use huiyuan_store::members::StoredMember;
use time::OffsetDateTime;

/// A validated `POST /api/v1/events`.
#[derive(Clone, Debug)]
pub enum Event {
    SignIn,
    CheckIn { store_id: StoreId },
    Share,
    Review,
    ProfileCompleted,
    Custom { name: String },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::SignIn => "sign_in",
            Event::CheckIn { .. } => "check_in",
            Event::Share => "share",
            Event::Review => "review",
            Event::ProfileCompleted => "profile_completed",
            Event::Custom { .. } => "custom",
        }
    }
}

/// Rewards one event of an active member, in the open mutation.
pub async fn record(
    m: &mut Mutation,
    vault: &Vault,
    member: &StoredMember,
    event: Event,
    occurred_at: OffsetDateTime,
) -> ApiResult<EventOutcome> {
    let config = crate::app::event_rewards::config::load(&mut m.session, m.tenant).await?;
    let tz = tenant_zone(&mut m.session, m.tenant).await?;
    let day = local_day(occurred_at, &tz)?;
    let outcome = EventOutcome::new(event.kind(), member.id, day, occurred_at);
    match event {
        Event::SignIn => sign_in(m, &config.sign_in, outcome, day, &tz).await,
        Event::CheckIn { store_id } => {
            check_in(m, config.check_in_points, outcome, store_id, day, &tz).await
        }
        Event::Share => {
            let cap = Cap {
                points: config.share.points,
                daily: config.share.daily_cap,
                total: None,
            };
            capped(m, cap, String::new(), outcome, day, &tz).await
        }
        Event::Review => {
            let cap = Cap {
                points: config.review.points,
                daily: config.review.daily_cap,
                total: None,
            };
            capped(m, cap, String::new(), outcome, day, &tz).await
        }
        Event::Custom { name } => {
            let defined = config
                .custom
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| {
                    FieldError::new("name", "not_found", "no custom event of this name")
                })?;
            let cap = Cap {
                points: defined.points,
                daily: defined.daily_cap,
                total: defined.total_cap,
            };
            let outcome = EventOutcome {
                name: Some(name.clone()),
                ..outcome
            };
            capped(m, cap, name, outcome, day, &tz).await
        }
        Event::ProfileCompleted => {
            profile_completed(
                m,
                vault,
                member,
                config.profile_completed_points,
                outcome,
                day,
                &tz,
            )
            .await
        }
    }
}

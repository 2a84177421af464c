//! The member profile's plug-in sections: each capability that keeps member-owned data (points,
//! tier, coupons, orders, tags, merges …) adds one entry to `crate::PROFILE_SECTIONS`, and
//! `GET /members/{id}` shows its summary under `summaries.<name>` without the identity code
//! knowing about it. A leaf: the capabilities import this, it imports none of them.

use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_store::{Session, StoreResult};
use std::future::Future;
use std::pin::Pin;

pub type SectionFuture<'a> =
    Pin<Box<dyn Future<Output = StoreResult<Option<serde_json::Value>>> + Send + 'a>>;

/// One summary shown on the member profile.
pub struct ProfileSection {
    pub name: &'static str,
    pub load: for<'a> fn(&'a mut Session, TenantId, MemberId) -> SectionFuture<'a>,
}

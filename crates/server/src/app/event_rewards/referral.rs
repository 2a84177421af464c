//! The registration reward and the referral reward on the referee's first paid order.

use crate::app::error::ApiResult;
use crate::app::event_rewards::activity::once;
use crate::app::event_rewards::posting::Award;
use crate::app::mutation::Mutation;
use huiyuan_domain::identity::MemberStatus;
use huiyuan_domain::ids::MemberId;
use huiyuan_store::members;
use huiyuan_store::members::StoredMember;

/// The registration reward, the same from every channel; called once a member is created.
pub async fn on_registered(m: &mut Mutation, member: MemberId) -> ApiResult<()> {
    let points = crate::app::event_rewards::config::load(&mut m.session, m.tenant)
        .await?
        .registration_points;
    let award = Award::new(
        "registration",
        points,
        format!("registration:{member}"),
        "registration reward".to_owned(),
    );
    once(m, member, "registration", String::new(), award).await?;
    Ok(())
}

/// The referral reward to whoever referred `referee_member_id`, when the referee's first order is
/// paid. Nothing when the member was not referred, the referrer is no longer active, the reward
/// is off or was already granted.
pub async fn on_first_paid_order(m: &mut Mutation, referee_member_id: MemberId) -> ApiResult<()> {
    let points = crate::app::event_rewards::config::load(&mut m.session, m.tenant)
        .await?
        .referral_points;
    if points <= 0 {
        return Ok(());
    }
    let Some(referee) = members::get_member(&mut m.session, m.tenant, referee_member_id).await?
    else {
        return Ok(());
    };
    on_first_paid_order_of(m, &referee, points).await
}

/// [`on_first_paid_order`] with the referee's row and the configured `points` at hand. Who
/// referred a member never changes after registration, so a row read before the transaction
/// names the right referrer; the referrer's status is read here, and the reward is granted at
/// most once per referee (its natural key).
pub async fn on_first_paid_order_of(
    m: &mut Mutation,
    referee: &StoredMember,
    points: i64,
) -> ApiResult<()> {
    if points <= 0 {
        return Ok(());
    }
    let referee_member_id = referee.id;
    let Some(mut referrer) = referee.referred_by else {
        return Ok(());
    };
    // A referrer merged into another member is rewarded as the surviving member.
    for _ in 0..4 {
        match members::get_member(&mut m.session, m.tenant, referrer).await? {
            Some(row) if row.status == MemberStatus::Active.as_str() => {
                let award = Award {
                    reference: Some(format!("member:{referee_member_id}")),
                    ..Award::new(
                        "referral",
                        points,
                        format!("referral:{referee_member_id}"),
                        format!("referral: member {} paid a first order", referee.member_no),
                    )
                };
                once(m, row.id, "referral", referee_member_id.to_string(), award).await?;
                return Ok(());
            }
            Some(StoredMember {
                merged_into: Some(survivor),
                ..
            }) => referrer = survivor,
            _ => return Ok(()),
        }
    }
    Ok(())
}

//! Event rewards' storage: each tenant's reward configuration, and the member events that earned
//! a reward. An event claims its place with [`claim`], an insert the unique key
//! `(tenant_id, member_id, kind, subject, local_day, seq)` lets through once — so "one sign-in per
//! local day" and "at most N shares a day" are decided by the database, also under concurrency.

use crate::backend::Session;
use crate::error::StoreResult;
use crate::on_backend;
use crate::timestamp::Ts;
use huiyuan_domain::ids::{MemberId, TenantId};
use sqlx::types::Json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// A member event that earned (or was granted) a reward.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberEvent {
    pub id: Uuid,
    pub member_id: MemberId,
    /// `sign_in`, `check_in`, `share`, `review`, `profile_completed`, `custom`, `registration`,
    /// `birthday`, `referral`.
    pub kind: String,
    /// What "once a day" is counted per: empty, a store id, a custom event's name.
    pub subject: String,
    /// The calendar day in the tenant's time zone.
    pub local_day: Date,
    /// The slot of the day, 1 to the daily cap.
    pub seq: i64,
    pub occurred_at: OffsetDateTime,
    /// Consecutive days of sign-in ending with this one (sign-in only).
    pub streak: i64,
    pub points: i64,
    /// The answer given for the event, replayed to a duplicate.
    pub outcome: serde_json::Value,
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    #[sqlx(try_from = "Uuid")]
    member_id: MemberId,
    kind: String,
    subject: String,
    local_day: Date,
    seq: i64,
    occurred_at: OffsetDateTime,
    streak: i64,
    points: i64,
    outcome: Json<serde_json::Value>,
    created_at: OffsetDateTime,
}

impl From<EventRow> for MemberEvent {
    fn from(row: EventRow) -> Self {
        MemberEvent {
            id: row.id,
            member_id: row.member_id,
            kind: row.kind,
            subject: row.subject,
            local_day: row.local_day,
            seq: row.seq,
            occurred_at: row.occurred_at,
            streak: row.streak,
            points: row.points,
            outcome: row.outcome.0,
            created_at: row.created_at,
        }
    }
}

const EVENT_FIELDS: &str = "id, member_id, kind, subject, local_day, seq, occurred_at, streak, points, outcome, created_at";

/// Inserts the event unless its `(member, kind, subject, local_day, seq)` slot is taken; `false`
/// when taken. On PostgreSQL a concurrent insert of the same slot waits for the other
/// transaction and then answers `false` if it committed.
pub async fn claim(s: &mut Session, tenant: TenantId, event: &MemberEvent) -> StoreResult<bool> {
    let inserted = on_backend!(s, c => sqlx::query(
        "INSERT INTO member_events (tenant_id, member_id, id, kind, subject, local_day, seq, occurred_at, streak, points, \
         outcome, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING")
        .bind(tenant.0).bind(event.member_id.0).bind(event.id).bind(&event.kind).bind(&event.subject)
        .bind(event.local_day).bind(event.seq).bind(Ts(event.occurred_at)).bind(event.streak).bind(event.points)
        .bind(Json(&event.outcome)).bind(Ts(event.created_at))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(inserted == 1)
}

/// Records what the event earned and the answer given, once the reward is posted.
pub async fn set_outcome(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    id: Uuid,
    points: i64,
    outcome: &serde_json::Value,
) -> StoreResult<bool> {
    let updated = on_backend!(s, c => sqlx::query(
        "UPDATE member_events SET points = $4, outcome = $5 WHERE tenant_id = $1 AND member_id = $2 AND id = $3")
        .bind(tenant.0).bind(member.0).bind(id).bind(points).bind(Json(outcome))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(updated == 1)
}

/// The event in one slot, if any.
pub async fn get_slot(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    kind: &str,
    subject: &str,
    local_day: Date,
    seq: i64,
) -> StoreResult<Option<MemberEvent>> {
    let row: Option<EventRow> = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_FIELDS} FROM member_events WHERE tenant_id = $1 AND member_id = $2 AND kind = $3 \
         AND subject = $4 AND local_day = $5 AND seq = $6")))
        .bind(tenant.0).bind(member.0).bind(kind).bind(subject).bind(local_day).bind(seq)
        .fetch_optional(&mut *c).await)?;
    Ok(row.map(MemberEvent::from))
}

/// How many events of this kind and subject the member has on local days `from..=until`.
pub async fn count_between(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    kind: &str,
    subject: &str,
    from: Date,
    until: Date,
) -> StoreResult<i64> {
    let count: i64 = on_backend!(s, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM member_events WHERE tenant_id = $1 AND member_id = $2 AND kind = $3 AND subject = $4 \
         AND local_day >= $5 AND local_day <= $6")
        .bind(tenant.0).bind(member.0).bind(kind).bind(subject).bind(from).bind(until)
        .fetch_one(&mut *c).await)?;
    Ok(count)
}

/// How many events of this kind and subject the member has ever had.
pub async fn count_all(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    kind: &str,
    subject: &str,
) -> StoreResult<i64> {
    let count: i64 = on_backend!(s, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM member_events WHERE tenant_id = $1 AND member_id = $2 AND kind = $3 AND subject = $4")
        .bind(tenant.0).bind(member.0).bind(kind).bind(subject)
        .fetch_one(&mut *c).await)?;
    Ok(count)
}

/// A member's events, newest first, at most `limit`.
pub async fn recent(
    s: &mut Session,
    tenant: TenantId,
    member: MemberId,
    limit: i64,
) -> StoreResult<Vec<MemberEvent>> {
    let rows: Vec<EventRow> = on_backend!(s, c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_FIELDS} FROM member_events WHERE tenant_id = $1 AND member_id = $2 ORDER BY id DESC LIMIT $3")))
        .bind(tenant.0).bind(member.0).bind(limit).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(MemberEvent::from).collect())
}

/// Active members of the tenant born on one of `month_days` (`MM-DD`) who have no `birthday`
/// event on or after `since` (the start of the current year), ordered by id after `after`, at
/// most `limit`: the birthday job's work list. The birthday's text form is `YYYY-MM-DD` on both
/// databases (SQLite stores that text; PostgreSQL casts a date in ISO form).
pub async fn members_due_birthday(
    s: &mut Session,
    tenant: TenantId,
    month_days: &[String],
    since: Date,
    after: Option<MemberId>,
    limit: i64,
) -> StoreResult<Vec<MemberId>> {
    let rows: Vec<Uuid> = on_backend!(s, c => {
        let mut query = sqlx::QueryBuilder::new("SELECT m.id FROM members m WHERE m.tenant_id = ");
        query.push_bind(tenant.0);
        query.push(" AND m.status = 'active' AND m.birthday IS NOT NULL AND SUBSTR(CAST(m.birthday AS TEXT), 6, 5) IN (");
        let mut separated = query.separated(", ");
        for month_day in month_days {
            separated.push_bind(month_day.clone());
        }
        query.push(") AND NOT EXISTS (SELECT 1 FROM member_events e WHERE e.tenant_id = m.tenant_id \
                    AND e.member_id = m.id AND e.kind = 'birthday' AND e.subject = '' AND e.local_day >= ");
        query.push_bind(since).push(")");
        if let Some(after) = after {
            query.push(" AND m.id > ").push_bind(after.0);
        }
        query.push(" ORDER BY m.id LIMIT ").push_bind(limit);
        query.build_query_scalar().fetch_all(&mut *c).await
    })?;
    Ok(rows.into_iter().map(MemberId).collect())
}

// ---- configuration ----

/// A tenant's reward configuration as stored (its shape belongs to the server).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredConfig {
    pub config: serde_json::Value,
    pub updated_at: OffsetDateTime,
}

pub async fn config(s: &mut Session, tenant: TenantId) -> StoreResult<Option<StoredConfig>> {
    let row: Option<(Json<serde_json::Value>, OffsetDateTime)> = on_backend!(s, c => sqlx::query_as(
        "SELECT config, updated_at FROM event_reward_configs WHERE tenant_id = $1")
        .bind(tenant.0).fetch_optional(&mut *c).await)?;
    Ok(row.map(|(config, updated_at)| StoredConfig {
        config: config.0,
        updated_at,
    }))
}

pub async fn put_config(
    s: &mut Session,
    tenant: TenantId,
    config: &StoredConfig,
) -> StoreResult<()> {
    on_backend!(s, c => sqlx::query(
        "INSERT INTO event_reward_configs (tenant_id, config, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET config = $2, updated_at = $3")
        .bind(tenant.0).bind(Json(&config.config)).bind(Ts(config.updated_at))
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

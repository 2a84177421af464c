//! One import run and its batches: look up, decide in file order, number, review, write.

use crate::app::error::{ApiError, ApiResult};
use crate::app::identity::import::cleaning::{Clean, Refusal, blank_member};
use crate::app::identity::import::decide::Working;
use crate::app::identity::import::{
    BatchOutcome, Columns, ImportCounts, PreparedBatch, Preparer, SourceRow,
};
use crate::app::identity::policy::IdentityPolicy;
use crate::app::mutation::Mutation;
use crate::app::vault::Vault;
use huiyuan_domain::auth::{Actor, DataScope, Principal};
use huiyuan_domain::identity::{IdentifierKind, MemberNo};
use huiyuan_domain::ids::{ChannelId, FormatId, MemberId, StaffId, StoreId, TenantId};
use huiyuan_store::members::{StoredIdentifier, StoredMember};
use huiyuan_store::{members, utc_now};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use time::Date;
use uuid::Uuid;

/// Where new members are placed when a row does not say: a channel key's channel and store, a
/// shopping guide's own id — as registration does.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Defaults {
    pub(super) channel: Option<(ChannelId, Option<FormatId>)>,
    pub(super) store: Option<(StoreId, FormatId)>,
    pub(super) guide: Option<StaffId>,
}

/// One import run: the caller, the keys, and what earlier batches did.
pub struct Importer {
    pub(super) vault: Arc<Vault>,
    pub(super) policy: Arc<IdentityPolicy>,
    pub(super) caller: Principal,
    pub(super) columns: Arc<Columns>,
    pub(super) run_id: Uuid,
    /// What the audit entries name as the source: a file name, or `api`.
    pub(super) source: String,
    pub(super) today: Date,
    /// Store codes seen, resolved once: `None` for unknown or archived stores.
    pub(super) stores: HashMap<String, Option<(StoreId, FormatId)>>,
    pub(super) defaults: Option<Defaults>,
    pub(super) counts: ImportCounts,
    /// Every member a row named, with the first line naming it (within-file duplicates).
    pub(super) named: HashMap<MemberId, u64>,
    /// Members this run created, with their line (probable-duplicate candidates).
    pub(super) created: HashMap<MemberId, u64>,
}

impl Importer {
    pub fn new(
        vault: Arc<Vault>,
        policy: Arc<IdentityPolicy>,
        caller: Principal,
        columns: Columns,
        source: &str,
    ) -> Self {
        Self {
            vault,
            policy,
            caller,
            columns: Arc::new(columns),
            run_id: Uuid::now_v7(),
            source: source.to_owned(),
            today: utc_now().date(),
            stores: HashMap::new(),
            defaults: None,
            counts: ImportCounts::default(),
            named: HashMap::new(),
            created: HashMap::new(),
        }
    }

    /// The caller of the CLI and other trusted tools: the system, with every permission, over
    /// the whole tenant.
    pub fn system_caller(tenant: TenantId) -> Principal {
        Principal {
            tenant_id: tenant,
            actor: Actor::System,
            permissions: huiyuan_domain::auth::PermissionSet::all(),
            scope: DataScope::Tenant,
            member_scope: DataScope::Tenant,
        }
    }

    pub fn run_id(&self) -> Uuid {
        self.run_id
    }

    pub fn counts(&self) -> ImportCounts {
        self.counts
    }

    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// What cleans rows for this run, to run beside the database work.
    pub fn preparer(&self) -> Preparer {
        Preparer {
            columns: self.columns.clone(),
            vault: self.vault.clone(),
            policy: self.policy.clone(),
            today: self.today,
        }
    }

    /// Adds a committed batch to the run.
    pub fn absorb(&mut self, outcome: &BatchOutcome) {
        self.counts.add(&outcome.counts);
        for (member, line) in &outcome.named {
            self.named.entry(*member).or_insert(*line);
        }
        self.created.extend(outcome.created.iter().copied());
    }

    /// Imports a prepared batch in the open mutation. Nothing of the run's state changes until
    /// [`Importer::absorb`]: a batch whose transaction fails can run again.
    pub async fn import_batch(
        &mut self,
        m: &mut Mutation,
        batch: &PreparedBatch,
    ) -> ApiResult<BatchOutcome> {
        let mut outcome = BatchOutcome::default();
        outcome.counts.rows = batch.rows.len() as u64;

        // 1. Rows that did not clean are rejected.
        let mut cleaned: Vec<(&SourceRow, &Clean)> = Vec::with_capacity(batch.rows.len());
        for prepared in &batch.rows {
            match &prepared.clean {
                Ok(clean) => cleaned.push((&prepared.source, clean)),
                Err(refusal) => outcome.reject(&prepared.source, refusal.clone()),
            }
        }
        self.load_placements(m, &cleaned).await?;

        // 2. Look up the batch's identifiers, their holders and the holders' identifiers.
        let mut wanted: BTreeMap<IdentifierKind, BTreeSet<&str>> = BTreeMap::new();
        for (_, clean) in &cleaned {
            for keyed in clean.identifiers.iter().filter(|k| k.matchable) {
                wanted
                    .entry(keyed.identifier.kind)
                    .or_default()
                    .insert(&keyed.index);
            }
        }
        let mut holder: HashMap<(IdentifierKind, String), MemberId> = HashMap::new();
        for (kind, indexes) in wanted {
            let indexes: Vec<String> = indexes.into_iter().map(str::to_owned).collect();
            let found = members::find_members_by_identifiers(
                &mut m.session,
                m.tenant,
                kind.as_str(),
                &indexes,
            )
            .await?;
            for (index, member) in found {
                holder.insert((kind, index), member);
            }
        }
        let mut working = self.load_holders(m, &mut holder).await?;

        // 3. Decide, row by row in file order.
        let mut batch_named: HashSet<MemberId> = HashSet::new();
        let mut created_order: Vec<MemberId> = Vec::new();
        let mut conflicts: Vec<(usize, BTreeSet<MemberId>)> = Vec::new();
        for (row, clean) in cleaned {
            let owners: BTreeSet<MemberId> = clean
                .identifiers
                .iter()
                .filter(|k| k.matchable)
                .filter_map(|k| holder.get(&(k.identifier.kind, k.index.clone())).copied())
                .collect();
            let mut named = owners.iter().copied();
            let member = match (named.next(), named.next()) {
                (None, _) => match self.create(m, row, clean, &mut working) {
                    Ok(id) => {
                        created_order.push(id);
                        outcome.counts.created += 1;
                        id
                    }
                    Err(refusal) => {
                        outcome.reject(row, refusal);
                        continue;
                    }
                },
                (Some(id), None) => {
                    match self.merge(m, clean, &mut working, id) {
                        Ok(true) => outcome.counts.merged += 1,
                        Ok(false) => outcome.counts.unchanged += 1,
                        Err(refusal) => {
                            outcome.reject(row, refusal);
                            continue;
                        }
                    }
                    id
                }
                (Some(_), Some(_)) => {
                    // Named once the batch's new members have their numbers.
                    conflicts.push((outcome.rejects.len(), owners));
                    outcome.reject(row, Refusal::new("conflicting_members", String::new()));
                    continue;
                }
            };
            if self.named.contains_key(&member) || !batch_named.insert(member) {
                outcome.counts.duplicates_in_file += 1;
            } else {
                outcome.named.push((member, row.line));
            }
            // What the row bound now identifies its member for the rows after it.
            if let Some(w) = working.get(&member) {
                for keyed in clean.identifiers.iter().filter(|k| k.matchable) {
                    if w.holds(keyed.identifier.kind, &keyed.index) {
                        holder
                            .entry((keyed.identifier.kind, keyed.index.clone()))
                            .or_insert(member);
                    }
                }
            }
        }

        // 4. Number the new members, review them, write everything.
        let fresh_count = i64::try_from(created_order.len()).unwrap_or(i64::MAX);
        if fresh_count > 0 {
            let first = members::reserve_member_seqs(&mut m.session, m.tenant, fresh_count).await?;
            for (offset, id) in created_order.iter().enumerate() {
                if let Some(w) = working.get_mut(id) {
                    let seq = first + offset as i64;
                    w.row.seq = seq;
                    w.row.member_no = MemberNo::from_seq(u64::try_from(seq).unwrap_or_default())
                        .as_str()
                        .to_owned();
                }
            }
            self.assign_referral_codes(m, &created_order, &mut working)
                .await?;
        }
        for (index, owners) in conflicts {
            let numbers: Vec<&str> = owners
                .iter()
                .filter_map(|id| working.get(id).map(|w| w.row.member_no.as_str()))
                .collect();
            if let Some(reject) = outcome.rejects.get_mut(index) {
                reject.reason = format!(
                    "the identifiers belong to different members ({}); merge them first",
                    numbers.join(", ")
                );
            }
        }
        // Before the inserts, so the queries see only members that existed before this batch.
        outcome.probable_duplicates = self.review(m, &created_order, &working).await?;
        outcome.counts.probable_duplicates = outcome
            .probable_duplicates
            .iter()
            .map(|d| d.member_id)
            .collect::<HashSet<_>>()
            .len() as u64;
        // Taken rather than cloned: only their ids (for search tokens) and lines are read after.
        let fresh: Vec<StoredMember> = created_order
            .iter()
            .filter_map(|id| {
                working.get_mut(id).map(|w| {
                    let mut left = blank_member();
                    left.id = w.row.id;
                    std::mem::replace(&mut w.row, left)
                })
            })
            .collect();
        members::insert_members(&mut m.session, m.tenant, &fresh).await?;
        let merged_ids: BTreeSet<MemberId> = working
            .values()
            .filter(|w| w.changed)
            .map(|w| w.row.id)
            .collect();
        for id in &merged_ids {
            if let Some(w) = working.get(id) {
                members::update_member(&mut m.session, m.tenant, &w.row).await?;
            }
        }
        let mut new_identifiers: Vec<StoredIdentifier> = Vec::new();
        let mut new_tokens: Vec<(MemberId, String)> = Vec::new();
        for w in working.values_mut() {
            new_identifiers.append(&mut w.pending);
            let id = w.row.id;
            new_tokens.extend(w.tokens.drain(..).map(|token| (id, token)));
        }
        // In index order, so consecutive inserts land on neighbouring pages of the
        // random-keyed indexes.
        new_identifiers
            .sort_unstable_by(|a, b| (&a.kind, &a.value_index).cmp(&(&b.kind, &b.value_index)));
        new_tokens.sort_unstable_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
        members::insert_identifiers(&mut m.session, m.tenant, &new_identifiers).await?;
        members::insert_search_tokens(&mut m.session, m.tenant, &new_tokens).await?;
        if !created_order.is_empty() || !merged_ids.is_empty() {
            let sources = &batch.rows;
            let lines = sources
                .first()
                .map(|r| r.source.line)
                .zip(sources.last().map(|r| r.source.line));
            let summary = json!({
                "run_id": self.run_id,
                "source": self.source,
                "lines": lines.map(|(first, last)| [first, last]),
                "created": created_order,
                "merged": merged_ids,
                "unchanged": outcome.counts.unchanged,
                "rejected": outcome.counts.rejected,
            });
            m.audit("member.imported", "member_import", self.run_id, summary)
                .await?;
        }
        outcome.created = created_order
            .iter()
            .filter_map(|id| working.get(id).map(|w| (*id, w.line)))
            .collect();
        Ok(outcome)
    }

    /// query (collisions are rare: 32⁸ codes).
    pub(super) async fn assign_referral_codes(
        &self,
        m: &mut Mutation,
        created: &[MemberId],
        working: &mut HashMap<MemberId, Working>,
    ) -> ApiResult<()> {
        let mut pending: Vec<MemberId> = created.to_vec();
        let mut used: HashSet<String> = HashSet::new();
        for _ in 0..8 {
            let mut proposed = Vec::with_capacity(pending.len());
            for id in &pending {
                let mut code = crate::app::identity::register::new_referral_code();
                while used.contains(&code) {
                    code = crate::app::identity::register::new_referral_code();
                }
                used.insert(code.clone());
                proposed.push((*id, code));
            }
            let codes: Vec<String> = proposed.iter().map(|(_, code)| code.clone()).collect();
            let taken: HashSet<String> =
                members::existing_referral_codes(&mut m.session, m.tenant, &codes)
                    .await?
                    .into_iter()
                    .collect();
            pending.clear();
            for (id, code) in proposed {
                if taken.contains(&code) {
                    pending.push(id);
                } else if let Some(w) = working.get_mut(&id) {
                    w.row.referral_code = code;
                }
            }
            if pending.is_empty() {
                return Ok(());
            }
        }
        Err(ApiError::internal("could not find free referral codes"))
    }
}

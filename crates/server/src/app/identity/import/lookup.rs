//! What a batch loads before deciding: placements of store codes, and the members holding its
//! identifiers with the identifiers they hold.

use crate::app::error::ApiResult;
use crate::app::identity::import::cleaning::Clean;
use crate::app::identity::import::decide::Working;
use crate::app::identity::import::{Defaults, Importer, SourceRow};
use crate::app::mutation::Mutation;
use huiyuan_domain::auth::{Actor, DataScope};
use huiyuan_domain::identity::{IdentifierKind, MemberStatus};
use huiyuan_domain::ids::MemberId;
use huiyuan_store::members::StoredMember;
use huiyuan_store::{members, org};
use std::collections::{BTreeSet, HashMap};

impl Importer {
    /// Resolves the batch's store codes (once per run) and the caller's defaults (once).
    pub(super) async fn load_placements(
        &mut self,
        m: &mut Mutation,
        cleaned: &[(&SourceRow, &Clean)],
    ) -> ApiResult<()> {
        if self.defaults.is_none() {
            let mut defaults = Defaults::default();
            if let Actor::ApiKey { channel_id, .. } = self.caller.actor {
                let channel = org::get_channel(&mut m.session, m.tenant, channel_id).await?;
                defaults.channel = Some((channel_id, channel.and_then(|c| c.format_id)));
                if let DataScope::Stores { store_ids } = &self.caller.scope
                    && store_ids.len() == 1
                    && let Some(store_id) = store_ids.first()
                    && let Some(store) = org::get_store(&mut m.session, m.tenant, *store_id).await?
                {
                    defaults.store = Some((store.id, store.format_id));
                }
            }
            if let DataScope::OwnMembers { .. } = self.caller.member_scope {
                defaults.guide = self.caller.staff_id();
            }
            self.defaults = Some(defaults);
        }
        for (_, clean) in cleaned {
            if let Some(code) = &clean.store_code
                && !self.stores.contains_key(code)
            {
                let store = org::get_store_by_code(&mut m.session, m.tenant, code)
                    .await?
                    .filter(|store| !store.archived)
                    .map(|store| (store.id, store.format_id));
                self.stores.insert(code.clone(), store);
            }
        }
        Ok(())
    }

    /// Loads the members holding the batch's identifiers, past merge aliases (whose entries in
    /// `holder` then point at the survivor), with the identifiers they hold.
    pub(super) async fn load_holders(
        &self,
        m: &mut Mutation,
        holder: &mut HashMap<(IdentifierKind, String), MemberId>,
    ) -> ApiResult<HashMap<MemberId, Working>> {
        let ids: Vec<MemberId> = holder
            .values()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut rows: HashMap<MemberId, StoredMember> =
            members::get_members(&mut m.session, m.tenant, &ids)
                .await?
                .into_iter()
                .map(|row| (row.id, row))
                .collect();
        // A merged member's identifiers normally move to the survivor; follow any that did not.
        let aliases: Vec<MemberId> = rows
            .values()
            .filter(|row| row.status == MemberStatus::Merged.as_str() && row.merged_into.is_some())
            .map(|row| row.id)
            .collect();
        for alias in aliases {
            if let Some((survivor, _)) =
                crate::app::identity::view::resolve(&mut m.session, m.tenant, alias).await?
            {
                for owner in holder.values_mut().filter(|owner| **owner == alias) {
                    *owner = survivor.id;
                }
                rows.remove(&alias);
                rows.insert(survivor.id, survivor);
            }
        }
        let ids: Vec<MemberId> = rows.keys().copied().collect();
        let mut held: HashMap<MemberId, Vec<(String, String)>> = HashMap::new();
        for (member, kind, index) in
            members::identifier_keys_of_members(&mut m.session, m.tenant, &ids).await?
        {
            held.entry(member).or_default().push((kind, index));
        }
        Ok(rows
            .into_iter()
            .map(|(id, row)| {
                let w = Working {
                    held: held.remove(&id).unwrap_or_default(),
                    row,
                    fresh: false,
                    changed: false,
                    pending: Vec::new(),
                    tokens: Vec::new(),
                    line: 0,
                    name: None,
                };
                (id, w)
            })
            .collect())
    }
}

//! The probable-duplicate review of a batch's new members.

use crate::app::error::ApiResult;
use crate::app::identity::import::decide::Working;
use crate::app::identity::import::{
    Importer, MAX_CANDIDATES_PER_MEMBER, ProbableDuplicate, similar_names,
};
use crate::app::mutation::Mutation;
use huiyuan_domain::ids::MemberId;
use huiyuan_store::members;
use huiyuan_store::members::IndexColumn;
use std::collections::{BTreeSet, HashMap};
use time::Date;

/// A member the review compares new members with.
pub(super) struct Known {
    pub(super) id: MemberId,
    pub(super) member_no: String,
    /// The line that created it, when this run did.
    pub(super) line: Option<u64>,
    /// Its line, when this batch creates it.
    pub(super) batch_line: Option<u64>,
    pub(super) name: Option<String>,
    pub(super) name_index: Option<String>,
    pub(super) birthday: Option<Date>,
    pub(super) address_index: Option<String>,
}

impl Importer {
    /// earlier, or from an earlier row of this batch) with the same name and birthday, or with a
    /// similar name at the same address. Runs before the batch is inserted, so the queries see
    /// only older members; the batch's own are compared in memory.
    pub(super) async fn review(
        &self,
        m: &mut Mutation,
        created: &[MemberId],
        working: &HashMap<MemberId, Working>,
    ) -> ApiResult<Vec<ProbableDuplicate>> {
        let fresh: Vec<&Working> = created.iter().filter_map(|id| working.get(id)).collect();
        if fresh.is_empty() {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(fresh.len() * 20 + 1_000).unwrap_or(i64::MAX);
        let pairs: Vec<(String, Date)> = fresh
            .iter()
            .filter_map(|w| w.row.name_index.clone().zip(w.row.birthday))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let same_name_and_birthday = match pairs.is_empty() {
            true => Vec::new(),
            false => {
                members::duplicate_candidates_by_name_and_birthday(
                    &mut m.session,
                    m.tenant,
                    &pairs,
                    limit,
                )
                .await?
            }
        };
        let addresses: Vec<String> = fresh
            .iter()
            .filter(|w| w.name.is_some())
            .filter_map(|w| w.row.address_index.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let same_address = match addresses.is_empty() {
            true => Vec::new(),
            false => {
                members::duplicate_candidates_by_index(
                    &mut m.session,
                    m.tenant,
                    IndexColumn::Address,
                    &addresses,
                    limit,
                )
                .await?
            }
        };

        // Everyone a new member may be compared with, older first: stored members, then this
        // batch's in file order.
        let mut known: Vec<Known> = Vec::new();
        for candidate in same_name_and_birthday.into_iter().chain(same_address) {
            if known.iter().any(|k| k.id == candidate.id) {
                continue;
            }
            let name = candidate
                .name_enc
                .as_deref()
                .and_then(|sealed| self.vault.open(sealed).ok());
            known.push(Known {
                id: candidate.id,
                member_no: candidate.member_no,
                line: self.created.get(&candidate.id).copied(),
                batch_line: None,
                name,
                name_index: candidate.name_index,
                birthday: candidate.birthday,
                address_index: candidate.address_index,
            });
        }
        known.extend(fresh.iter().map(|w| Known {
            id: w.row.id,
            member_no: w.row.member_no.clone(),
            line: Some(w.line),
            batch_line: Some(w.line),
            name: w.name.clone(),
            name_index: w.row.name_index.clone(),
            birthday: w.row.birthday,
            address_index: w.row.address_index.clone(),
        }));
        let mut by_name_and_birthday: HashMap<(&str, Date), Vec<&Known>> = HashMap::new();
        let mut by_address: HashMap<&str, Vec<&Known>> = HashMap::new();
        for k in &known {
            if let (Some(name), Some(birthday)) = (&k.name_index, k.birthday) {
                by_name_and_birthday
                    .entry((name.as_str(), birthday))
                    .or_default()
                    .push(k);
            }
            if let Some(address) = &k.address_index {
                by_address.entry(address.as_str()).or_default().push(k);
            }
        }

        let mut found: Vec<ProbableDuplicate> = Vec::new();
        for member in &fresh {
            // Older than `member`: stored before the batch, or from an earlier row of it.
            let older = |k: &&&Known| k.batch_line.is_none_or(|line| line < member.line);
            let report = |k: &Known, reason: &str| ProbableDuplicate {
                line: member.line,
                member_id: member.row.id,
                member_no: member.row.member_no.clone(),
                reason: reason.to_owned(),
                candidate_id: k.id,
                candidate_member_no: k.member_no.clone(),
                candidate_line: k.line,
            };
            let mut reported: Vec<MemberId> = Vec::new();
            if let (Some(name), Some(birthday)) = (&member.row.name_index, member.row.birthday)
                && let Some(group) = by_name_and_birthday.get(&(name.as_str(), birthday))
            {
                for k in group.iter().filter(older).take(MAX_CANDIDATES_PER_MEMBER) {
                    reported.push(k.id);
                    found.push(report(k, "same_name_and_birthday"));
                }
            }
            if let (Some(address), Some(name)) = (&member.row.address_index, &member.name)
                && let Some(group) = by_address.get(address.as_str())
            {
                let similar = group
                    .iter()
                    .filter(older)
                    .filter(|k| !reported.contains(&k.id))
                    .filter(|k| {
                        k.name
                            .as_deref()
                            .is_some_and(|other| similar_names(name, other))
                    });
                for k in similar
                    .take(MAX_CANDIDATES_PER_MEMBER - reported.len().min(MAX_CANDIDATES_PER_MEMBER))
                {
                    found.push(report(k, "similar_name_and_same_address"));
                }
            }
        }
        Ok(found)
    }
}

//! Which identifiers may match people, and how many of each kind a member may hold.

use huiyuan_domain::identity::{Identifier, IdentifierInput, IdentifierKind};
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Clone, Debug, Default)]
pub struct IdentityPolicy {
    blocked: HashSet<(IdentifierKind, String)>,
    limits: HashMap<IdentifierKind, usize>,
}

impl IdentityPolicy {
    /// From settings: blocked entries as `kind:value` (normalised like any input), limits by kind.
    pub fn new(blocked: &[String], limits: &BTreeMap<String, usize>) -> anyhow::Result<Self> {
        let mut policy = Self::default();
        for entry in blocked {
            let (kind, value) = entry.split_once(':').ok_or_else(|| {
                anyhow::anyhow!("identity_blocked entry '{entry}' is not kind:value")
            })?;
            let kind = IdentifierKind::parse("kind", kind)
                .map_err(|e| anyhow::anyhow!("identity_blocked '{entry}': {}", e.message))?;
            let input = IdentifierInput {
                kind,
                value: value.to_owned(),
                app_id: None,
                namespace: None,
            };
            let identifier = Identifier::parse("identity_blocked", &input)
                .map_err(|e| anyhow::anyhow!("identity_blocked '{entry}': {}", e.message))?;
            policy.blocked.insert((identifier.kind, identifier.key));
        }
        for (kind, limit) in limits {
            let kind = IdentifierKind::parse("kind", kind)
                .map_err(|e| anyhow::anyhow!("identity_limits '{kind}': {}", e.message))?;
            policy.limits.insert(kind, *limit);
        }
        Ok(policy)
    }

    /// Whether equal values of this identifier mean the same person.
    pub fn matches_people(&self, identifier: &Identifier) -> bool {
        identifier.kind.matches_people()
            && !self
                .blocked
                .contains(&(identifier.kind, identifier.key.clone()))
    }

    pub fn limit(&self, kind: IdentifierKind) -> usize {
        self.limits
            .get(&kind)
            .copied()
            .unwrap_or_else(|| kind.default_limit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_values_are_normalised_and_never_match() {
        let policy = IdentityPolicy::new(
            &["phone:138 0000 0000".into()],
            &BTreeMap::from([("device_id".into(), 3)]),
        )
        .unwrap();
        let input = |kind, value: &str| {
            Identifier::parse(
                "i",
                &IdentifierInput {
                    kind,
                    value: value.into(),
                    app_id: None,
                    namespace: None,
                },
            )
            .unwrap()
        };
        assert!(!policy.matches_people(&input(IdentifierKind::Phone, "+8613800000000")));
        assert!(policy.matches_people(&input(IdentifierKind::Phone, "13800138000")));
        assert!(!policy.matches_people(&input(IdentifierKind::DeviceId, "ios-1")));
        assert_eq!(policy.limit(IdentifierKind::DeviceId), 3);
        assert_eq!(policy.limit(IdentifierKind::WechatUnionid), 1);
        assert!(IdentityPolicy::new(&["fax:1".into()], &BTreeMap::new()).is_err());
        assert!(IdentityPolicy::new(&["nonsense".into()], &BTreeMap::new()).is_err());
    }
}

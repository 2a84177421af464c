//! The accounts of the points ledger. Every entry moves points from a debit account to a credit
//! account, and the account names are stored with the entry (`points_entries.debit_account`,
//! `credit_account`, and the mall's `points_account`). [`LedgerAccount`] is the one place those
//! names are written and read: `Display` gives exactly the stored text and `FromStr` accepts
//! exactly that text and nothing else, so the books written by earlier versions keep their
//! meaning. The SQL that selects accounts by prefix (settlement figures, tier points) relies on
//! the same names.

use crate::ids::FormatId;
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A ledger account. The member's two accounts belong to the entry's member; every other
/// account is the tenant's. Where an account is per business format, `None` is the group's
/// (headquarters') own.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LedgerAccount {
    /// `member.available`: points the member can spend.
    MemberAvailable,
    /// `member.pending`: points earned but still in the return window.
    MemberPending,
    /// `issuance:<format>` or `issuance:group`: where a format's earned points come from, and
    /// where claw-backs return them.
    Issuance(Option<FormatId>),
    /// `redemption:<format>` or `redemption:group`: the format that claims redeemed points.
    Redemption(Option<FormatId>),
    /// `donation:<format>` or `donation:group`: donated points (公益捐赠).
    Donation(Option<FormatId>),
    /// `adjustment`: the counter account of manual adjustments.
    Adjustment,
    /// `expiry`: where expired points go.
    Expiry,
    /// `checkout_hold`: points a checkout holds, spent from the member, claimed by no format yet.
    CheckoutHold,
    /// `reward:<kind>`: where an event reward's points come from (`reward:sign_in`, …). The kind
    /// is one lower-case word of letters, digits and underscores.
    EventReward(String),
    /// `transfer:merge:<merge id>`: the transit account of a member merge, netting to zero.
    MergeTransit(Uuid),
    /// `transfer:unmerge:<merge id>`: the transit account of undoing that merge.
    UnmergeTransit(Uuid),
}

/// A name that is no ledger account.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a ledger account name: {0:?}")]
pub struct UnknownAccount(pub String);

const MEMBER_AVAILABLE: &str = "member.available";
const MEMBER_PENDING: &str = "member.pending";
const ADJUSTMENT: &str = "adjustment";
const EXPIRY: &str = "expiry";
const CHECKOUT_HOLD: &str = "checkout_hold";
const ISSUANCE: &str = "issuance:";
const REDEMPTION: &str = "redemption:";
const DONATION: &str = "donation:";
const REWARD: &str = "reward:";
const MERGE: &str = "transfer:merge:";
const UNMERGE: &str = "transfer:unmerge:";
/// The format part of a per-format account held by the group itself.
const GROUP: &str = "group";

impl LedgerAccount {
    /// Whether the account is one of the member's own (the entry's member holds it).
    pub fn is_member(&self) -> bool {
        matches!(
            self,
            LedgerAccount::MemberAvailable | LedgerAccount::MemberPending
        )
    }

    /// `issuance:<format>`, for the many callers holding a raw format id.
    pub fn issuance(format: Option<Uuid>) -> Self {
        LedgerAccount::Issuance(format.map(FormatId))
    }

    /// `redemption:<format>`, for the many callers holding a raw format id.
    pub fn redemption(format: Option<Uuid>) -> Self {
        LedgerAccount::Redemption(format.map(FormatId))
    }

    /// `donation:<format>`, for the many callers holding a raw format id.
    pub fn donation(format: Option<Uuid>) -> Self {
        LedgerAccount::Donation(format.map(FormatId))
    }
}

impl fmt::Display for LedgerAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per_format =
            |f: &mut fmt::Formatter<'_>, prefix: &str, format: &Option<FormatId>| match format {
                Some(format) => write!(f, "{prefix}{format}"),
                None => write!(f, "{prefix}{GROUP}"),
            };
        match self {
            LedgerAccount::MemberAvailable => f.write_str(MEMBER_AVAILABLE),
            LedgerAccount::MemberPending => f.write_str(MEMBER_PENDING),
            LedgerAccount::Issuance(format) => per_format(f, ISSUANCE, format),
            LedgerAccount::Redemption(format) => per_format(f, REDEMPTION, format),
            LedgerAccount::Donation(format) => per_format(f, DONATION, format),
            LedgerAccount::Adjustment => f.write_str(ADJUSTMENT),
            LedgerAccount::Expiry => f.write_str(EXPIRY),
            LedgerAccount::CheckoutHold => f.write_str(CHECKOUT_HOLD),
            LedgerAccount::EventReward(kind) => write!(f, "{REWARD}{kind}"),
            LedgerAccount::MergeTransit(merge) => write!(f, "{MERGE}{merge}"),
            LedgerAccount::UnmergeTransit(merge) => write!(f, "{UNMERGE}{merge}"),
        }
    }
}

impl FromStr for LedgerAccount {
    type Err = UnknownAccount;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownAccount(name.to_owned());
        let fixed = match name {
            MEMBER_AVAILABLE => Some(LedgerAccount::MemberAvailable),
            MEMBER_PENDING => Some(LedgerAccount::MemberPending),
            ADJUSTMENT => Some(LedgerAccount::Adjustment),
            EXPIRY => Some(LedgerAccount::Expiry),
            CHECKOUT_HOLD => Some(LedgerAccount::CheckoutHold),
            _ => None,
        };
        if let Some(account) = fixed {
            return Ok(account);
        }
        if let Some(rest) = name.strip_prefix(ISSUANCE) {
            return format_part(rest)
                .map(LedgerAccount::Issuance)
                .ok_or_else(unknown);
        }
        if let Some(rest) = name.strip_prefix(REDEMPTION) {
            return format_part(rest)
                .map(LedgerAccount::Redemption)
                .ok_or_else(unknown);
        }
        if let Some(rest) = name.strip_prefix(DONATION) {
            return format_part(rest)
                .map(LedgerAccount::Donation)
                .ok_or_else(unknown);
        }
        if let Some(kind) = name.strip_prefix(REWARD) {
            return is_reward_kind(kind)
                .then(|| LedgerAccount::EventReward(kind.to_owned()))
                .ok_or_else(unknown);
        }
        if let Some(rest) = name.strip_prefix(MERGE) {
            return canonical_uuid(rest)
                .map(LedgerAccount::MergeTransit)
                .ok_or_else(unknown);
        }
        if let Some(rest) = name.strip_prefix(UNMERGE) {
            return canonical_uuid(rest)
                .map(LedgerAccount::UnmergeTransit)
                .ok_or_else(unknown);
        }
        Err(unknown())
    }
}

/// `group` or a format id, as written by `Display`.
fn format_part(text: &str) -> Option<Option<FormatId>> {
    if text == GROUP {
        return Some(None);
    }
    canonical_uuid(text).map(|id| Some(FormatId(id)))
}

/// A UUID only in the form `Display` writes (lower-case, hyphenated), so that every accepted name
/// is written back byte for byte.
fn canonical_uuid(text: &str) -> Option<Uuid> {
    let id = Uuid::try_parse(text).ok()?;
    let mut buffer = Uuid::encode_buffer();
    (id.hyphenated().encode_lower(&mut buffer) == text).then_some(id)
}

fn is_reward_kind(kind: &str) -> bool {
    !kind.is_empty()
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::{LedgerAccount, UnknownAccount};
    use crate::ids::FormatId;
    use proptest::prelude::{Just, Strategy, any, prop_assert_eq, prop_oneof, proptest};
    use uuid::Uuid;

    fn parse(name: &str) -> Result<LedgerAccount, UnknownAccount> {
        name.parse()
    }

    #[test]
    fn every_variant_writes_the_stored_name_and_reads_it_back() {
        let format = Uuid::now_v7();
        let merge = Uuid::now_v7();
        let cases = [
            (
                LedgerAccount::MemberAvailable,
                "member.available".to_owned(),
            ),
            (LedgerAccount::MemberPending, "member.pending".to_owned()),
            (LedgerAccount::issuance(None), "issuance:group".to_owned()),
            (
                LedgerAccount::issuance(Some(format)),
                format!("issuance:{format}"),
            ),
            (
                LedgerAccount::redemption(None),
                "redemption:group".to_owned(),
            ),
            (
                LedgerAccount::redemption(Some(format)),
                format!("redemption:{format}"),
            ),
            (LedgerAccount::donation(None), "donation:group".to_owned()),
            (
                LedgerAccount::donation(Some(format)),
                format!("donation:{format}"),
            ),
            (LedgerAccount::Adjustment, "adjustment".to_owned()),
            (LedgerAccount::Expiry, "expiry".to_owned()),
            (LedgerAccount::CheckoutHold, "checkout_hold".to_owned()),
            (
                LedgerAccount::EventReward("sign_in".to_owned()),
                "reward:sign_in".to_owned(),
            ),
            (
                LedgerAccount::MergeTransit(merge),
                format!("transfer:merge:{merge}"),
            ),
            (
                LedgerAccount::UnmergeTransit(merge),
                format!("transfer:unmerge:{merge}"),
            ),
        ];
        for (account, name) in cases {
            assert_eq!(account.to_string(), name);
            assert_eq!(parse(&name), Ok(account));
        }
    }

    #[test]
    fn only_the_member_accounts_are_the_members() {
        assert!(LedgerAccount::MemberAvailable.is_member());
        assert!(LedgerAccount::MemberPending.is_member());
        assert!(!LedgerAccount::CheckoutHold.is_member());
        assert!(!LedgerAccount::issuance(None).is_member());
    }

    #[test]
    fn malformed_names_are_refused() {
        let format = Uuid::now_v7();
        let upper = format.to_string().to_uppercase();
        let simple = format.simple().to_string();
        for name in [
            "",
            "member",
            "member.",
            "member.other",
            "Member.available",
            "member.available ",
            " expiry",
            "issuance",
            "issuance:",
            "issuance:Group",
            "issuance:group:",
            "issuance:not-a-uuid",
            &format!("issuance:{upper}"),
            &format!("issuance:{simple}"),
            &format!("issuance:{{{format}}}"),
            &format!("redemption:{format}x"),
            "donation:",
            "reward:",
            "reward:Sign_in",
            "reward:sign in",
            "reward:sign-in",
            "transfer:",
            "transfer:merge:",
            "transfer:merge:group",
            &format!("transfer:{format}"),
            &format!("transfer:remerge:{format}"),
            "liability:group",
        ] {
            assert_eq!(
                parse(name),
                Err(UnknownAccount(name.to_owned())),
                "{name:?}"
            );
        }
    }

    fn format() -> impl Strategy<Value = Option<FormatId>> {
        proptest::option::of(any::<u128>().prop_map(|n| FormatId(Uuid::from_u128(n))))
    }

    fn account() -> impl Strategy<Value = LedgerAccount> {
        prop_oneof![
            Just(LedgerAccount::MemberAvailable),
            Just(LedgerAccount::MemberPending),
            format().prop_map(LedgerAccount::Issuance),
            format().prop_map(LedgerAccount::Redemption),
            format().prop_map(LedgerAccount::Donation),
            Just(LedgerAccount::Adjustment),
            Just(LedgerAccount::Expiry),
            Just(LedgerAccount::CheckoutHold),
            "[a-z0-9_]{1,24}".prop_map(LedgerAccount::EventReward),
            any::<u128>().prop_map(|n| LedgerAccount::MergeTransit(Uuid::from_u128(n))),
            any::<u128>().prop_map(|n| LedgerAccount::UnmergeTransit(Uuid::from_u128(n))),
        ]
    }

    /// Real names with a character or two of noise before or after, and random text.
    fn near_name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z_.:0-9-]{0,60}",
            (account(), "[A-Za-z0-9:{} -]{0,2}", any::<bool>()).prop_map(
                |(account, noise, before)| if before {
                    format!("{noise}{account}")
                } else {
                    format!("{account}{noise}")
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn any_account_round_trips(account in account()) {
            let name = account.to_string();
            prop_assert_eq!(parse(&name), Ok(account));
        }

        /// Whatever parses is written back byte for byte: no two names mean the same account.
        #[test]
        fn any_accepted_name_is_written_back_unchanged(name in near_name()) {
            if let Ok(account) = parse(&name) {
                prop_assert_eq!(account.to_string(), name);
            }
        }
    }
}

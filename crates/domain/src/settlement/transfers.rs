//! The inter-format matrix and the net transfer per party. A party is a business format or, as
//! `None`, the group (HQ): points issued without a format (manual adjustments) and coupons HQ
//! bears. Every charge moves fen from a payer to a payee, so the nets sum to zero by
//! construction; in HQ-funded mode headquarters pays everything and no format owes another.

use super::policy::{Rate, SettlementMode};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A format, or `None` for the group.
pub type Party = Option<Uuid>;

/// Fen one party owes another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charge {
    pub payer: Party,
    pub payee: Party,
    pub fen: i64,
}

/// Points issued by `issuer` and spent in `spender`, valued at the settlement rate: the spender
/// claims them from the issuer.
pub fn points_charge(issuer: Party, spender: Party, points: i64, rate: Rate) -> Charge {
    Charge {
        payer: issuer,
        payee: spender,
        fen: rate.value_fen(points),
    }
}

/// The net transfer of every party named in `charges` (positive: receives).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetTransfers {
    pub nets: BTreeMap<Party, i64>,
}

impl NetTransfers {
    pub fn of(&self, party: Party) -> i64 {
        self.nets.get(&party).copied().unwrap_or(0)
    }

    pub fn total(&self) -> i64 {
        self.nets.values().sum()
    }
}

/// Nets the charges per party. Charges a party owes itself cancel out; in HQ-funded mode every
/// party is listed with zero.
pub fn net_transfers(mode: SettlementMode, charges: &[Charge]) -> NetTransfers {
    let mut nets: BTreeMap<Party, i64> = BTreeMap::new();
    for charge in charges {
        let moved = if mode == SettlementMode::Independent && charge.payer != charge.payee {
            charge.fen
        } else {
            0
        };
        *nets.entry(charge.payer).or_default() -= moved;
        *nets.entry(charge.payee).or_default() += moved;
    }
    NetTransfers { nets }
}

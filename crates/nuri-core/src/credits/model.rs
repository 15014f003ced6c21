//! The credit domain: programmes, grants, reservations, ledger entries, balances, statements.
//! Every amount is integer milli-won (`i64`); floating point never touches money.

use serde::{Deserialize, Serialize};

/// A sponsor's pot of credits with a total budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Programme {
    /// `prog_…`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Who pays (e.g. a ministry's voucher programme).
    pub sponsor: String,
    /// ISO 4217 code; amounts are in its minor unit × 1,000 for KRW (milli-won).
    pub currency: String,
    /// Total budget, milli-won.
    pub budget: i64,
    /// Sum of its grants' amounts, milli-won (never above `budget`).
    pub allocated: i64,
    /// Unix ms.
    pub created_at: i64,
}

impl Programme {
    /// Budget not yet granted.
    pub fn unallocated(&self) -> i64 {
        self.budget - self.allocated
    }
}

/// Whether a grant can pay for new requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Pays for requests inside its window.
    Active,
    /// Temporarily refuses new reservations; held ones still settle.
    Frozen,
    /// Ended for good; its unspent credit went back to the programme.
    Revoked,
}

impl GrantStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Frozen => "frozen",
            Self::Revoked => "revoked",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "frozen" => Some(Self::Frozen),
            "revoked" => Some(Self::Revoked),
            _ => None,
        }
    }
}

/// Credits from a programme to an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// `grant_…`.
    pub id: String,
    /// The paying programme.
    pub programme_id: String,
    /// The organisation whose projects may spend it.
    pub org_id: String,
    /// Credit granted, milli-won (top-ups add to it; revocation lowers it to what was used).
    pub amount: i64,
    /// Settled spending, milli-won.
    pub spent: i64,
    /// Held by in-flight requests, milli-won.
    pub reserved: i64,
    /// Start of validity, Unix ms.
    pub starts_at: i64,
    /// End of validity (exclusive), Unix ms; `None` = open-ended.
    pub ends_at: Option<i64>,
    /// Public model names it may pay for; `None` = any.
    pub models: Option<Vec<String>>,
    /// Provider names it may pay for; `None` = any.
    pub providers: Option<Vec<String>>,
    /// Active, frozen or revoked.
    pub status: GrantStatus,
    /// Unix ms.
    pub created_at: i64,
}

impl Grant {
    /// Credit neither spent nor held.
    pub fn remaining(&self) -> i64 {
        (self.amount - self.spent - self.reserved).max(0)
    }

    /// Whether the grant's window contains `now_ms`.
    pub fn in_window(&self, now_ms: i64) -> bool {
        self.starts_at <= now_ms && self.ends_at.is_none_or(|end| now_ms < end)
    }

    /// Whether it may pay for `model`, served by `providers` (every route's provider must be
    /// allowed, so the grant never pays a provider it excludes).
    pub fn may_pay_for(&self, model: &str, providers: &[&str]) -> bool {
        let model_ok = self
            .models
            .as_ref()
            .is_none_or(|list| list.iter().any(|m| m == model));
        let providers_ok = self.providers.as_ref().is_none_or(|list| {
            !providers.is_empty() && providers.iter().all(|p| list.iter().any(|l| l == p))
        });
        model_ok && providers_ok
    }
}

/// Where a reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// Holding credit for a request in flight.
    Held,
    /// Settled at the request's actual cost; the rest released.
    Settled,
    /// Expired unsettled (its replica died): charged at the reserved amount.
    Orphaned,
    /// An orphaned reservation an operator refunded.
    Refunded,
}

impl ReservationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Settled => "settled",
            Self::Orphaned => "orphaned",
            Self::Refunded => "refunded",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "held" => Some(Self::Held),
            "settled" => Some(Self::Settled),
            "orphaned" => Some(Self::Orphaned),
            "refunded" => Some(Self::Refunded),
            _ => None,
        }
    }
}

/// A request's hold on a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// `rsv_…` (a request that falls back to another model holds a second one).
    pub id: String,
    /// The request it belongs to.
    pub request_id: String,
    /// The grant holding the credit.
    pub grant_id: String,
    /// The grant's organisation.
    pub org_id: String,
    /// The requesting project.
    pub project_id: String,
    /// The requesting key.
    pub key_id: String,
    /// Public model name.
    pub model: String,
    /// Worst-case cost held, milli-won.
    pub amount: i64,
    /// Charged cost once settled or orphaned.
    pub cost: Option<i64>,
    /// Held, settled, orphaned or refunded.
    pub status: ReservationStatus,
    /// When an unsettled hold expires (kept alive while its request runs), Unix ms.
    pub expires_at: i64,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub settled_at: Option<i64>,
}

/// One reservation to attempt: the grants to try, in order, and what to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRequest {
    /// New reservation id.
    pub id: String,
    /// The request.
    pub request_id: String,
    /// Paying organisation.
    pub org_id: String,
    /// Requesting project.
    pub project_id: String,
    /// Requesting key.
    pub key_id: String,
    /// Public model name.
    pub model: String,
    /// Worst-case cost, milli-won (> 0).
    pub amount: i64,
    /// Candidate grant ids, first-expiring first.
    pub grants: Vec<String>,
    /// Now, Unix ms (the grant's window must contain it).
    pub now: i64,
    /// Expiry of the hold, Unix ms.
    pub expires_at: i64,
    /// Spending caps the hold must also fit under.
    pub caps: Vec<SpendCap>,
}

/// A spending cap of a key or project for one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendCap {
    /// What is capped, e.g. `key:key_…` or `project:proj_…`.
    pub subject: String,
    /// The period, e.g. `day:2026-11-30` or `month:2026-11` (billing time zone).
    pub period: String,
    /// The cap, milli-won.
    pub limit: i64,
}

/// The answer to one reservation attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// Held on this grant.
    Reserved(String),
    /// No candidate grant could pay.
    NoGrant,
    /// A spending cap would be exceeded (the cap's subject and period).
    CapReached(SpendCap),
}

/// Settling one reservation at its actual cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettleRequest {
    /// The reservation.
    pub reservation_id: String,
    /// What the reservation holds, as it was reserved. The store settles only a held
    /// reservation that matches it (checked in the same statement), so it need not read the
    /// reservation back.
    pub held: HeldFacts,
    /// Actual cost, milli-won; charged up to the held amount, never beyond.
    pub cost: i64,
    /// Now, Unix ms.
    pub now: i64,
}

/// What a reservation was made with (see [`SettleRequest::held`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldFacts {
    /// The grant it holds credit on.
    pub grant_id: String,
    /// The amount held, milli-won.
    pub amount: i64,
    /// The request it was made for.
    pub request_id: String,
    /// Whether it also counts against spending caps.
    pub capped: bool,
}

/// The kinds of ledger movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A grant created (amount +).
    Grant,
    /// A grant topped up (amount +).
    TopUp,
    /// A grant revoked, or a revoked grant's released hold returned (amount −).
    Revoke,
    /// Credit held for a request (reserved +).
    Reserve,
    /// A request settled (reserved −, spent + actual).
    Settle,
    /// An unsettled hold expired (reserved −, spent + held).
    Expire,
    /// An orphaned charge refunded (spent −).
    Refund,
}

impl EntryKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::TopUp => "top_up",
            Self::Revoke => "revoke",
            Self::Reserve => "reserve",
            Self::Settle => "settle",
            Self::Expire => "expire",
            Self::Refund => "refund",
        }
    }
}

/// The result of recomputing every balance from the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerReport {
    /// True when every derived balance matches and every invariant holds.
    pub ok: bool,
    /// Number of ledger entries checked.
    pub entries: i64,
    /// What does not match, one line each.
    pub mismatches: Vec<String>,
}

/// One grant as a tenant sees it in `GET /v1/balance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantBalance {
    /// Grant id.
    pub id: String,
    /// Granted, milli-won.
    pub amount: i64,
    /// Spent, milli-won.
    pub spent: i64,
    /// Held by requests in flight, milli-won.
    pub reserved: i64,
    /// `amount - spent - reserved`, never negative.
    pub remaining: i64,
    /// Active, frozen or revoked.
    pub status: GrantStatus,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339, or null when open-ended.
    pub ends_at: Option<String>,
    /// Models it may pay for (null = any).
    pub models: Option<Vec<String>>,
}

/// An organisation's credit (`GET /v1/balance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Always `"balance"`.
    pub object: String,
    /// Currency of the amounts.
    pub currency: String,
    /// Sum over current grants (not revoked, window not ended), milli-won.
    pub granted: i64,
    /// Spent from those grants.
    pub spent: i64,
    /// Held by requests in flight.
    pub reserved: i64,
    /// `granted - spent - reserved`, never negative.
    pub remaining: i64,
    /// Every grant of the organisation, current ones first.
    pub grants: Vec<GrantBalance>,
}

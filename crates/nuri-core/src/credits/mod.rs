//! Compute credits: programmes grant credits to organisations; every request to a priced model
//! reserves its worst-case cost from a grant before it is forwarded and settles the actual cost
//! after. The [`CreditStore`] port does each movement as one atomic conditional update plus an
//! append-only ledger entry, so `spent + reserved ≤ amount` holds on every grant under any
//! concurrency, on one replica or many. [`CreditEngine`] is the pipeline stage.

mod engine;
mod model;
mod statement;

use async_trait::async_trait;

pub use engine::{CreditEngine, CreditSettings};
pub use model::{
    Balance, EntryKind, Grant, GrantBalance, GrantStatus, HeldFacts, LedgerReport, Programme,
    Reservation, ReservationStatus, ReserveOutcome, ReserveRequest, SettleRequest, SpendCap,
};
pub use statement::{
    to_csv, LedgerTotals, OrgLine, Period, PeriodError, ProviderLine, Statement, StatementLine,
};

use crate::store::{Page, PageRequest, StoreError};

/// Which grants to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    /// Only this programme's.
    pub programme_id: Option<String>,
    /// Only this organisation's.
    pub org_id: Option<String>,
}

/// Programmes, grants, reservations and the ledger.
#[async_trait]
pub trait CreditStore: Send + Sync {
    /// Inserts a programme (with `allocated = 0`).
    async fn create_programme(&self, programme: &Programme) -> Result<(), StoreError>;
    /// Reads a programme.
    async fn get_programme(&self, id: &str) -> Result<Programme, StoreError>;
    /// Lists programmes by id.
    async fn list_programmes(&self, page: &PageRequest) -> Result<Page<Programme>, StoreError>;
    /// Inserts a grant and allocates its amount from its programme in one transaction;
    /// `Conflict` when the programme's unallocated budget is smaller.
    async fn create_grant(&self, grant: &Grant, actor: &str) -> Result<(), StoreError>;
    /// Reads a grant.
    async fn get_grant(&self, id: &str) -> Result<Grant, StoreError>;
    /// Lists grants by id.
    async fn list_grants(
        &self,
        filter: &GrantFilter,
        page: &PageRequest,
    ) -> Result<Page<Grant>, StoreError>;
    /// Every grant of an organisation.
    async fn org_grants(&self, org_id: &str) -> Result<Vec<Grant>, StoreError>;
    /// Adds `amount` to a grant (from its programme's unallocated budget); `Conflict` when the
    /// budget is short or the grant is revoked.
    async fn top_up_grant(
        &self,
        id: &str,
        amount: i64,
        actor: &str,
        now: i64,
    ) -> Result<Grant, StoreError>;
    /// Freezes (`Frozen`) or unfreezes (`Active`) a grant; `Conflict` when revoked.
    async fn set_grant_status(&self, id: &str, status: GrantStatus) -> Result<Grant, StoreError>;
    /// Revokes a grant: its unspent, unheld credit returns to the programme (idempotent).
    async fn revoke_grant(&self, id: &str, actor: &str, now: i64) -> Result<Grant, StoreError>;
    /// Attempts reservations in one transaction. For each request, every spending cap is
    /// charged with a conditional update, then the first candidate grant that is active, inside
    /// its window and has `amount` left; a request that fails either leaves nothing behind.
    async fn reserve(&self, batch: &[ReserveRequest]) -> Result<Vec<ReserveOutcome>, StoreError>;
    /// Settles held reservations in one transaction (idempotent: a reservation no longer held
    /// is skipped).
    async fn settle(&self, batch: &[SettleRequest]) -> Result<(), StoreError>;
    /// Pushes back the expiry of reservations still held.
    async fn extend_reservations(&self, ids: &[String], expires_at: i64) -> Result<(), StoreError>;
    /// Settles up to `limit` held reservations that expired before `now` at their held amount,
    /// as `orphaned`; returns how many.
    async fn expire_reservations(&self, now: i64, limit: u32) -> Result<u64, StoreError>;
    /// Refunds an orphaned reservation's charge to its grant.
    async fn refund_reservation(
        &self,
        id: &str,
        actor: &str,
        now: i64,
    ) -> Result<Reservation, StoreError>;
    /// Reads a reservation.
    async fn get_reservation(&self, id: &str) -> Result<Reservation, StoreError>;
    /// Lists reservations, optionally of one status, by id.
    async fn list_reservations(
        &self,
        status: Option<ReservationStatus>,
        page: &PageRequest,
    ) -> Result<Page<Reservation>, StoreError>;
    /// Recomputes every grant's and programme's balance from the ledger and checks the
    /// invariants.
    async fn verify_ledger(&self) -> Result<LedgerReport, StoreError>;
    /// Provider statement lines for `[from, to)`.
    async fn provider_lines(&self, from: i64, to: i64) -> Result<Vec<ProviderLine>, StoreError>;
    /// Organisation statement lines for `[from, to)`, optionally of one organisation.
    async fn org_lines(
        &self,
        org_id: Option<&str>,
        from: i64,
        to: i64,
    ) -> Result<Vec<OrgLine>, StoreError>;
    /// Ledger totals for requests recorded in `[from, to)`, optionally of one organisation.
    async fn ledger_totals(
        &self,
        org_id: Option<&str>,
        from: i64,
        to: i64,
    ) -> Result<LedgerTotals, StoreError>;
}

/// A tenant's balance from its grants at `now_ms`: totals over current grants (not revoked,
/// window not ended); every grant listed, current ones first.
pub fn balance_of(grants: &[Grant], now_ms: i64) -> Balance {
    let current =
        |g: &Grant| g.status != GrantStatus::Revoked && g.ends_at.is_none_or(|e| now_ms < e);
    let mut sorted: Vec<&Grant> = grants.iter().collect();
    sorted.sort_by_key(|g| (!current(g), g.ends_at.unwrap_or(i64::MAX), g.id.clone()));
    let (mut granted, mut spent, mut reserved) = (0i64, 0i64, 0i64);
    for g in sorted.iter().filter(|g| current(g)) {
        granted += g.amount;
        spent += g.spent;
        reserved += g.reserved;
    }
    Balance {
        object: "balance".into(),
        currency: "KRW".into(),
        granted,
        spent,
        reserved,
        remaining: (granted - spent - reserved).max(0),
        grants: sorted
            .into_iter()
            .map(|g| GrantBalance {
                id: g.id.clone(),
                amount: g.amount,
                spent: g.spent,
                reserved: g.reserved,
                remaining: g.remaining(),
                status: g.status,
                starts_at: crate::time::format_rfc3339_ms(g.starts_at),
                ends_at: g.ends_at.map(crate::time::format_rfc3339_ms),
                models: g.models.clone(),
            })
            .collect(),
    }
}

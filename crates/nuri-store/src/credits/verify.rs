//! `ledger verify`: every grant's and programme's balance recomputed from the ledger, and the
//! invariants checked.

use nuri_core::credits::LedgerReport;
use nuri_core::store::StoreError;
use sqlx::{AnyPool, Row};

use crate::connect::db_err;

/// Recomputes balances from the ledger and lists every mismatch.
pub(super) async fn verify(pool: &AnyPool) -> Result<LedgerReport, StoreError> {
    let entries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger_entries")
        .fetch_one(pool)
        .await
        .map_err(db_err)?;
    let mut mismatches = Vec::new();
    let rows = sqlx::query(
        "SELECT g.id, g.amount, g.spent, g.reserved, \
         CAST(COALESCE(SUM(l.d_amount), 0) AS BIGINT) AS la, \
         CAST(COALESCE(SUM(l.d_spent), 0) AS BIGINT) AS ls, \
         CAST(COALESCE(SUM(l.d_reserved), 0) AS BIGINT) AS lr \
         FROM grants g LEFT JOIN ledger_entries l ON l.grant_id = g.id \
         GROUP BY g.id, g.amount, g.spent, g.reserved ORDER BY g.id",
    )
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    for row in &rows {
        let id: String = row.try_get("id").map_err(db_err)?;
        let get = |c: &str| row.try_get::<i64, _>(c).map_err(db_err);
        let (amount, spent, reserved) = (get("amount")?, get("spent")?, get("reserved")?);
        for (what, stored, derived) in [
            ("amount", amount, get("la")?),
            ("spent", spent, get("ls")?),
            ("reserved", reserved, get("lr")?),
        ] {
            if stored != derived {
                mismatches.push(format!(
                    "grant {id}: {what} is {stored} but the ledger gives {derived}"
                ));
            }
        }
        if spent < 0 || reserved < 0 || spent + reserved > amount {
            mismatches.push(format!(
                "grant {id}: spent {spent} + reserved {reserved} exceeds amount {amount}"
            ));
        }
    }
    let rows = sqlx::query(
        "SELECT g.id, g.reserved, g.spent, \
         CAST(COALESCE(SUM(CASE WHEN r.status = 'held' THEN r.amount ELSE 0 END), 0) AS BIGINT) AS held, \
         CAST(COALESCE(SUM(CASE WHEN r.status IN ('settled', 'orphaned') THEN r.cost ELSE 0 END), 0) AS BIGINT) AS charged \
         FROM grants g LEFT JOIN reservations r ON r.grant_id = g.id \
         GROUP BY g.id, g.reserved, g.spent ORDER BY g.id",
    )
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    for row in &rows {
        let id: String = row.try_get("id").map_err(db_err)?;
        let get = |c: &str| row.try_get::<i64, _>(c).map_err(db_err);
        if get("reserved")? != get("held")? {
            mismatches.push(format!(
                "grant {id}: reserved {} but held reservations total {}",
                get("reserved")?,
                get("held")?
            ));
        }
        if get("spent")? != get("charged")? {
            mismatches.push(format!(
                "grant {id}: spent {} but settled reservations total {}",
                get("spent")?,
                get("charged")?
            ));
        }
    }
    let rows = sqlx::query(
        "SELECT reservation_id, kind, COUNT(*) AS n FROM ledger_entries \
         WHERE reservation_id IS NOT NULL GROUP BY reservation_id, kind HAVING COUNT(*) > 1 \
         ORDER BY reservation_id, kind",
    )
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    for row in &rows {
        let id: String = row.try_get("reservation_id").map_err(db_err)?;
        let kind: String = row.try_get("kind").map_err(db_err)?;
        let n: i64 = row.try_get("n").map_err(db_err)?;
        mismatches.push(format!(
            "reservation {id}: {n} `{kind}` entries, at most one allowed"
        ));
    }
    let rows = sqlx::query(
        "SELECT p.id, p.budget, p.allocated, CAST(COALESCE(SUM(g.amount), 0) AS BIGINT) AS granted \
         FROM programmes p LEFT JOIN grants g ON g.programme_id = p.id \
         GROUP BY p.id, p.budget, p.allocated ORDER BY p.id",
    )
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    for row in &rows {
        let id: String = row.try_get("id").map_err(db_err)?;
        let get = |c: &str| row.try_get::<i64, _>(c).map_err(db_err);
        let (budget, allocated, granted) = (get("budget")?, get("allocated")?, get("granted")?);
        if allocated != granted {
            mismatches.push(format!(
                "programme {id}: allocated {allocated} but its grants total {granted}"
            ));
        }
        if granted > budget {
            mismatches.push(format!(
                "programme {id}: grants total {granted}, over the budget of {budget}"
            ));
        }
    }
    Ok(LedgerReport {
        ok: mismatches.is_empty(),
        entries,
        mismatches,
    })
}

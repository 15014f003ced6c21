//! The hot path: a writer's batch of reservations or settlements in one transaction. Each
//! reservation is still its own conditional `UPDATE` of its grant (and caps); what can be
//! shared is: the reservation rows and ledger entries go in multi-row `INSERT`s, and a batch's
//! settlements update each grant once, in grant-id order (so replicas lock rows in one order).

use std::collections::BTreeMap;

use nuri_core::credits::{EntryKind, ReserveOutcome, ReserveRequest, SettleRequest};
use nuri_core::store::StoreError;

use super::{
    append_many, caps_of, charge_caps, grant_in, move_caps, return_released, Entry, ROWS_PER_INSERT,
};
use crate::connect::InsertSql;
use crate::exec::{update_returning, Exec, Value};

/// A reservation that found its grant.
struct Held<'a> {
    request: &'a ReserveRequest,
    grant_id: String,
    programme_id: String,
    caps: Option<String>,
}

/// Reserves each request in order; see `CreditStore::reserve`.
pub(super) async fn reserve(
    db: &mut dyn Exec,
    batch: &[ReserveRequest],
) -> Result<Vec<ReserveOutcome>, StoreError> {
    let mut out: Vec<Option<ReserveOutcome>> = vec![None; batch.len()];
    let mut held = Vec::with_capacity(batch.len());
    for (grant_id, members) in groups(batch) {
        let first = &batch[members[0]];
        let total: i64 = members.iter().map(|&i| batch[i].amount).sum();
        let row = hold(db, grant_id, &first.org_id, total, first.now).await?;
        if let Some(programme_id) = row {
            for &i in &members {
                out[i] = Some(ReserveOutcome::Reserved(grant_id.to_owned()));
                held.push(Held {
                    request: &batch[i],
                    grant_id: grant_id.to_owned(),
                    programme_id: programme_id.clone(),
                    caps: None,
                });
            }
        }
    }
    for (i, r) in batch.iter().enumerate() {
        if out[i].is_some() {
            continue;
        }
        if let Some(cap) = charge_caps(db, &r.caps, r.amount).await? {
            out[i] = Some(ReserveOutcome::CapReached(cap));
            continue;
        }
        let mut found = None;
        for grant_id in &r.grants {
            if let Some(programme_id) = hold(db, grant_id, &r.org_id, r.amount, r.now).await? {
                found = Some((grant_id.clone(), programme_id));
                break;
            }
        }
        let caps: Vec<(String, String)> = r
            .caps
            .iter()
            .map(|c| (c.subject.clone(), c.period.clone()))
            .collect();
        match found {
            Some((grant_id, programme_id)) => {
                out[i] = Some(ReserveOutcome::Reserved(grant_id.clone()));
                held.push(Held {
                    request: r,
                    grant_id,
                    programme_id,
                    caps: (!caps.is_empty())
                        .then(|| serde_json::to_string(&caps).unwrap_or_else(|_| "[]".into())),
                });
            }
            None => {
                move_caps(db, &caps, -r.amount).await?;
                out[i] = Some(ReserveOutcome::NoGrant);
            }
        }
    }
    insert_reservations(db, &held).await?;
    let entries: Vec<Entry<'_>> = held
        .iter()
        .map(|h| Entry {
            kind: EntryKind::Reserve,
            grant_id: &h.grant_id,
            programme_id: &h.programme_id,
            org_id: &h.request.org_id,
            reservation_id: Some(&h.request.id),
            request_id: Some(&h.request.request_id),
            d_amount: 0,
            d_spent: 0,
            d_reserved: h.request.amount,
            actor: None,
            at: h.request.now,
        })
        .collect();
    append_many(db, &entries).await?;
    Ok(out
        .into_iter()
        .map(|o| o.unwrap_or(ReserveOutcome::NoGrant))
        .collect())
}

/// Adds `amount` to the grant's reserved credit if it is active, in its window, belongs to
/// `org_id` and has that much unreserved; returns its programme if it did.
async fn hold(
    db: &mut dyn Exec,
    grant_id: &str,
    org_id: &str,
    amount: i64,
    now: i64,
) -> Result<Option<String>, StoreError> {
    const HOLD: &str = "UPDATE grants SET reserved = reserved + $1 WHERE id = $2 AND org_id = $3 \
         AND status = 'active' AND starts_at <= $4 AND (ends_at IS NULL OR ends_at > $4) \
         AND amount - spent - reserved >= $1";
    let args = [amount.into(), grant_id.into(), org_id.into(), now.into()];
    let rows = update_returning(db, HOLD, &args, ("grants", grant_id), "programme_id").await?;
    rows.first().map(|row| row.text_at(0)).transpose()
}

/// Requests without spending caps that share their first-choice grant and organisation, in
/// groups of two or more: each group is first tried as one conditional update of the whole
/// group's total (all or none); what does not fit goes one by one.
fn groups(batch: &[ReserveRequest]) -> Vec<(&str, Vec<usize>)> {
    let mut by_grant: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, r) in batch.iter().enumerate() {
        if let (true, Some(g)) = (r.caps.is_empty(), r.grants.first()) {
            by_grant.entry((g, &r.org_id)).or_default().push(i);
        }
    }
    by_grant
        .into_iter()
        .filter(|(_, members)| members.len() > 1)
        .map(|((g, _), members)| (g, members))
        .collect()
}

/// Inserting held reservations.
static INSERT_RESERVATIONS: InsertSql = InsertSql::new(
    "INSERT INTO reservations (id, request_id, grant_id, org_id, project_id, key_id, model, amount, \
     status, expires_at, created_at, caps)",
    12,
    "",
);

async fn insert_reservations(db: &mut dyn Exec, held: &[Held<'_>]) -> Result<(), StoreError> {
    for chunk in held.chunks(db.rows_per_statement(ROWS_PER_INSERT)) {
        let sql = INSERT_RESERVATIONS.sql(chunk.len());
        let mut args = Vec::with_capacity(chunk.len() * 12);
        for h in chunk {
            let r = h.request;
            args.extend([
                Value::from(&r.id),
                (&r.request_id).into(),
                (&h.grant_id).into(),
                (&r.org_id).into(),
                (&r.project_id).into(),
                (&r.key_id).into(),
                (&r.model).into(),
                r.amount.into(),
                "held".into(),
                r.expires_at.into(),
                r.now.into(),
                h.caps.as_deref().into(),
            ]);
        }
        db.execute(&sql, &args).await?;
    }
    Ok(())
}

/// Settlements per `UPDATE` (6 values each).
const SETTLE_CHUNK: usize = 100;

/// Settles `n` held reservations that match what they were made with, in one statement, and
/// returns what each settled: id, grant, request, amount, cost and spending caps. From `$2`, six
/// values each: id, cost, grant, amount, request, and 1 if it counts against caps or 0. (The
/// plain `id IN` lets the planner find the rows by key.)
fn settle_many_sql(n: usize) -> String {
    let mut cases = String::new();
    let mut ids = Vec::with_capacity(n);
    let mut facts = Vec::with_capacity(n);
    for k in 0..n {
        let [id, cost, grant, amount, request, capped] = [2, 3, 4, 5, 6, 7].map(|i| 6 * k + i);
        cases.push_str(&format!(" WHEN ${id} THEN ${cost}"));
        ids.push(format!("${id}"));
        facts.push(format!(
            "(${id}, ${grant}, ${amount}, ${request}, ${capped})"
        ));
    }
    format!(
        "UPDATE reservations SET status = 'settled', settled_at = $1, cost = CASE id{cases} END \
         WHERE id IN ({}) AND status = 'held' AND (id, grant_id, amount, request_id, \
         CASE WHEN caps IS NULL THEN 0 ELSE 1 END) IN ({}) \
         RETURNING id, grant_id, request_id, amount, cost, caps",
        ids.join(", "),
        facts.join(", ")
    )
}

/// A settled reservation.
struct Settled {
    id: String,
    grant_id: String,
    request_id: String,
    amount: i64,
    cost: i64,
    capped: bool,
}

/// Settles a chunk with one statement, reading back what it settled (over the network, where
/// `RETURNING` costs nothing extra).
async fn settle_returning(
    db: &mut dyn Exec,
    chunk: &[SettleRequest],
    now: i64,
) -> Result<Vec<Settled>, StoreError> {
    let mut args = Vec::with_capacity(1 + 6 * chunk.len());
    args.push(Value::from(now));
    for s in chunk {
        let h = &s.held;
        args.extend([
            Value::from(&s.reservation_id),
            s.cost.clamp(0, h.amount).into(),
            (&h.grant_id).into(),
            h.amount.into(),
            (&h.request_id).into(),
            i64::from(h.capped).into(),
        ]);
    }
    let rows = db.rows(&settle_many_sql(chunk.len()), &args).await?;
    rows.iter()
        .map(|row| {
            Ok(Settled {
                id: row.text_at(0)?,
                grant_id: row.text_at(1)?,
                request_id: row.text_at(2)?,
                amount: row.int_at(3)?,
                cost: row.int_at(4)?,
                capped: row.opt_text_at(5)?.is_some(),
            })
        })
        .collect()
}

/// Settles one reservation from what it was made with (`SettleRequest::held`), which the
/// statement checks against the stored row: nothing needs reading back (in process, a read is a
/// statement of its own). Settles nothing if the reservation is not held or does not match.
async fn settle_known(
    db: &mut dyn Exec,
    s: &SettleRequest,
    now: i64,
) -> Result<Option<Settled>, StoreError> {
    const SETTLE: &str = "UPDATE reservations SET status = 'settled', settled_at = $1, cost = $2 \
         WHERE id = $3 AND status = 'held' AND grant_id = $4 AND amount = $5 \
         AND request_id = $6 AND CASE WHEN caps IS NULL THEN 0 ELSE 1 END = $7";
    let h = &s.held;
    let cost = s.cost.clamp(0, h.amount);
    let args = [
        now.into(),
        cost.into(),
        (&s.reservation_id).into(),
        (&h.grant_id).into(),
        h.amount.into(),
        (&h.request_id).into(),
        i64::from(h.capped).into(),
    ];
    if db.execute(SETTLE, &args).await? == 0 {
        return Ok(None);
    }
    Ok(Some(Settled {
        id: s.reservation_id.clone(),
        grant_id: h.grant_id.clone(),
        request_id: h.request_id.clone(),
        amount: h.amount,
        cost,
        capped: h.capped,
    }))
}

/// Settles each held reservation; see `CreditStore::settle`.
pub(super) async fn settle(db: &mut dyn Exec, batch: &[SettleRequest]) -> Result<(), StoreError> {
    let mut by_grant: BTreeMap<String, Vec<Settled>> = BTreeMap::new();
    let now = batch.iter().map(|s| s.now).max().unwrap_or_default();
    for chunk in batch.chunks(db.rows_per_statement(SETTLE_CHUNK)) {
        let settled = match chunk {
            [one] if db.in_process() => settle_known(db, one, now).await?.into_iter().collect(),
            _ => settle_returning(db, chunk, now).await?,
        };
        for s in settled {
            if s.capped {
                let caps = caps_of(db, &s.id).await?;
                move_caps(db, &caps, s.cost - s.amount).await?;
            }
            by_grant.entry(s.grant_id.clone()).or_default().push(s);
        }
    }
    let mut owners = Vec::with_capacity(by_grant.len());
    for (grant_id, settled) in &by_grant {
        let held: i64 = settled.iter().map(|s| s.amount).sum();
        let cost: i64 = settled.iter().map(|s| s.cost).sum();
        const RELEASE: &str =
            "UPDATE grants SET reserved = reserved - $1, spent = spent + $2 WHERE id = $3";
        let args = [held.into(), cost.into(), grant_id.into()];
        let owner = "programme_id, org_id, status";
        let rows = update_returning(db, RELEASE, &args, ("grants", grant_id), owner).await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::NotFound(format!("grant {grant_id}")))?;
        owners.push((
            grant_id,
            row.text_at(0)?,
            row.text_at(1)?,
            row.text_at(2)? == "revoked",
        ));
    }
    let mut entries = Vec::with_capacity(batch.len());
    for (grant_id, programme_id, org_id, _) in &owners {
        for s in &by_grant[*grant_id] {
            entries.push(Entry {
                kind: EntryKind::Settle,
                grant_id,
                programme_id,
                org_id,
                reservation_id: Some(&s.id),
                request_id: Some(&s.request_id),
                d_amount: 0,
                d_spent: s.cost,
                d_reserved: -s.amount,
                actor: None,
                at: now,
            });
        }
    }
    append_many(db, &entries).await?;
    for (grant_id, _, _, revoked) in &owners {
        if *revoked {
            let g = grant_in(db, grant_id).await?;
            for s in &by_grant[*grant_id] {
                return_released(db, &g, s.amount - s.cost, None, now).await?;
            }
        }
    }
    Ok(())
}

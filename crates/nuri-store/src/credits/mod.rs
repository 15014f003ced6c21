//! Programmes, grants, reservations and the ledger. Every money movement is one conditional
//! `UPDATE` (the condition is the invariant, so concurrent movements can never overspend) plus
//! an append-only ledger entry, in one transaction. Transactions start with a write, so SQLite
//! takes its write lock up front and PostgreSQL locks the row before anything is read.

use async_trait::async_trait;
use nuri_core::credits::{
    CreditStore, EntryKind, Grant, GrantFilter, GrantStatus, LedgerReport, LedgerTotals, OrgLine,
    Programme, ProviderLine, Reservation, ReservationStatus, ReserveOutcome, ReserveRequest,
    SettleRequest, SpendCap,
};
use nuri_core::store::{Page, PageRequest, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row as _;

mod batch;
mod statements;
mod verify;

use crate::connect::{db_err, InsertSql, SqlStore};
use crate::exec::{via_row, work, Exec, Row, Value};
use crate::tenancy::{page_of, sqlx_map};
use crate::writer::Lane;

fn list_json(list: &Option<Vec<String>>) -> Option<String> {
    list.as_ref()
        .map(|l| serde_json::to_string(l).unwrap_or_else(|_| "[]".into()))
}

fn programme(row: &AnyRow) -> Result<Programme, sqlx::Error> {
    Ok(Programme {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        sponsor: row.try_get("sponsor")?,
        currency: row.try_get("currency")?,
        budget: row.try_get("budget")?,
        allocated: row.try_get("allocated")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The grant columns, in the order `grant` reads them.
const GRANT_COLUMNS: &str =
    "id, programme_id, org_id, amount, spent, reserved, starts_at, ends_at, \
    models, providers, status, created_at";

fn grant(row: &Row) -> Result<Grant, StoreError> {
    let list = |col: &str| -> Result<Option<Vec<String>>, StoreError> {
        Ok(row
            .opt_text(col)?
            .and_then(|t| serde_json::from_str(&t).ok()))
    };
    Ok(Grant {
        id: row.text("id")?,
        programme_id: row.text("programme_id")?,
        org_id: row.text("org_id")?,
        amount: row.int("amount")?,
        spent: row.int("spent")?,
        reserved: row.int("reserved")?,
        starts_at: row.int("starts_at")?,
        ends_at: row.opt_int("ends_at")?,
        models: list("models")?,
        providers: list("providers")?,
        status: GrantStatus::parse(&row.text("status")?).unwrap_or(GrantStatus::Frozen),
        created_at: row.int("created_at")?,
    })
}

/// The reservation columns, in the order `reservation` reads them.
const RESERVATION_COLUMNS: &str = "id, request_id, grant_id, org_id, project_id, key_id, model, \
    amount, cost, status, expires_at, created_at, settled_at";

fn reservation(row: &Row) -> Result<Reservation, StoreError> {
    Ok(Reservation {
        id: row.text("id")?,
        request_id: row.text("request_id")?,
        grant_id: row.text("grant_id")?,
        org_id: row.text("org_id")?,
        project_id: row.text("project_id")?,
        key_id: row.text("key_id")?,
        model: row.text("model")?,
        amount: row.int("amount")?,
        cost: row.opt_int("cost")?,
        status: ReservationStatus::parse(&row.text("status")?).unwrap_or(ReservationStatus::Held),
        expires_at: row.int("expires_at")?,
        created_at: row.int("created_at")?,
        settled_at: row.opt_int("settled_at")?,
    })
}

/// A ledger entry to append.
struct Entry<'a> {
    kind: EntryKind,
    grant_id: &'a str,
    programme_id: &'a str,
    org_id: &'a str,
    reservation_id: Option<&'a str>,
    request_id: Option<&'a str>,
    d_amount: i64,
    d_spent: i64,
    d_reserved: i64,
    actor: Option<&'a str>,
    at: i64,
}

async fn append(db: &mut dyn Exec, e: Entry<'_>) -> Result<(), StoreError> {
    append_many(db, &[e]).await
}

/// Rows per multi-row `INSERT` (11 values each stays far below both backends' bind limits).
const ROWS_PER_INSERT: usize = 200;

/// Appending ledger entries.
static APPEND: InsertSql = InsertSql::new(
    "INSERT INTO ledger_entries (kind, grant_id, programme_id, org_id, reservation_id, request_id, \
     d_amount, d_spent, d_reserved, actor, created_at)",
    11,
    "",
);

/// Appends entries with as few multi-row `INSERT`s as fit.
async fn append_many(db: &mut dyn Exec, entries: &[Entry<'_>]) -> Result<(), StoreError> {
    for chunk in entries.chunks(db.rows_per_statement(ROWS_PER_INSERT)) {
        let sql = APPEND.sql(chunk.len());
        let mut args = Vec::with_capacity(chunk.len() * 11);
        for e in chunk {
            args.extend([
                Value::from(e.kind.as_str()),
                e.grant_id.into(),
                e.programme_id.into(),
                e.org_id.into(),
                e.reservation_id.into(),
                e.request_id.into(),
                e.d_amount.into(),
                e.d_spent.into(),
                e.d_reserved.into(),
                e.actor.into(),
                e.at.into(),
            ]);
        }
        db.execute(&sql, &args).await?;
    }
    Ok(())
}

async fn grant_in(db: &mut dyn Exec, id: &str) -> Result<Grant, StoreError> {
    let rows = db
        .rows(
            &format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1"),
            &[id.into()],
        )
        .await?;
    let row = rows
        .first()
        .ok_or_else(|| StoreError::NotFound(format!("grant {id}")))?;
    grant(row)
}

/// Takes the grant's row lock (a no-op write) so what is read next cannot change under us.
async fn lock_grant(db: &mut dyn Exec, id: &str) -> Result<Grant, StoreError> {
    db.execute(
        "UPDATE grants SET status = status WHERE id = $1",
        &[id.into()],
    )
    .await?;
    grant_in(db, id).await
}

/// Moves `amount` of a programme's budget into (positive) or out of (negative) its grants;
/// false when the budget is short.
async fn allocate(db: &mut dyn Exec, programme_id: &str, amount: i64) -> Result<bool, StoreError> {
    let changed = db
        .execute(
            "UPDATE programmes SET allocated = allocated + $1 WHERE id = $2 AND allocated + $1 <= budget \
             AND allocated + $1 >= 0",
            &[amount.into(), programme_id.into()],
        )
        .await?;
    Ok(changed == 1)
}

/// Returns a revoked grant's released credit to its programme.
async fn return_released(
    db: &mut dyn Exec,
    g: &Grant,
    released: i64,
    reservation_id: Option<&str>,
    at: i64,
) -> Result<(), StoreError> {
    if g.status != GrantStatus::Revoked || released <= 0 {
        return Ok(());
    }
    db.execute(
        "UPDATE grants SET amount = amount - $1 WHERE id = $2",
        &[released.into(), (&g.id).into()],
    )
    .await?;
    allocate(db, &g.programme_id, -released).await?;
    append(
        db,
        Entry {
            kind: EntryKind::Revoke,
            grant_id: &g.id,
            programme_id: &g.programme_id,
            org_id: &g.org_id,
            reservation_id,
            request_id: None,
            d_amount: -released,
            d_spent: 0,
            d_reserved: 0,
            actor: Some("system"),
            at,
        },
    )
    .await
}

/// Adds `delta` to the spending counters of `caps` (negative to release).
async fn move_caps(
    db: &mut dyn Exec,
    caps: &[(String, String)],
    delta: i64,
) -> Result<(), StoreError> {
    for (subject, period) in caps {
        db.execute(
            "UPDATE spend_counters SET used = used + $1 WHERE subject = $2 AND period = $3",
            &[delta.into(), subject.into(), period.into()],
        )
        .await?;
    }
    Ok(())
}

/// The `(subject, period)` caps a reservation counts against.
async fn caps_of(
    db: &mut dyn Exec,
    reservation_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = db
        .rows(
            "SELECT caps FROM reservations WHERE id = $1",
            &[reservation_id.into()],
        )
        .await?;
    let text = match rows.first() {
        Some(row) => row.opt_text_at(0)?,
        None => {
            return Err(StoreError::NotFound(format!(
                "reservation {reservation_id}"
            )))
        }
    };
    Ok(text
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

/// Charges `amount` to each cap with a conditional update; on the first that would go over,
/// undoes the others and names it.
async fn charge_caps(
    db: &mut dyn Exec,
    caps: &[SpendCap],
    amount: i64,
) -> Result<Option<SpendCap>, StoreError> {
    let mut charged = Vec::new();
    for cap in caps {
        db.execute(
            "INSERT INTO spend_counters (subject, period, used) VALUES ($1, $2, 0) \
             ON CONFLICT (subject, period) DO NOTHING",
            &[(&cap.subject).into(), (&cap.period).into()],
        )
        .await?;
        let changed = db
            .execute(
                "UPDATE spend_counters SET used = used + $1 WHERE subject = $2 AND period = $3 AND used + $1 <= $4",
                &[
                    amount.into(),
                    (&cap.subject).into(),
                    (&cap.period).into(),
                    cap.limit.into(),
                ],
            )
            .await?;
        if changed == 0 {
            move_caps(db, &charged, -amount).await?;
            return Ok(Some(cap.clone()));
        }
        charged.push((cap.subject.clone(), cap.period.clone()));
    }
    Ok(None)
}

/// Settles up to `limit` held reservations that expired before `now` as orphaned, at the
/// amount they held; returns how many.
async fn expire(db: &mut dyn Exec, now: i64, limit: u32) -> Result<u64, StoreError> {
    let rows = db
        .rows(
            &format!(
                "UPDATE reservations SET status = 'orphaned', cost = amount, settled_at = $1 \
                 WHERE id IN (SELECT id FROM reservations WHERE status = 'held' AND expires_at < $1 \
                 ORDER BY expires_at LIMIT $2) AND status = 'held' AND expires_at < $1 \
                 RETURNING {RESERVATION_COLUMNS}"
            ),
            &[now.into(), i64::from(limit).into()],
        )
        .await?;
    let mut expired = rows
        .iter()
        .map(reservation)
        .collect::<Result<Vec<_>, _>>()?;
    // Grants in id order, as settlements take them, so replicas lock rows in one order.
    expired.sort_by(|a, b| a.grant_id.cmp(&b.grant_id));
    for r in &expired {
        db.execute(
            "UPDATE grants SET reserved = reserved - $1, spent = spent + $1 WHERE id = $2",
            &[r.amount.into(), (&r.grant_id).into()],
        )
        .await?;
        let g = grant_in(db, &r.grant_id).await?;
        append(
            db,
            Entry {
                kind: EntryKind::Expire,
                grant_id: &g.id,
                programme_id: &g.programme_id,
                org_id: &g.org_id,
                reservation_id: Some(&r.id),
                request_id: Some(&r.request_id),
                d_amount: 0,
                d_spent: r.amount,
                d_reserved: -r.amount,
                actor: Some("sweeper"),
                at: now,
            },
        )
        .await?;
    }
    Ok(expired.len() as u64)
}

#[async_trait]
impl CreditStore for SqlStore {
    async fn create_programme(&self, p: &Programme) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO programmes (id, name, sponsor, currency, budget, allocated, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
        )
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.sponsor)
        .bind(&p.currency)
        .bind(p.budget)
        .bind(p.created_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn get_programme(&self, id: &str) -> Result<Programme, StoreError> {
        self.one(
            "SELECT * FROM programmes WHERE id = $1",
            id,
            "programme",
            sqlx_map(programme),
        )
        .await
    }

    async fn list_programmes(&self, page: &PageRequest) -> Result<Page<Programme>, StoreError> {
        let size = page.size();
        let rows = sqlx::query("SELECT * FROM programmes WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(page.after.clone().unwrap_or_default())
            .bind(i64::from(size) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        page_of(rows, size, sqlx_map(programme))
    }

    async fn create_grant(&self, g: &Grant, actor: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if !allocate(&mut *tx, &g.programme_id, g.amount).await? {
            let p = self.get_programme(&g.programme_id).await?;
            return Err(StoreError::Conflict(format!(
                "the grant of {} milli-won exceeds programme {}'s unallocated budget of {} milli-won",
                g.amount,
                p.id,
                p.unallocated()
            )));
        }
        sqlx::query(
            "INSERT INTO grants (id, programme_id, org_id, amount, spent, reserved, starts_at, ends_at, models, \
             providers, status, created_at) VALUES ($1, $2, $3, $4, 0, 0, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&g.id)
        .bind(&g.programme_id)
        .bind(&g.org_id)
        .bind(g.amount)
        .bind(g.starts_at)
        .bind(g.ends_at)
        .bind(list_json(&g.models))
        .bind(list_json(&g.providers))
        .bind(g.status.as_str())
        .bind(g.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        append(
            &mut *tx,
            Entry {
                kind: EntryKind::Grant,
                grant_id: &g.id,
                programme_id: &g.programme_id,
                org_id: &g.org_id,
                reservation_id: None,
                request_id: None,
                d_amount: g.amount,
                d_spent: 0,
                d_reserved: 0,
                actor: Some(actor),
                at: g.created_at,
            },
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn get_grant(&self, id: &str) -> Result<Grant, StoreError> {
        self.one(
            "SELECT * FROM grants WHERE id = $1",
            id,
            "grant",
            via_row(grant),
        )
        .await
    }

    async fn list_grants(
        &self,
        filter: &GrantFilter,
        page: &PageRequest,
    ) -> Result<Page<Grant>, StoreError> {
        let size = page.size();
        let rows = sqlx::query(
            "SELECT * FROM grants WHERE id > $1 AND ($2 = '' OR programme_id = $2) AND ($3 = '' OR org_id = $3) \
             ORDER BY id LIMIT $4",
        )
        .bind(page.after.clone().unwrap_or_default())
        .bind(filter.programme_id.clone().unwrap_or_default())
        .bind(filter.org_id.clone().unwrap_or_default())
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        page_of(rows, size, via_row(grant))
    }

    async fn org_grants(&self, org_id: &str) -> Result<Vec<Grant>, StoreError> {
        let rows = sqlx::query("SELECT * FROM grants WHERE org_id = $1 ORDER BY id")
            .bind(org_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(via_row(grant)).collect()
    }

    async fn top_up_grant(
        &self,
        id: &str,
        amount: i64,
        actor: &str,
        now: i64,
    ) -> Result<Grant, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let g = lock_grant(&mut *tx, id).await?;
        if g.status == GrantStatus::Revoked {
            return Err(StoreError::Conflict(format!("grant {id} is revoked")));
        }
        if !allocate(&mut *tx, &g.programme_id, amount).await? {
            return Err(StoreError::Conflict(format!(
                "a top-up of {amount} milli-won exceeds programme {}'s unallocated budget",
                g.programme_id
            )));
        }
        sqlx::query("UPDATE grants SET amount = amount + $1 WHERE id = $2")
            .bind(amount)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        append(
            &mut *tx,
            Entry {
                kind: EntryKind::TopUp,
                grant_id: id,
                programme_id: &g.programme_id,
                org_id: &g.org_id,
                reservation_id: None,
                request_id: None,
                d_amount: amount,
                d_spent: 0,
                d_reserved: 0,
                actor: Some(actor),
                at: now,
            },
        )
        .await?;
        let g = grant_in(&mut *tx, id).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(g)
    }

    async fn set_grant_status(&self, id: &str, status: GrantStatus) -> Result<Grant, StoreError> {
        let done =
            sqlx::query("UPDATE grants SET status = $1 WHERE id = $2 AND status <> 'revoked'")
                .bind(status.as_str())
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        let g = self.get_grant(id).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("grant {id} is revoked")));
        }
        Ok(g)
    }

    async fn revoke_grant(&self, id: &str, actor: &str, now: i64) -> Result<Grant, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let g = lock_grant(&mut *tx, id).await?;
        if g.status == GrantStatus::Revoked {
            return Ok(g);
        }
        let returned = g.amount - g.spent - g.reserved;
        sqlx::query("UPDATE grants SET status = 'revoked', amount = amount - $1 WHERE id = $2")
            .bind(returned)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        allocate(&mut *tx, &g.programme_id, -returned).await?;
        append(
            &mut *tx,
            Entry {
                kind: EntryKind::Revoke,
                grant_id: id,
                programme_id: &g.programme_id,
                org_id: &g.org_id,
                reservation_id: None,
                request_id: None,
                d_amount: -returned,
                d_spent: 0,
                d_reserved: 0,
                actor: Some(actor),
                at: now,
            },
        )
        .await?;
        let g = grant_in(&mut *tx, id).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(g)
    }

    async fn reserve(&self, batch: &[ReserveRequest]) -> Result<Vec<ReserveOutcome>, StoreError> {
        let batch = batch.to_vec();
        self.hot(
            Lane::Urgent,
            work(move |db| Box::pin(async move { batch::reserve(db, &batch).await })),
        )
        .await
    }

    async fn settle(&self, batch: &[SettleRequest]) -> Result<(), StoreError> {
        let batch = batch.to_vec();
        self.hot(
            Lane::Background,
            work(move |db| Box::pin(async move { batch::settle(db, &batch).await })),
        )
        .await
    }

    async fn extend_reservations(&self, ids: &[String], expires_at: i64) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        const EXTEND: &str =
            "UPDATE reservations SET expires_at = $1 WHERE id = $2 AND status = 'held'";
        let ids = ids.to_vec();
        self.hot(
            Lane::Background,
            work(move |db| {
                Box::pin(async move {
                    for id in &ids {
                        db.execute(EXTEND, &[expires_at.into(), id.into()]).await?;
                    }
                    Ok(())
                })
            }),
        )
        .await
    }

    async fn expire_reservations(&self, now: i64, limit: u32) -> Result<u64, StoreError> {
        self.hot(
            Lane::Background,
            work(move |db| Box::pin(async move { expire(db, now, limit).await })),
        )
        .await
    }

    async fn refund_reservation(
        &self,
        id: &str,
        actor: &str,
        now: i64,
    ) -> Result<Reservation, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query(
            "UPDATE reservations SET status = 'refunded' WHERE id = $1 AND status = 'orphaned'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            let r = self.get_reservation(id).await?;
            return Err(StoreError::Conflict(format!(
                "reservation {id} is {}, only orphaned reservations can be refunded",
                r.status.as_str()
            )));
        }
        let row = sqlx::query("SELECT * FROM reservations WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let r = reservation(&Row::from_any(&row)?)?;
        let cost = r.cost.unwrap_or(0);
        sqlx::query("UPDATE grants SET spent = spent - $1 WHERE id = $2")
            .bind(cost)
            .bind(&r.grant_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let caps = caps_of(&mut *tx, &r.id).await?;
        move_caps(&mut *tx, &caps, -cost).await?;
        let g = grant_in(&mut *tx, &r.grant_id).await?;
        append(
            &mut *tx,
            Entry {
                kind: EntryKind::Refund,
                grant_id: &g.id,
                programme_id: &g.programme_id,
                org_id: &g.org_id,
                reservation_id: Some(&r.id),
                request_id: Some(&r.request_id),
                d_amount: 0,
                d_spent: -cost,
                d_reserved: 0,
                actor: Some(actor),
                at: now,
            },
        )
        .await?;
        return_released(&mut *tx, &g, cost, Some(&r.id), now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(r)
    }

    async fn get_reservation(&self, id: &str) -> Result<Reservation, StoreError> {
        self.one(
            "SELECT * FROM reservations WHERE id = $1",
            id,
            "reservation",
            via_row(reservation),
        )
        .await
    }

    async fn list_reservations(
        &self,
        status: Option<ReservationStatus>,
        page: &PageRequest,
    ) -> Result<Page<Reservation>, StoreError> {
        let size = page.size();
        let rows = sqlx::query(
            "SELECT * FROM reservations WHERE id > $1 AND ($2 = '' OR status = $2) ORDER BY id LIMIT $3",
        )
        .bind(page.after.clone().unwrap_or_default())
        .bind(status.map(|s| s.as_str()).unwrap_or_default())
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        page_of(rows, size, via_row(reservation))
    }

    async fn verify_ledger(&self) -> Result<LedgerReport, StoreError> {
        verify::verify(&self.pool).await
    }

    async fn provider_lines(&self, from: i64, to: i64) -> Result<Vec<ProviderLine>, StoreError> {
        statements::provider_lines(&self.pool, from, to).await
    }

    async fn org_lines(
        &self,
        org_id: Option<&str>,
        from: i64,
        to: i64,
    ) -> Result<Vec<OrgLine>, StoreError> {
        statements::org_lines(&self.pool, org_id, from, to).await
    }

    async fn ledger_totals(
        &self,
        org_id: Option<&str>,
        from: i64,
        to: i64,
    ) -> Result<LedgerTotals, StoreError> {
        statements::ledger_totals(&self.pool, org_id, from, to).await
    }
}

#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The credit ledger against SQLite and PostgreSQL: programmes and grants, reservations and
//! settlements, expiry and refunds, 500 concurrent reservations through the engine, and a
//! model-based property test of the ledger against a simple in-memory model.

mod support;

use std::sync::Arc;

use nuri_config::raw::RawLimits;
use nuri_config::{Balancing, ModelConfig, ModelKind, RouteConfig};
use nuri_core::auth::AuthContext;
use nuri_core::credits::{
    CreditEngine, CreditSettings, CreditStore, Grant, GrantStatus, HeldFacts, Programme,
    ReservationStatus, ReserveOutcome, ReserveRequest, SettleRequest, SpendCap,
};
use nuri_core::stages::CreditStage;
use nuri_core::store::{StoreError, TenancyStore};
use nuri_core::tasks::TaskTracker;
use nuri_core::tenancy::{ApiKey, Limits, Organisation};
use nuri_core::GatewayError;
use nuri_store::SqlStore;
use nuri_types::{MilliWon, Price};

async fn org(store: &SqlStore, id: &str) {
    store
        .create_org(&Organisation {
            id: id.into(),
            name: id.into(),
            limits: Limits::default(),
            created_at: 1,
        })
        .await
        .unwrap();
}

async fn programme(store: &SqlStore, id: &str, budget: i64) {
    store
        .create_programme(&Programme {
            id: id.into(),
            name: "voucher".into(),
            sponsor: "ministry".into(),
            currency: "KRW".into(),
            budget,
            allocated: 0,
            created_at: 1,
        })
        .await
        .unwrap();
}

fn grant(id: &str, programme_id: &str, org_id: &str, amount: i64) -> Grant {
    Grant {
        id: id.into(),
        programme_id: programme_id.into(),
        org_id: org_id.into(),
        amount,
        spent: 0,
        reserved: 0,
        starts_at: 0,
        ends_at: None,
        models: None,
        providers: None,
        status: GrantStatus::Active,
        created_at: 1,
    }
}

fn reserve(id: &str, org_id: &str, amount: i64, grants: &[&str], now: i64) -> ReserveRequest {
    ReserveRequest {
        id: id.into(),
        request_id: format!("req_{id}"),
        org_id: org_id.into(),
        project_id: "proj".into(),
        key_id: "key".into(),
        model: "m".into(),
        amount,
        grants: grants.iter().map(|g| (*g).to_owned()).collect(),
        now,
        expires_at: now + 60_000,
        caps: vec![],
    }
}

fn held(grant: &str) -> ReserveOutcome {
    ReserveOutcome::Reserved(grant.to_owned())
}

/// Settles reservation `id` (made by [`reserve`], without spending caps), held on `grant`
/// for `amount`, at `cost`.
fn settle(id: &str, grant: &str, amount: i64, cost: i64) -> SettleRequest {
    SettleRequest {
        reservation_id: id.into(),
        held: HeldFacts {
            grant_id: grant.into(),
            amount,
            request_id: format!("req_{id}"),
            capped: false,
        },
        cost,
        now: 10,
    }
}

/// [`settle`] for a reservation that counts against spending caps.
fn settle_capped(id: &str, grant: &str, amount: i64, cost: i64) -> SettleRequest {
    let mut s = settle(id, grant, amount, cost);
    s.held.capped = true;
    s
}

async fn assert_verifies(store: &SqlStore) {
    let report = store.verify_ledger().await.unwrap();
    assert!(report.ok, "{:?}", report.mismatches);
}

async fn programmes_and_grants(store: &SqlStore) {
    org(store, "org_a").await;
    programme(store, "prog_a", 1_000).await;
    store
        .create_grant(&grant("g1", "prog_a", "org_a", 600), "op")
        .await
        .unwrap();
    let over = store
        .create_grant(&grant("g2", "prog_a", "org_a", 500), "op")
        .await;
    assert!(matches!(over, Err(StoreError::Conflict(_))), "{over:?}");
    assert!(store.get_grant("g2").await.is_err(), "nothing written");
    let missing_org = store
        .create_grant(&grant("g3", "prog_a", "org_missing", 10), "op")
        .await;
    assert!(missing_org.is_err());
    assert_eq!(store.get_programme("prog_a").await.unwrap().allocated, 600);

    let g = store.top_up_grant("g1", 400, "op", 5).await.unwrap();
    assert_eq!(g.amount, 1_000);
    assert!(matches!(
        store.top_up_grant("g1", 1, "op", 5).await,
        Err(StoreError::Conflict(_))
    ));

    store
        .set_grant_status("g1", GrantStatus::Frozen)
        .await
        .unwrap();
    let got = store
        .reserve(&[reserve("r0", "org_a", 10, &["g1"], 5)])
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![ReserveOutcome::NoGrant],
        "a frozen grant pays nothing"
    );
    store
        .set_grant_status("g1", GrantStatus::Active)
        .await
        .unwrap();

    let got = store
        .reserve(&[reserve("r1", "org_a", 100, &["g1"], 5)])
        .await
        .unwrap();
    assert_eq!(got, vec![held("g1")]);
    store.settle(&[settle("r1", "g1", 100, 30)]).await.unwrap();
    let g = store.revoke_grant("g1", "op", 6).await.unwrap();
    assert_eq!(g.status, GrantStatus::Revoked);
    assert_eq!(g.amount, 30, "only what was spent stays granted");
    assert_eq!(store.get_programme("prog_a").await.unwrap().allocated, 30);
    assert!(matches!(
        store.set_grant_status("g1", GrantStatus::Active).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.revoke_grant("g1", "op", 7).await.unwrap().amount, 30);
    assert_verifies(store).await;
}

async fn reserve_settle_expire_refund(store: &SqlStore) {
    org(store, "org_a").await;
    org(store, "org_b").await;
    programme(store, "prog", 10_000).await;
    let mut early = grant("g_early", "prog", "org_a", 100);
    early.ends_at = Some(1_000);
    store.create_grant(&early, "op").await.unwrap();
    store
        .create_grant(&grant("g_late", "prog", "org_a", 1_000), "op")
        .await
        .unwrap();
    store
        .create_grant(&grant("g_b", "prog", "org_b", 1_000), "op")
        .await
        .unwrap();

    // Another organisation's grant never pays, whatever the candidate list says.
    let got = store
        .reserve(&[reserve("x", "org_a", 10, &["g_b"], 5)])
        .await
        .unwrap();
    assert_eq!(got, vec![ReserveOutcome::NoGrant]);

    // One batch: the first candidate with room pays; an expired window is skipped.
    let got = store
        .reserve(&[
            reserve("a", "org_a", 80, &["g_early", "g_late"], 5),
            reserve("b", "org_a", 80, &["g_early", "g_late"], 5),
            reserve("c", "org_a", 80, &["g_early", "g_late"], 2_000),
        ])
        .await
        .unwrap();
    assert_eq!(got, vec![held("g_early"), held("g_late"), held("g_late")]);
    // A settlement that does not match what was held settles nothing.
    for wrong in [
        settle("a", "g_late", 80, 50),
        settle("a", "g_early", 79, 50),
        settle_capped("a", "g_early", 80, 50),
        SettleRequest {
            held: HeldFacts {
                request_id: "req_other".into(),
                ..settle("a", "g_early", 80, 50).held
            },
            ..settle("a", "g_early", 80, 50)
        },
    ] {
        store.settle(&[wrong]).await.unwrap();
    }
    let a = store.get_reservation("a").await.unwrap();
    assert_eq!((a.status, a.cost), (ReservationStatus::Held, None));
    // Settling twice charges once; a cost above the hold is capped at the hold.
    store
        .settle(&[
            settle("a", "g_early", 80, 50),
            settle("a", "g_early", 80, 50),
        ])
        .await
        .unwrap();
    store
        .settle(&[settle("b", "g_late", 80, 500)])
        .await
        .unwrap();
    let early = store.get_grant("g_early").await.unwrap();
    assert_eq!((early.spent, early.reserved), (50, 0));
    let late = store.get_grant("g_late").await.unwrap();
    assert_eq!((late.spent, late.reserved), (80, 80));

    // "c" is never settled: past its expiry the sweeper charges the held amount.
    assert_eq!(store.expire_reservations(60_000, 100).await.unwrap(), 0);
    assert_eq!(store.expire_reservations(70_000, 100).await.unwrap(), 1);
    let c = store.get_reservation("c").await.unwrap();
    assert_eq!((c.status, c.cost), (ReservationStatus::Orphaned, Some(80)));
    store.settle(&[settle("c", "g_late", 80, 1)]).await.unwrap();
    assert_eq!(
        store.get_grant("g_late").await.unwrap().spent,
        160,
        "late settle ignored"
    );
    assert!(matches!(
        store.refund_reservation("a", "op", 71_000).await,
        Err(StoreError::Conflict(_))
    ));
    let refunded = store.refund_reservation("c", "op", 71_000).await.unwrap();
    assert_eq!(refunded.grant_id, "g_late");
    let late = store.get_grant("g_late").await.unwrap();
    assert_eq!((late.spent, late.reserved), (80, 0));
    assert_eq!(
        store.get_reservation("c").await.unwrap().status,
        ReservationStatus::Refunded
    );
    assert_verifies(store).await;
}

/// No index stops a second entry of one kind for a reservation (its row's state does), so
/// `ledger verify` looks for them: a copied `settle` entry is reported.
async fn a_duplicated_entry_fails_verification(db: &support::TestDb) {
    let store = &db.store;
    org(store, "org_a").await;
    programme(store, "prog", 10_000).await;
    store
        .create_grant(&grant("g", "prog", "org_a", 1_000), "op")
        .await
        .unwrap();
    let got = store
        .reserve(&[reserve("r", "org_a", 100, &["g"], 5)])
        .await
        .unwrap();
    assert_eq!(got, vec![held("g")]);
    store.settle(&[settle("r", "g", 100, 40)]).await.unwrap();
    assert_verifies(store).await;

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO ledger_entries (kind, grant_id, programme_id, org_id, reservation_id, \
         request_id, d_amount, d_spent, d_reserved, actor, created_at) \
         SELECT kind, grant_id, programme_id, org_id, reservation_id, request_id, d_amount, \
         0, 0, actor, created_at FROM ledger_entries WHERE reservation_id = 'r' AND kind = 'settle'",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let report = store.verify_ledger().await.unwrap();
    assert!(!report.ok);
    assert!(
        report
            .mismatches
            .iter()
            .any(|m| m.contains("reservation r: 2 `settle` entries")),
        "{:?}",
        report.mismatches
    );
}

/// A key's daily cap holds like a grant: worst cases count while held, actual costs after.
async fn spending_caps(store: &SqlStore) {
    org(store, "org_k").await;
    programme(store, "prog_k", 10_000).await;
    store
        .create_grant(&grant("g_k", "prog_k", "org_k", 10_000), "op")
        .await
        .unwrap();
    let cap = |limit| SpendCap {
        subject: "key:k1".into(),
        period: "day:2026-11-30".into(),
        limit,
    };
    let with_cap = |id: &str, amount| {
        let mut r = reserve(id, "org_k", amount, &["g_k"], 5);
        r.caps = vec![cap(50)];
        r
    };
    let got = store
        .reserve(&[with_cap("a", 20), with_cap("b", 20), with_cap("c", 20)])
        .await
        .unwrap();
    assert_eq!(got[..2], [held("g_k"), held("g_k")]);
    assert_eq!(got[2], ReserveOutcome::CapReached(cap(50)));
    // Settling at 7 frees the rest of the holds: 14 used.
    store
        .settle(&[
            settle_capped("a", "g_k", 20, 7),
            settle_capped("b", "g_k", 20, 7),
        ])
        .await
        .unwrap();
    let got = store
        .reserve(&[with_cap("d", 20), with_cap("e", 20), with_cap("f", 16)])
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![
            held("g_k"),
            ReserveOutcome::CapReached(cap(50)),
            held("g_k")
        ]
    );
    store
        .settle(&[
            settle_capped("d", "g_k", 20, 0),
            settle_capped("f", "g_k", 16, 0),
        ])
        .await
        .unwrap();
    // A grant that cannot pay leaves the cap untouched.
    let mut broke = with_cap("g", 1);
    broke.grants = vec![];
    assert_eq!(
        store.reserve(&[broke]).await.unwrap(),
        vec![ReserveOutcome::NoGrant]
    );
    let got = store.reserve(&[with_cap("h", 36)]).await.unwrap();
    assert_eq!(got, vec![held("g_k")], "14 used + 36 = 50 fits");
    assert_verifies(store).await;
}

fn model(name: &str) -> ModelConfig {
    ModelConfig {
        name: name.into(),
        kind: ModelKind::Chat,
        routes: vec![RouteConfig {
            provider: "acme".into(),
            model: "up".into(),
            weight: 1,
            priority: 0,
        }],
        fallbacks: vec![],
        balancing: Balancing::Weighted,
        price: Price {
            input_per_million: 0,
            output_per_million: 1_000,
        },
        max_output_tokens: Some(10),
        context_window: None,
        limits: RawLimits::default(),
    }
}

fn auth(org_id: &str) -> AuthContext {
    AuthContext {
        key: ApiKey {
            id: "key".into(),
            project_id: "proj".into(),
            org_id: org_id.into(),
            name: None,
            prefix: "nk".into(),
            limits: Limits::default(),
            created_at: 1,
            expires_at: None,
            revoked_at: None,
        },
        project_limits: Limits::default(),
        org_limits: Limits::default(),
        policy: Default::default(),
    }
}

/// 500 concurrent requests, each holding and spending 10, against a grant of exactly 1,000.
async fn concurrent_reservations_never_overspend(store: &SqlStore) {
    org(store, "org_c").await;
    programme(store, "prog_c", 1_000).await;
    store
        .create_grant(&grant("g_c", "prog_c", "org_c", 1_000), "op")
        .await
        .unwrap();
    let tracker = TaskTracker::new();
    let engine = CreditEngine::start(Arc::new(store.clone()), CreditSettings::default(), &tracker);
    let model = Arc::new(model("priced"));
    let mut tasks = Vec::new();
    for i in 0..500 {
        let engine = engine.clone();
        let model = Arc::clone(&model);
        tasks.push(tokio::spawn(async move {
            let auth = auth("org_c");
            match engine
                .reserve(&auth, &model, &format!("req_{i}"), MilliWon(10))
                .await
            {
                Ok(hold) => {
                    tokio::task::yield_now().await;
                    hold.settle(MilliWon(10)).await;
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(GatewayError::InsufficientQuota(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    drop(engine);
    tracker.close();
    tracker.wait().await;
    assert_eq!(ok, 100, "exactly the grant's worth succeeds");
    let g = store.get_grant("g_c").await.unwrap();
    assert_eq!((g.spent, g.reserved), (1_000, 0));
    assert_verifies(store).await;
}

mod model_based {
    //! The ledger against a simple in-memory model: random operations, same answers.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    pub enum Op {
        Reserve(usize, i64),
        Settle(usize, i64),
        Expire,
        TopUp(usize, i64),
        Freeze(usize, bool),
        Revoke(usize),
        Refund(usize),
    }

    pub fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..2usize, 1..400i64).prop_map(|(g, a)| Op::Reserve(g, a)),
            4 => (0..40usize, 0..500i64).prop_map(|(r, c)| Op::Settle(r, c)),
            1 => Just(Op::Expire),
            1 => (0..2usize, 1..300i64).prop_map(|(g, a)| Op::TopUp(g, a)),
            1 => (0..2usize, any::<bool>()).prop_map(|(g, f)| Op::Freeze(g, f)),
            1 => (0..2usize).prop_map(Op::Revoke),
            1 => (0..40usize).prop_map(Op::Refund),
        ]
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Hold {
        Held,
        Settled,
        Orphaned,
        Refunded,
    }

    #[derive(Debug, Clone)]
    struct ModelGrant {
        amount: i64,
        spent: i64,
        reserved: i64,
        frozen: bool,
        revoked: bool,
    }

    /// Runs `ops` against the store and the model; panics on the first difference.
    pub async fn run(store: &SqlStore, ops: Vec<Op>) {
        org(store, "o").await;
        programme(store, "p", 2_000).await;
        let ids = ["g0", "g1"];
        let mut grants = vec![];
        for id in ids {
            store
                .create_grant(&grant(id, "p", "o", 500), "t")
                .await
                .unwrap();
            grants.push(ModelGrant {
                amount: 500,
                spent: 0,
                reserved: 0,
                frozen: false,
                revoked: false,
            });
        }
        let mut allocated = 1_000i64;
        let mut holds: Vec<(String, usize, i64, Hold, i64)> = vec![];
        for (step, op) in ops.into_iter().enumerate() {
            let now = 100 + step as i64;
            match op {
                Op::Reserve(g, amount) => {
                    let id = format!("r{step}");
                    let mut req = reserve(&id, "o", amount, &[ids[g]], now);
                    req.expires_at = now + 5;
                    let got = store.reserve(&[req]).await.unwrap();
                    let m = &mut grants[g];
                    let can = !m.frozen && !m.revoked && m.amount - m.spent - m.reserved >= amount;
                    assert_eq!(
                        matches!(got[0], ReserveOutcome::Reserved(_)),
                        can,
                        "reserve {amount} on {g}: {m:?}"
                    );
                    if can {
                        m.reserved += amount;
                        holds.push((id, g, amount, Hold::Held, 0));
                    }
                }
                Op::Settle(i, cost) => {
                    let Some(h) = holds.get_mut(i) else { continue };
                    store
                        .settle(&[settle(&h.0, ids[h.1], h.2, cost)])
                        .await
                        .unwrap();
                    if h.3 == Hold::Held {
                        let charged = cost.min(h.2);
                        let m = &mut grants[h.1];
                        m.reserved -= h.2;
                        m.spent += charged;
                        if m.revoked {
                            m.amount -= h.2 - charged;
                            allocated -= h.2 - charged;
                        }
                        h.3 = Hold::Settled;
                        h.4 = charged;
                    }
                }
                Op::Expire => {
                    let n = store.expire_reservations(now, 1_000).await.unwrap();
                    let mut expected = 0;
                    for (k, h) in holds.iter_mut().enumerate() {
                        let created = 100 + h.0[1..].parse::<i64>().unwrap();
                        if h.3 == Hold::Held && created + 5 < now {
                            let m = &mut grants[h.1];
                            m.reserved -= h.2;
                            m.spent += h.2;
                            h.3 = Hold::Orphaned;
                            h.4 = h.2;
                            expected += 1;
                        }
                        let _ = k;
                    }
                    assert_eq!(n, expected);
                }
                Op::TopUp(g, amount) => {
                    let got = store.top_up_grant(ids[g], amount, "t", now).await;
                    let m = &mut grants[g];
                    let can = !m.revoked && allocated + amount <= 2_000;
                    assert_eq!(got.is_ok(), can, "top up {amount}: {got:?}");
                    if can {
                        m.amount += amount;
                        allocated += amount;
                    }
                }
                Op::Freeze(g, frozen) => {
                    let status = if frozen {
                        GrantStatus::Frozen
                    } else {
                        GrantStatus::Active
                    };
                    let got = store.set_grant_status(ids[g], status).await;
                    let m = &mut grants[g];
                    assert_eq!(got.is_ok(), !m.revoked);
                    if !m.revoked {
                        m.frozen = frozen;
                    }
                }
                Op::Revoke(g) => {
                    store.revoke_grant(ids[g], "t", now).await.unwrap();
                    let m = &mut grants[g];
                    if !m.revoked {
                        let back = m.amount - m.spent - m.reserved;
                        m.amount -= back;
                        allocated -= back;
                        m.revoked = true;
                    }
                }
                Op::Refund(i) => {
                    let Some(h) = holds.get_mut(i) else { continue };
                    let got = store.refund_reservation(&h.0, "t", now).await;
                    assert_eq!(got.is_ok(), h.3 == Hold::Orphaned, "refund {h:?}: {got:?}");
                    if h.3 == Hold::Orphaned {
                        let m = &mut grants[h.1];
                        m.spent -= h.4;
                        if m.revoked {
                            m.amount -= h.4;
                            allocated -= h.4;
                        }
                        h.3 = Hold::Refunded;
                    }
                }
            }
            for (g, m) in grants.iter().enumerate() {
                let stored = store.get_grant(ids[g]).await.unwrap();
                assert_eq!(
                    (stored.amount, stored.spent, stored.reserved),
                    (m.amount, m.spent, m.reserved),
                    "grant {g} after step {step}"
                );
                assert!(stored.spent + stored.reserved <= stored.amount);
            }
            assert_eq!(store.get_programme("p").await.unwrap().allocated, allocated);
        }
        assert_verifies(store).await;
    }
}

macro_rules! credit_suite {
    ($backend:ident, $cases:expr) => {
        mod $backend {
            use super::*;
            use proptest::prelude::*;

            #[tokio::test]
            async fn programmes_grants_top_up_freeze_revoke() {
                let db = support::$backend().await;
                programmes_and_grants(&db.store).await;
                db.cleanup().await;
            }

            #[tokio::test]
            async fn reservations_settle_expire_and_refund() {
                let db = support::$backend().await;
                reserve_settle_expire_refund(&db.store).await;
                db.cleanup().await;
            }

            #[tokio::test]
            async fn a_duplicated_ledger_entry_fails_verification() {
                let db = support::$backend().await;
                a_duplicated_entry_fails_verification(&db).await;
                db.cleanup().await;
            }

            #[tokio::test]
            async fn spending_caps_per_key_and_period() {
                let db = support::$backend().await;
                spending_caps(&db.store).await;
                db.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn five_hundred_concurrent_requests_never_overspend() {
                let db = support::$backend().await;
                concurrent_reservations_never_overspend(&db.store).await;
                db.cleanup().await;
            }

            proptest! {
                #![proptest_config(ProptestConfig { cases: $cases, ..ProptestConfig::default() })]
                #[test]
                fn ledger_matches_a_simple_model(ops in proptest::collection::vec(model_based::op(), 1..40)) {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    rt.block_on(async {
                        let db = support::$backend().await;
                        model_based::run(&db.store, ops).await;
                        db.cleanup().await;
                    });
                }
            }
        }
    };
}

credit_suite!(sqlite, 24);
credit_suite!(postgres, 8);

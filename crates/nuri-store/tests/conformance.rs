#![allow(clippy::expect_used, clippy::unwrap_used)]
//! One conformance suite for the store ports, run against SQLite and PostgreSQL.
//!
//! PostgreSQL tests use the server on 127.0.0.1:5432 (override with `NURI_TEST_PG_URL`, the URL of
//! a database with CREATE DATABASE rights); each test creates and drops its own database.

use nuri_core::store::{PageRequest, Store, StoreError, TenancyStore, UsageStore};
use nuri_core::tenancy::{ApiKey, Limits, Member, Organisation, Project, Role};
use nuri_core::usage::{UsageFilter, UsageRecord};
use nuri_store::SqlStore;

mod support;

fn org(id: &str) -> Organisation {
    Organisation {
        id: id.into(),
        name: format!("Org {id}"),
        limits: Limits::default(),
        created_at: 1,
    }
}

fn project(id: &str, org_id: &str) -> Project {
    Project {
        id: id.into(),
        org_id: org_id.into(),
        name: "p".into(),
        limits: Limits::default(),
        policy: Default::default(),
        created_at: 2,
    }
}

fn key(id: &str, project_id: &str, org_id: &str) -> ApiKey {
    ApiKey {
        id: id.into(),
        project_id: project_id.into(),
        org_id: org_id.into(),
        name: Some("k".into()),
        prefix: "nk-abc".into(),
        limits: Limits::default(),
        created_at: 3,
        expires_at: None,
        revoked_at: None,
    }
}

fn usage(id: &str, project_id: &str, at: i64) -> UsageRecord {
    UsageRecord {
        request_id: id.into(),
        org_id: "org_a".into(),
        project_id: project_id.into(),
        key_id: "key_a".into(),
        endpoint: "chat".into(),
        model: "m".into(),
        prompt_tokens: 10,
        completion_tokens: 5,
        cost: 7,
        status: 200,
        created_at: at,
        ..UsageRecord::default()
    }
}

async fn tenancy_round_trip(store: &SqlStore) {
    store.create_org(&org("org_a")).await.expect("org");
    assert!(matches!(
        store.create_org(&org("org_a")).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .create_project(&project("proj_a", "org_a"))
        .await
        .expect("project");
    assert!(store
        .create_project(&project("proj_x", "org_missing"))
        .await
        .is_err());
    store
        .create_key(&key("key_a", "proj_a", "org_a"), "hash-a")
        .await
        .expect("key");
    let found = store
        .find_key_by_hash("hash-a")
        .await
        .expect("find")
        .expect("some");
    assert_eq!(found.id, "key_a");
    assert!(store
        .find_key_by_hash("nope")
        .await
        .expect("find")
        .is_none());
    store.revoke_key("key_a", 99).await.expect("revoke");
    store.revoke_key("key_a", 100).await.expect("revoke twice");
    assert_eq!(
        store.get_key("key_a").await.expect("get").revoked_at,
        Some(99)
    );
    assert!(matches!(
        store.revoke_key("key_missing", 1).await,
        Err(StoreError::NotFound(_))
    ));
    let limits = Limits {
        requests_per_minute: Some(5),
        tokens_per_minute: None,
        max_concurrent: Some(2),
        spend_per_day: Some(1_000),
        spend_per_month: None,
    };
    assert_eq!(
        store
            .set_key_limits("key_a", &limits)
            .await
            .expect("limits")
            .limits,
        limits
    );
    assert_eq!(
        store
            .set_project_limits("proj_a", &limits)
            .await
            .expect("limits")
            .limits,
        limits
    );
    assert_eq!(
        store
            .set_org_limits("org_a", &limits)
            .await
            .expect("limits")
            .limits,
        limits
    );
    let policy: nuri_core::policy::ProjectPolicy = serde_json::from_value(
        serde_json::json!({"allowed_models": ["m"], "pii": "block", "max_tokens": 100}),
    )
    .expect("policy");
    assert_eq!(
        store
            .set_project_policy("proj_a", &policy)
            .await
            .expect("policy")
            .policy,
        policy
    );
    assert_eq!(
        store.get_project("proj_a").await.expect("get").policy,
        policy
    );
    let member = Member {
        id: "mem_a".into(),
        name: "ops".into(),
        role: Role::Operator,
        scope: None,
        created_at: 1,
        revoked_at: None,
    };
    store
        .create_member(&member, "tok-hash")
        .await
        .expect("member");
    assert_eq!(
        store.find_member_by_hash("tok-hash").await.expect("find"),
        Some(member)
    );
}

async fn paging(store: &SqlStore) {
    for i in 0..5 {
        store
            .create_org(&org(&format!("org_{i}")))
            .await
            .expect("org");
    }
    let first = store
        .list_orgs(&PageRequest {
            limit: Some(2),
            after: None,
        })
        .await
        .expect("page");
    assert_eq!(first.data.len(), 2);
    assert!(first.has_more);
    let next = store
        .list_orgs(&PageRequest {
            limit: Some(10),
            after: Some(first.data[1].id.clone()),
        })
        .await
        .expect("page");
    assert_eq!(next.data.len(), 3);
    assert!(!next.has_more);
}

async fn usage_batches_and_filters(store: &SqlStore) {
    let batch: Vec<_> = (0..50)
        .map(|i| {
            usage(
                &format!("req_{i:03}"),
                if i % 2 == 0 { "p1" } else { "p2" },
                1000 + i,
            )
        })
        .collect();
    store.insert_usage(&batch).await.expect("insert");
    // Idempotent per request id.
    store.insert_usage(&batch[..3]).await.expect("insert again");
    let all = store
        .query_usage(&UsageFilter {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .expect("q");
    assert_eq!(all.data.len(), 50);
    assert_eq!(all.data[0].request_id, "req_049", "newest first");
    let p1 = store
        .query_usage(&UsageFilter {
            project: Some("p1".into()),
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .expect("q");
    assert_eq!(p1.data.len(), 25);
    assert!(p1.data.iter().all(|r| r.project_id == "p1"));
    let window = store
        .query_usage(&UsageFilter {
            from: Some(1010),
            to: Some(1020),
            ..Default::default()
        })
        .await
        .expect("q");
    assert_eq!(window.data.len(), 10);
    let page = store
        .query_usage(&UsageFilter {
            limit: Some(10),
            ..Default::default()
        })
        .await
        .expect("q");
    assert!(page.has_more);
    let next = store
        .query_usage(&UsageFilter {
            limit: Some(10),
            after: page.data.last().map(|r| r.request_id.clone()),
            ..Default::default()
        })
        .await
        .expect("q");
    assert_eq!(next.data[0].request_id, "req_039");
    let one = store
        .query_usage(&UsageFilter {
            request_id: Some("req_007".into()),
            ..Default::default()
        })
        .await
        .expect("q");
    assert_eq!(one.data.len(), 1);
    assert_eq!(one.data[0].prompt_tokens, 10);
    assert_eq!(one.data[0].cost, 7);
}

macro_rules! conformance {
    ($backend:ident) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn tenancy() {
                let db = support::$backend().await;
                tenancy_round_trip(&db.store).await;
                db.cleanup().await;
            }

            #[tokio::test]
            async fn pages() {
                let db = support::$backend().await;
                paging(&db.store).await;
                db.cleanup().await;
            }

            #[tokio::test]
            async fn usage() {
                let db = support::$backend().await;
                usage_batches_and_filters(&db.store).await;
                db.cleanup().await;
            }

            #[tokio::test]
            async fn ping() {
                let db = support::$backend().await;
                db.store.ping().await.expect("ping");
                db.cleanup().await;
            }
        }
    };
}

conformance!(sqlite);
conformance!(postgres);

//! The audit log over HTTP: refusals aggregated into summary rows, filters and paging, and the
//! security events of sign-in and sessions.

use std::time::Duration;

use futures_util::future::join_all;
use keyway_api::auth::{AuditEntry, Page};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;
use crate::credentials::*;

/// Polls `/api/audit?action=<action>` (every page) until `done` holds, with a generous deadline.
pub(crate) async fn wait_for(
    hub: &TestHub,
    access: &str,
    action: &str,
    done: impl Fn(&[AuditEntry]) -> bool,
) -> Vec<AuditEntry> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows = all(hub, access, &format!("action={action}")).await;
        if done(&rows) {
            return rows;
        }
        assert!(std::time::Instant::now() < deadline, "the audit log never got there: {rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every row matching `query`, following `next`.
pub(crate) async fn all(hub: &TestHub, access: &str, query: &str) -> Vec<AuditEntry> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/api/audit?{query}&limit=200"),
            Some(c) => format!("/api/audit?{query}&limit=200&cursor={c}"),
        };
        let resp = get(hub, &path, access).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let page: Page<AuditEntry> = resp.json().await.unwrap();
        rows.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return rows,
        }
    }
}

fn count(rows: &[AuditEntry]) -> u64 {
    rows.iter().map(|e| e.detail["count"].as_u64().unwrap_or(1)).sum()
}

#[tokio::test]
async fn a_burst_of_refused_exchanges_is_a_few_summary_rows() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let good = agent_pat(&hub, &admin, "builder", "cli").await.secret;
    // Same public id, another secret, a valid checksum: refused at the hash comparison.
    let forged = with_checksum(&format!("{}{}", &good[..18], "z".repeat(30)));
    const N: usize = 300;
    for batch in 0..(N / 50) {
        let calls = (0..50).map(|i| {
            let pat = if (batch * 50 + i) % 2 == 0 { forged.clone() } else { "kwp_a_garbage".to_owned() };
            let hub = &hub;
            async move {
                let resp = post_exchange(hub, &pat, json!({"requested_token_class": "agent_access"})).await;
                assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
            }
        });
        join_all(calls).await;
    }
    let access = session(&hub, USER).await;
    let rows = wait_for(&hub, &access, "exchange.refused", |rows| count(rows) >= N as u64).await;
    assert_eq!(count(&rows), N as u64, "{rows:?}");
    // One row per kind of refusal per flush: the burst spans a few flushes at most.
    assert!(rows.len() <= 12, "{} rows for {N} refusals: {rows:?}", rows.len());
    let by_reason = |reason: &str| -> u64 {
        count(
            &rows
                .iter()
                .filter(|e| e.detail["reason"].as_str().unwrap_or("").starts_with(reason))
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(by_reason("secret_mismatch"), (N / 2) as u64);
    assert_eq!(by_reason("malformed"), (N / 2) as u64);
    for row in &rows {
        assert_eq!(row.outcome, "invalid_credential");
        let (first, last) = (row.detail["first_at"].as_i64().unwrap(), row.detail["last_at"].as_i64().unwrap());
        assert!(first <= last && row.at == last, "{row:?}");
    }
    let mismatch = rows.iter().find(|e| e.detail["reason"] == "secret_mismatch").unwrap();
    assert!(mismatch.target_id.as_deref().is_some_and(|id| id.ends_with(&good[6..18])), "{mismatch:?}");
    // The good PAT still works.
    exchange_ok(&hub, &good, json!({"requested_token_class": "agent_access"})).await;
}

#[tokio::test]
async fn refusals_still_buffered_at_shutdown_are_written() {
    let hub = start().await;
    for _ in 0..5 {
        let resp = post_exchange(&hub, "kwp_a_garbage", json!({"requested_token_class": "agent_access"})).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let hub = hub.restart_same_db().await;
    let access = session(&hub, USER).await;
    let rows = all(&hub, &access, "action=exchange.refused").await;
    assert_eq!(count(&rows), 5, "{rows:?}");
}

#[tokio::test]
async fn the_log_filters_by_actor_action_outcome_and_time_and_pages() {
    let hub = start().await;
    let admin = admin_jwt(&hub, USER).await;
    let t0 = hub.clock.now();
    user_pat(&hub, &admin).await;
    hub.clock.advance(Duration::from_secs(1000));
    let admin = admin_jwt(&hub, USER).await;
    user_pat(&hub, &admin).await;
    agent_pat(&hub, &admin, "builder", "cli").await;
    let resp = post_exchange(&hub, "kwp_a_garbage", json!({"requested_token_class": "agent_access"})).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let access = session(&hub, USER).await;
    wait_for(&hub, &access, "exchange.refused", |rows| !rows.is_empty()).await;

    let mints = all(&hub, &access, "action=pat.mint").await;
    assert_eq!(mints.len(), 3);
    assert!(mints.iter().all(|e| e.action == "pat.mint" && e.actor_name.as_deref() == Some(USER)));
    assert!(mints.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    // By actor name or id, by outcome, and by time.
    let alice_id = mints[0].actor_id.clone().unwrap();
    assert_eq!(all(&hub, &access, &format!("action=pat.mint&actor={USER}")).await, mints);
    assert_eq!(all(&hub, &access, &format!("action=pat.mint&actor={alice_id}")).await, mints);
    assert!(all(&hub, &access, "action=pat.mint&actor=nobody").await.is_empty());
    let refused = all(&hub, &access, "outcome=invalid_credential").await;
    assert!(!refused.is_empty() && refused.iter().all(|e| e.action == "exchange.refused"), "{refused:?}");
    assert!(all(&hub, &access, "action=pat.mint&outcome=invalid_credential").await.is_empty());
    let later = all(&hub, &access, &format!("action=pat.mint&since={}", t0 + 500)).await;
    assert_eq!(later, mints[..2].to_vec());
    let earlier = all(&hub, &access, &format!("action=pat.mint&until={}", t0 + 500)).await;
    assert_eq!(earlier, mints[2..].to_vec());
    assert!(all(&hub, &access, &format!("action=pat.mint&since={}&until={}", t0 + 1, t0 + 2)).await.is_empty());

    // One row a page, following the cursor, gives the same rows.
    let mut paged = Vec::new();
    let mut path = "/api/audit?action=pat.mint&limit=1".to_owned();
    loop {
        let page: Page<AuditEntry> = get(&hub, &path, &access).await.json().await.unwrap();
        assert!(page.items.len() <= 1);
        paged.extend(page.items);
        let Some(next) = page.next else { break };
        path = format!("/api/audit?action=pat.mint&limit=1&cursor={next}");
    }
    assert_eq!(paged, mints);
    expect_error(get(&hub, "/api/audit?since=yesterday", &access).await, StatusCode::BAD_REQUEST, "invalid_request")
        .await;
}

fn one<'a>(rows: &'a [AuditEntry], action: &str) -> &'a AuditEntry {
    let found: Vec<&AuditEntry> = rows.iter().filter(|e| e.action == action).collect();
    assert_eq!(found.len(), 1, "{action}: {rows:?}");
    found[0]
}

#[tokio::test]
async fn sign_ins_sessions_and_their_abuse_are_audited_with_actor_and_outcome() {
    let hub = start().await;
    // Failed sign-ins: a wrong password for a known person, and an unknown name.
    let browser = browser();
    let flow = Flow::new(&v4(43301));
    let (request, csrf) = open_login_page(&browser, &hub, &flow).await;
    let resp = submit_login(&browser, &hub, &request, &csrf, USER, "not the password").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (request, csrf) = open_login_page(&browser, &hub, &flow).await;
    let resp = submit_login(&browser, &hub, &request, &csrf, "mallory", "not the password").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // A sign-in, a refresh, a retry of it (the answer was lost), and after the grace period a
    // reuse of the old refresh token (ends the session).
    let (_, tokens) = sign_in(&hub, &v4(43302)).await;
    let r1 = tokens.refresh_token.clone().unwrap();
    assert_eq!(refresh(&hub, &r1).await.status(), StatusCode::OK);
    assert_eq!(refresh(&hub, &r1).await.status(), StatusCode::OK);
    hub.clock.advance(Duration::from_secs(31));
    assert_eq!(refresh(&hub, &r1).await.status(), StatusCode::BAD_REQUEST);

    // A replayed code.
    let flow = Flow::new(&v4(43303));
    let code = get_code(&browser, &hub, &flow).await;
    assert_eq!(exchange(&hub, &flow, &code).await.status(), StatusCode::OK);
    assert_eq!(exchange(&hub, &flow, &code).await.status(), StatusCode::BAD_REQUEST);

    // A logout.
    let (_, other) = sign_in(&hub, &v4(43304)).await;
    let resp = reqwest::Client::new()
        .post(hub.at("/oauth/revoke"))
        .form(&[("token", other.refresh_token.as_deref().unwrap()), ("client_id", keyway_api::DESKTOP_CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let access = session(&hub, USER).await;
    let rows = all(&hub, &access, "action=session.").await;
    let alice = one(&rows, "session.refresh").actor_id.clone().unwrap();

    let failed: Vec<&AuditEntry> = rows.iter().filter(|e| e.action == "session.sign_in_failed").collect();
    assert_eq!(failed.len(), 2, "{rows:?}");
    let wrong = failed.iter().find(|e| e.detail["reason"] == "wrong_password").unwrap();
    assert_eq!((wrong.actor_id.as_deref(), wrong.actor_name.as_deref()), (Some(alice.as_str()), Some(USER)));
    let unknown = failed.iter().find(|e| e.detail["reason"] == "unknown_user").unwrap();
    assert_eq!((unknown.actor_kind.as_str(), unknown.actor_id.as_deref()), ("anonymous", None));
    assert!(!serde_json::to_string(&rows).unwrap().contains("mallory"), "a typed name is not kept");
    assert!(failed.iter().all(|e| e.outcome == "invalid_credential"));

    // Four sign-ins: the first flow, the replayed code's, the logout's and this reader's.
    let sign_ins: Vec<&AuditEntry> = rows.iter().filter(|e| e.action == "session.sign_in").collect();
    assert_eq!(sign_ins.len(), 4, "{rows:?}");
    assert!(sign_ins.iter().all(|e| e.outcome == "ok" && e.actor_name.as_deref() == Some(USER)));

    let retried = one(&rows, "session.refresh_retried");
    assert_eq!((retried.outcome.as_str(), retried.actor_id.as_deref()), ("ok", Some(alice.as_str())));
    assert_eq!(retried.target_id, one(&rows, "session.refresh").target_id);
    let reused = one(&rows, "session.refresh_reused");
    assert_eq!((reused.outcome.as_str(), reused.actor_id.as_deref()), ("invalid_grant", Some(alice.as_str())));
    assert_eq!(reused.target_id, one(&rows, "session.refresh").target_id);
    let replayed = one(&rows, "session.code_replayed");
    assert_eq!((replayed.outcome.as_str(), replayed.actor_id.as_deref()), ("invalid_grant", Some(alice.as_str())));
    assert_eq!(replayed.detail["revoked"], true);
    let logout = one(&rows, "session.logout");
    assert_eq!((logout.outcome.as_str(), logout.actor_id.as_deref()), ("ok", Some(alice.as_str())));
    // Refreshes beyond the one above: none.
    assert_eq!(rows.iter().filter(|e| e.action == "session.refresh").count(), 1);
}

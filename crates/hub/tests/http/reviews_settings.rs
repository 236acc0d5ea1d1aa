//! The approval queue's settings: the TTL limits admins set.

use keyway_api::reviews::ReviewSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::reviews::*;

#[tokio::test]
async fn admins_set_ttl_limits_and_submitters_are_held_to_them() {
    let hub = queue_hub().await;
    let dev = access_token_of(&hub, DEV).await;
    let adm = access_token_of(&hub, ADM).await;
    let current: ReviewSettings = get(&hub, &dev, "/api/settings/reviews").await.json().await.unwrap();
    assert_eq!(current, ReviewSettings { default_ttl_secs: 3600, max_ttl_secs: 86400 });
    let body = expect_error(
        submit(&hub, &dev, json!({"title": "x", "ttl_secs": 86401})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(body.message.contains("86400"), "{}", body.message);
    expect_error(
        submit(&hub, &dev, json!({"title": "x", "ttl_secs": 0})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let put = |token: String, body: Value| {
        let url = hub.at("/api/settings/reviews");
        async move { http().put(url).bearer_auth(token).json(&body).send().await.unwrap() }
    };
    // A sign-in's access token is not enough to manage: admin_required; a user_admin JWT of a
    // non-admin: role_required.
    expect_error(
        put(adm.clone(), json!({"default_ttl_secs": 60, "max_ttl_secs": 120})).await,
        StatusCode::FORBIDDEN,
        "admin_required",
    )
    .await;
    let dev_admin = exchanged(&hub, "/auth/exchange", ("Bearer", &dev), "user_admin").await;
    expect_error(
        put(dev_admin, json!({"default_ttl_secs": 60, "max_ttl_secs": 120})).await,
        StatusCode::FORBIDDEN,
        "role_required",
    )
    .await;
    let adm_access = adm.clone();
    let adm = exchanged(&hub, "/auth/exchange", ("Bearer", &adm), "user_admin").await;
    for bad in [
        json!({"default_ttl_secs": 600, "max_ttl_secs": 120}),
        json!({"default_ttl_secs": 0, "max_ttl_secs": 120}),
        json!({"default_ttl_secs": 60, "max_ttl_secs": 31 * 86400}),
    ] {
        expect_error(put(adm.clone(), bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let resp = put(adm.clone(), json!({"default_ttl_secs": 60, "max_ttl_secs": 120})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let r = submit_ok(&hub, &dev, json!({"title": "default ttl"})).await;
    assert_eq!(r.expires_at - r.created_at, 60);
    expect_error(
        submit(&hub, &dev, json!({"title": "x", "ttl_secs": 121})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(audit(&hub, &adm_access, "review.settings").await.len(), 1);
}

//! A system clock stepped back (an NTP step, a VM restored from a snapshot) revives nothing: an
//! authorization code or an access token that has expired stays expired, in the running hub and
//! after a restart while the clock is still behind; and the hub keeps working meanwhile.

use std::time::Duration;

use keyway_hub::Clock;
use reqwest::StatusCode;

use crate::common::*;

const CODE_TTL: Duration = Duration::from_secs(60);
/// Longer than the code's and the access token's (15 min) lifetimes.
const PAST_BOTH: Duration = Duration::from_secs(16 * 60);

#[tokio::test]
async fn a_clock_stepped_back_revives_no_expired_code_or_token_even_after_a_restart() {
    let hub = TestHub::start_with(|s| s.code_ttl = CODE_TTL).await;
    let browser = browser();
    let (first, second) = (Flow::new(&v4(47001)), Flow::new(&v4(47002)));
    let first_code = get_code(&browser, &hub, &first).await;
    let second_code = get_code(&browser, &hub, &second).await;
    let (_, tokens) = sign_in(&hub, &v4(47003)).await;
    assert_eq!(userinfo(&hub, &tokens.access_token).await.status(), StatusCode::OK);

    // Time passes both lifetimes, and the hub works on (a sign-in, audited at that time).
    hub.clock.advance(PAST_BOTH);
    assert_eq!(userinfo(&hub, &tokens.access_token).await.status(), StatusCode::UNAUTHORIZED);
    let (_, later) = sign_in(&hub, &v4(47004)).await;

    // The system clock steps back over both lifetimes: what expired stays expired.
    hub.clock.step_back(PAST_BOTH);
    assert_eq!(
        userinfo(&hub, &tokens.access_token).await.status(),
        StatusCode::UNAUTHORIZED,
        "an expired access token works again after the clock stepped back"
    );
    expect_error(exchange(&hub, &first, &first_code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(userinfo(&hub, &later.access_token).await.status(), StatusCode::OK, "a live token stopped working");

    // A restart on a clock that is behind (a fresh one, at the real time): the hub starts at the
    // newest audit row's time, so the other code and the old token stay dead too.
    let hub = hub
        .restart_same_address_with(|s| {
            s.code_ttl = CODE_TTL;
            s.clock = Clock::system();
        })
        .await;
    expect_error(exchange(&hub, &second, &second_code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(
        userinfo(&hub, &tokens.access_token).await.status(),
        StatusCode::UNAUTHORIZED,
        "an expired access token works again after a restart on a clock set back"
    );
    // …and signs people in meanwhile.
    let (_, fresh) = sign_in(&hub, &v4(47005)).await;
    assert_eq!(userinfo(&hub, &fresh.access_token).await.status(), StatusCode::OK);
}

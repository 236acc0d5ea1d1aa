//! keyway-client at a hub in learning mode: asking the mode, and the sign-in without a form that
//! "Try Keyway without an account" uses, refused by a protected hub. Real hubs on 127.0.0.1 and
//! the real Secret Service. Run through `cargo xtask test`.

use anyhow::{Context, Result, ensure};
use keyway_api::Role;
use keyway_api::auth::HubMode;
use keyway_client::login::LoginOptions;
use keyway_client::{Client, Error, Profile, Vault};
use keyway_e2e::{TestHub, keychain_lookup, temp_dir};
use keyway_hub::{Hub, HubKey, Mode, Settings};

fn client(name: &str, server: &str) -> Result<Client> {
    let profile = Profile::new(&format!("{name}-{}", std::process::id()), server.parse()?);
    Ok(Client::new(profile, Vault::open()?)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_signs_in_to_a_learning_hub_without_a_form_and_a_protected_hub_refuses_it() -> Result<()> {
    let protected = TestHub::start(&[("ada", "correct horse battery", &[Role::Developer])]).await?;
    let dir = temp_dir("keyway-learning-hub-")?;
    let learning = Hub::open(Settings {
        listen: "127.0.0.1:0".parse()?,
        database_url: format!("sqlite://{}", dir.path().join("hub.db").display()),
        hub_key: Some(HubKey::generate()),
        mode: Mode::Learning,
        ..Settings::default()
    })
    .await?
    .serve()
    .await?;

    // A protected hub says so, and the sign-in without a form is refused there: nothing kept.
    let at_protected = client("t-learning-refused", &protected.url)?;
    ensure!(at_protected.hub_mode().await? == HubMode::Protected, "the protected hub's mode");
    match at_protected.login_learning(LoginOptions::default()).await {
        Err(Error::Refused { code, .. }) if code == "not_learning_mode" => {}
        other => anyhow::bail!("a protected hub's sign-in without a form: {other:?}"),
    }
    let account = format!("{}/refresh_token", at_protected.profile().name);
    ensure!(keychain_lookup(&account)?.is_none(), "a refused sign-in left {account} in the keychain");

    // A learning hub: signed in at once as the learner with every role, renewable, the refresh
    // token in the keychain.
    let at_learning = client("t-learning", &learning.issuer)?;
    ensure!(at_learning.hub_mode().await? == HubMode::Learning, "the learning hub's mode");
    let session = at_learning.login_learning(LoginOptions::default()).await?;
    ensure!(session.user.preferred_username.as_deref() == Some("learner"), "signed in as {:?}", session.user);
    for role in Role::ALL {
        ensure!(session.user.roles.iter().any(|r| r == role.as_str()), "the learner lacks {role:?}");
    }
    ensure!(session.renewable, "the learner's session cannot be renewed");
    let account = format!("{}/refresh_token", at_learning.profile().name);
    keychain_lookup(&account)?.context("no refresh token in the keychain")?;
    at_learning.logout().await?;
    ensure!(keychain_lookup(&account)?.is_none(), "{account} survived sign-out");

    learning.shutdown().await;
    protected.stop().await;
    Ok(())
}

//! The audit log is a hash chain with a signed head: `keyway-hub audit verify` passes an intact
//! log, and names the first bad row of one changed directly in the SQLite file.

use std::process::{Command, Output};
use std::sync::Arc;

use keyway_api::Role;
use keyway_api::auth::Audience;
use keyway_hub::store::AuditStore as _;
use keyway_hub::store::audit::{ChainRow, GENESIS, head_message, row_hash};
use keyway_hub::{AnyHub, Hub, HubKey, Settings, SqliteStore};
use sqlx::SqlitePool;

const BIN: &str = env!("CARGO_BIN_EXE_keyway-hub");

struct Db {
    _dir: tempfile::TempDir,
    url: String,
    key: HubKey,
    /// The same key in a 0600 file, for the binary.
    key_file: String,
}

impl Db {
    fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("hub.db").display());
        let key = HubKey::generate();
        let key_file = dir.path().join("hub.key");
        key.write_new_file(&key_file).unwrap();
        Db { url, key, key_file: key_file.display().to_string(), _dir: dir }
    }

    fn settings(&self) -> Settings {
        Settings { database_url: self.url.clone(), hub_key: Some(self.key.clone()), ..Settings::default() }
    }

    async fn pool(&self) -> SqlitePool {
        SqliteStore::connect(&self.url).await.unwrap().pool().clone()
    }
}

/// A hub database with `n` audit rows (ids 1..=n): one `pat.mint` each.
async fn log_with(n: usize) -> Db {
    let db = Db::new();
    let hub = Hub::open(db.settings()).await.unwrap();
    hub.create_user("alice", "correct horse battery", &[Role::Developer]).await.unwrap();
    for _ in 0..n {
        hub.mint_pat("alice", None, Audience::Cli, None).await.unwrap();
    }
    db
}

fn verify(db: &Db) -> Output {
    Command::new(BIN)
        .args(["audit", "verify", "--database", &db.url, "--key-file", &db.key_file])
        .env_remove("KEYWAY_HUB_DATABASE")
        .env_remove("RUST_LOG")
        .output()
        .expect("run keyway-hub audit verify")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Verification fails and names `row` as the first bad one.
fn assert_broken_at(db: &Db, row: i64) {
    let out = verify(db);
    assert!(!out.status.success(), "verify passed: {}", text(&out));
    assert!(text(&out).contains(&format!("broken at row {row}:")), "{}", text(&out));
}

fn assert_intact(db: &Db, rows: usize) {
    let out = verify(db);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("audit log intact: {rows} rows")), "{}", text(&out));
}

#[tokio::test]
async fn an_intact_log_verifies() {
    assert_intact(&Db::new(), 0);
    let db = log_with(5).await;
    assert_intact(&db, 5);
    // Verifying changes nothing, and the hub keeps appending to the same chain after it.
    assert_intact(&db, 5);
    let hub = Hub::open(db.settings()).await.unwrap();
    hub.mint_pat("alice", None, Audience::Cli, None).await.unwrap();
    assert_intact(&db, 6);
}

#[tokio::test]
async fn a_changed_row_is_named() {
    let db = log_with(5).await;
    sqlx::query("UPDATE audit_events SET outcome = 'refused' WHERE id = 3").execute(&db.pool().await).await.unwrap();
    assert_broken_at(&db, 3);

    let db = log_with(5).await;
    let detail = r#"{"kind":"agent_pat","owner":"someone else"}"#;
    sqlx::query("UPDATE audit_events SET detail = ?1 WHERE id = 2")
        .bind(detail)
        .execute(&db.pool().await)
        .await
        .unwrap();
    assert_broken_at(&db, 2);
}

#[tokio::test]
async fn a_removed_middle_row_is_named() {
    let db = log_with(5).await;
    sqlx::query("DELETE FROM audit_events WHERE id = 3").execute(&db.pool().await).await.unwrap();
    assert_broken_at(&db, 3);
}

#[tokio::test]
async fn a_removed_last_row_is_named() {
    let db = log_with(5).await;
    sqlx::query("DELETE FROM audit_events WHERE id = 5").execute(&db.pool().await).await.unwrap();
    assert_broken_at(&db, 5);

    // The last two, with the head moved back to the remaining last row by someone who can
    // compute hashes but not sign.
    let db = log_with(5).await;
    let pool = db.pool().await;
    sqlx::query("DELETE FROM audit_events WHERE id >= 4").execute(&pool).await.unwrap();
    sqlx::query(
        "UPDATE audit_head SET last_id = 3, count = 3, last_hash = (SELECT hash FROM audit_events WHERE id = 3)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let out = verify(&db);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("signed head does not hold") && text(&out).contains("signature"), "{}", text(&out));
}

#[tokio::test]
async fn swapped_rows_are_named() {
    let db = log_with(5).await;
    let pool = db.pool().await;
    for sql in [
        "UPDATE audit_events SET id = 100 WHERE id = 2",
        "UPDATE audit_events SET id = 2 WHERE id = 4",
        "UPDATE audit_events SET id = 4 WHERE id = 100",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    assert_broken_at(&db, 2);
}

#[tokio::test]
async fn a_row_added_after_the_head_is_named() {
    let db = log_with(3).await;
    let pool = db.pool().await;
    let store = SqliteStore::connect(&db.url).await.unwrap();
    let last = store.audit_chain(2, 1).await.unwrap().remove(0);
    let forged = ChainRow { id: 4, hash: None, ..last.clone() };
    let hash = row_hash(&last.hash.unwrap(), &forged);
    sqlx::query(
        "INSERT INTO audit_events \
             (id, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, outcome, detail, hash) \
         SELECT 4, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, outcome, detail, ?1 \
         FROM audit_events WHERE id = 3",
    )
    .bind(&hash[..])
    .execute(&pool)
    .await
    .unwrap();
    assert_broken_at(&db, 4);
}

/// Rewrites every row's hash (and the head) consistently after changing row 2, as someone
/// with the encoding but without the hub's key can.
async fn rewrite_chain(db: &Db) -> [u8; 32] {
    let pool = db.pool().await;
    sqlx::query("UPDATE audit_events SET outcome = 'rewritten' WHERE id = 2").execute(&pool).await.unwrap();
    let store = SqliteStore::connect(&db.url).await.unwrap();
    let mut prev = GENESIS;
    for row in store.audit_chain(0, 1000).await.unwrap() {
        prev = row_hash(&prev, &row);
        sqlx::query("UPDATE audit_events SET hash = ?1 WHERE id = ?2")
            .bind(&prev[..])
            .bind(row.id)
            .execute(&pool)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE audit_head SET last_hash = ?1").bind(&prev[..]).execute(&pool).await.unwrap();
    prev
}

#[tokio::test]
async fn a_chain_rewritten_without_the_key_is_caught() {
    let db = log_with(5).await;
    rewrite_chain(&db).await;
    let out = verify(&db);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("signed head does not hold") && text(&out).contains("signature"), "{}", text(&out));

    // Signed with a key of the forger's own: the hub does not hold it.
    let db = log_with(5).await;
    let last_hash = rewrite_chain(&db).await;
    let forger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let kid = keyway_hub::key_id(&forger.verifying_key());
    let signature = ed25519_dalek::Signer::sign(&forger, &head_message(&kid, 5, &last_hash, 5));
    sqlx::query("UPDATE audit_head SET kid = ?1, signature = ?2")
        .bind(&kid)
        .bind(&signature.to_bytes()[..])
        .execute(&db.pool().await)
        .await
        .unwrap();
    let out = verify(&db);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("signed by key {kid}")), "{}", text(&out));
}

#[tokio::test]
async fn a_row_without_a_hash_is_named_and_never_chained_again() {
    let db = log_with(4).await;
    sqlx::query("UPDATE audit_events SET hash = NULL WHERE id = 2").execute(&db.pool().await).await.unwrap();
    assert_broken_at(&db, 2);
    // Marking the head unsealed does not make the hub chain the log anew.
    sqlx::query("UPDATE audit_head SET sealed = 0").execute(&db.pool().await).await.unwrap();
    let err = Hub::open(db.settings()).await.unwrap_err();
    assert!(err.to_string().contains("never sealed"), "{err}");
}

#[tokio::test]
async fn a_log_from_before_the_chain_is_chained_at_the_first_start() {
    // A database at the last migration before the chain, with audit rows.
    let db = Db::new();
    let old = tempfile::tempdir().unwrap();
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(&migrations).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < "0006" {
            std::fs::copy(&path, old.path().join(&name)).unwrap();
        }
    }
    let pool = db.pool().await;
    sqlx::migrate::Migrator::new(old.path()).await.unwrap().run(&pool).await.unwrap();
    for i in 0..3 {
        sqlx::query(
            "INSERT INTO audit_events (at, actor_kind, action, outcome, detail) \
             VALUES (?1, 'operator', 'pat.mint', 'ok', '{\"n\": 1}')",
        )
        .bind(1_700_000_000 + i)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    assert_intact(&db, 3);
    let hub = Hub::open(db.settings()).await.unwrap();
    hub.create_user("alice", "correct horse battery", &[Role::Developer]).await.unwrap();
    hub.mint_pat("alice", None, Audience::Cli, None).await.unwrap();
    assert_intact(&db, 4);
}

#[tokio::test]
async fn hubs_sharing_a_database_append_one_chain() {
    let db = log_with(0).await;
    let hubs: Vec<Arc<AnyHub>> = vec![
        Arc::new(Hub::open(db.settings()).await.unwrap()),
        Arc::new(Hub::open(db.settings()).await.unwrap()),
        Arc::new(Hub::open(db.settings()).await.unwrap()),
    ];
    let mut tasks = Vec::new();
    for i in 0..30 {
        let hub = hubs[i % hubs.len()].clone();
        tasks.push(tokio::spawn(async move { hub.mint_pat("alice", None, Audience::Cli, None).await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_intact(&db, 30);
}

/// `cargo nextest run -p keyway-hub --release --run-ignored only -E 'test(verify_time)'`: fills
/// 100,000 audit rows, has the hub chain them (the upgrade path) and times `audit verify`, in
/// process and as the binary. A benchmark, not a check: it prints the figures.
#[tokio::test]
#[ignore = "a benchmark: run it on purpose, in release"]
async fn verify_time_for_100k_rows() {
    const N: i64 = 100_000;
    let db = log_with(0).await;
    let pool = db.pool().await;
    // Rows as the hub writes them, unchained, with the head as before the chain: the hub
    // chains them at its next start, through the store.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
         INSERT INTO audit_events (at, actor_kind, actor_id, actor_name, action, target_kind, target_id, outcome, detail) \
         SELECT 1700000000 + i, 'user', 'u_bench', 'alice', 'pat.mint', 'credential', printf('cr_%012d', i), 'ok', \
             json_object('kind', 'user_pat', 'owner', 'u_bench') FROM n",
    )
    .bind(N)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE audit_head SET last_id = 0, last_hash = zeroblob(32), count = 0, kid = NULL, signature = NULL, sealed = 0")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let t0 = std::time::Instant::now();
    let hub = Hub::open(db.settings()).await.unwrap();
    let sealed = t0.elapsed();
    let t0 = std::time::Instant::now();
    let report = hub.verify_audit().await.unwrap();
    let in_process = t0.elapsed();
    assert_eq!((report.rows, report.broken), (N as u64, None));
    drop(hub);
    let t0 = std::time::Instant::now();
    assert_intact(&db, N as usize);
    let binary = t0.elapsed();
    println!(
        "audit verify, {N} rows: {:.0} ms in process, {:.0} ms as `keyway-hub audit verify` (start included); \
         chaining them at upgrade: {:.0} ms",
        in_process.as_secs_f64() * 1e3,
        binary.as_secs_f64() * 1e3,
        sealed.as_secs_f64() * 1e3
    );
}

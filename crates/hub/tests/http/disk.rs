//! A full disk under the SQLite file (a small tmpfs): writes are refused with `503
//! unavailable` and `Retry-After`, never a 500; every write the hub acknowledged is kept, the
//! database is intact, and the hub takes writes again as soon as there is room, without a
//! restart. Mounting needs root; elsewhere the test says so and does nothing.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

/// A tmpfs of `size` mounted on a fresh directory; unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "keyway-test-disk"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Fills the disk with a file until the kernel says there is no room; returns its path.
fn fill(disk: &SmallDisk) -> PathBuf {
    let path = disk.path().join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x5a_u8; 16 * 1024];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    // Whatever is left is smaller than a page of the database.
    let _ = file.write_all(&[0x5a; 512]);
    path
}

/// A review request with a payload of about 200 KiB: a write that must grow the database.
async fn submit_big(hub: &TestHub, token: &str, n: usize) -> reqwest::Response {
    let body = json!({ "title": format!("Big request {n}"), "payload": { "blob": format!("{n:08}").repeat(25_000) } });
    crate::reviews::submit(hub, token, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_gives_503_loses_no_acknowledged_write_and_the_hub_recovers_when_room_returns() {
    if on_postgres() {
        return; // The SQLite file's disk; PostgreSQL's own disk is its server's concern.
    }
    let Some(disk) = SmallDisk::mount("6m") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let url = format!("sqlite://{}", disk.path().join("hub.db").display());
    let hub = TestHub::start_with(move |s| s.database_url = url).await;
    let token = access_token_of(&hub, USER).await;

    let mut acknowledged = Vec::new();
    let first = submit_big(&hub, &token, 0).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    acknowledged.push(first.json::<keyway_api::reviews::ReviewRequest>().await.unwrap().id);

    let filler = fill(&disk);
    // Writes until one is refused for want of room: each answer is 201 or 503, never a 500.
    let mut refused = None;
    for n in 1..=40 {
        let resp = submit_big(&hub, &token, n).await;
        match resp.status() {
            StatusCode::CREATED => {
                acknowledged.push(resp.json::<keyway_api::reviews::ReviewRequest>().await.unwrap().id);
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                refused = Some(resp);
                break;
            }
            other => panic!("write {n} on a full disk answered {other}: {}", resp.text().await.unwrap_or_default()),
        }
    }
    let refused = refused.expect("40 writes of 200 KiB on a full 6 MiB disk were all accepted");
    assert!(refused.headers().contains_key("retry-after"), "no Retry-After on the 503");
    let body: keyway_api::ErrorBody = refused.json().await.unwrap();
    assert_eq!(body.error, "unavailable");
    // Reads still work meanwhile.
    let me = reqwest::Client::new().get(hub.at("/api/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    // Room again: the next write goes through, with no restart (polled, bounded).
    std::fs::remove_file(&filler).unwrap();
    let t0 = Instant::now();
    loop {
        let resp = submit_big(&hub, &token, 100).await;
        if resp.status() == StatusCode::CREATED {
            acknowledged.push(resp.json::<keyway_api::reviews::ReviewRequest>().await.unwrap().id);
            break;
        }
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(t0.elapsed() < Duration::from_secs(30), "no write went through within 30 s of room returning");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every acknowledged write is there, and the database is intact.
    for id in &acknowledged {
        let resp = reqwest::Client::new().get(hub.at(&format!("/api/reviews/{id}"))).bearer_auth(&token).send().await;
        assert_eq!(resp.unwrap().status(), StatusCode::OK, "acknowledged request {id} is gone");
    }
    let db = format!("sqlite://{}", disk.path().join("hub.db").display());
    let _dir = hub.stop().await;
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&pool).await.unwrap();
    assert_eq!(check, "ok");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM review_requests").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, i64::try_from(acknowledged.len()).unwrap(), "half-done requests are stored");
    pool.close().await;
}

//! Every table a hub keeps, in the order `migrate-store` copies them (a table after the tables
//! its foreign keys point at), and what it does with each. The tests below fail when a migration
//! adds a table (on either backend) that this list does not name, or orders one before a table
//! it points at.

/// What `migrate-store` does with a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handling {
    /// Every row is copied as it is.
    Copy,
    /// Every row is copied; the migrations insert a row of their own (a default), which the
    /// source's replaces. That row does not make a target "not empty".
    Seeded,
    /// Must be empty in the source, which is refused otherwise, with this advice.
    Refused(&'static str),
}

/// One table and what is done with it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Table {
    pub name: &'static str,
    pub handling: Handling,
}

const fn copy(name: &'static str) -> Table {
    Table { name, handling: Handling::Copy }
}

const fn seeded(name: &'static str) -> Table {
    Table { name, handling: Handling::Seeded }
}

/// Every table of the hub's schema (both backends have the same ones, besides the bookkeeping
/// of [`is_bookkeeping`]), parents first.
///
/// Expired rows (sign-in requests, codes, browser sessions, set-password codes, revoked access
/// token ids, throttle windows) are copied too: the copy is the source as it is, row for row, the
/// hub checks every expiry when it reads a row (an expired one is refused on either database),
/// and its purge removes them on the target as it would have on the source. A used code and a
/// revoked family must stay, so that a replay is still caught after the move.
pub(crate) const TABLES: &[Table] = &[
    copy("users"),
    copy("user_roles"),
    copy("set_password_codes"),
    copy("user_identities"),
    copy("sso_requests"),
    copy("scim_tokens"),
    copy("agents"),
    copy("service_accounts"),
    copy("credentials"),
    seeded("credential_settings"),
    copy("pending_authorizations"),
    copy("login_sessions"),
    copy("token_families"),
    copy("authorization_codes"),
    copy("refresh_tokens"),
    copy("revoked_access_tokens"),
    copy("review_requests"),
    copy("review_decisions"),
    copy("review_settings"),
    copy("session_settings"),
    copy("hub_signing_keys"),
    copy("key_settings"),
    copy("audit_events"),
    seeded("audit_head"),
    copy("throttle"),
    copy("oauth_clients"),
    copy("oauth_resources"),
    copy("device_authorizations"),
    copy("ciba_requests"),
    Table {
        name: "signing_keys",
        handling: Handling::Refused(
            "it holds a signing key in clear, from a version before sealing. Open it once with this keyway-hub and \
             its hub key (e.g. `keyway-hub audit verify --database URL --key-file PATH`), which seals the key and \
             erases the clear copy, then run migrate-store again",
        ),
    },
];

/// Tables of a hub database that are no hub data: sqlx's migration record, SQLite's own, and
/// PostgreSQL's `review_events` (review events on their way between the hubs of one database,
/// kept for minutes; a SQLite hub has none).
pub(crate) fn is_bookkeeping(name: &str) -> bool {
    name == "_sqlx_migrations" || name.starts_with("sqlite_") || name == "review_events"
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use sqlx::Row as _;

    use super::*;
    use crate::store::Store as _;
    use crate::store::postgres::PgStore;
    use crate::store::sqlite::SqliteStore;

    fn listed() -> BTreeSet<String> {
        TABLES.iter().map(|t| t.name.to_owned()).collect()
    }

    #[tokio::test]
    async fn every_sqlite_table_is_listed_after_the_tables_it_points_at() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(store.pool())
            .await
            .unwrap();
        let tables: BTreeSet<String> = names.into_iter().filter(|n| !is_bookkeeping(n)).collect();
        assert_eq!(tables, listed(), "migrate-store's table list and the SQLite schema differ");
        for (i, table) in TABLES.iter().enumerate() {
            let parents: Vec<String> = sqlx::query("SELECT \"table\" FROM pragma_foreign_key_list(?1)")
                .bind(table.name)
                .fetch_all(store.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            for parent in parents {
                let at = TABLES.iter().position(|t| t.name == parent).expect("the parent is listed");
                assert!(at < i, "{} is copied before {parent}, which it points at", table.name);
            }
        }
    }

    #[tokio::test]
    async fn every_postgres_table_is_listed() {
        let url = keyway_test_support::postgres::database().unwrap();
        let store = PgStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        let tables: BTreeSet<String> = names.into_iter().filter(|n| !is_bookkeeping(n)).collect();
        assert_eq!(tables, listed(), "migrate-store's table list and the PostgreSQL schema differ");
    }
}

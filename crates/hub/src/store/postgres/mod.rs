//! PostgreSQL backend, by area: each submodule implements its area's trait for [`PgStore`],
//! in the same shape as the SQLite backend.

mod audit;
mod changes;
mod ciba;
mod clients;
mod connect;
mod credentials;
mod devices;
mod identities;
mod keys;
mod notices;
mod oauth;
mod resources;
mod reviews;
mod scim;
mod throttle;
mod user_changes;
mod users;

pub use self::connect::PgStore;

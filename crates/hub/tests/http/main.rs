//! End-to-end tests of the hub's HTTP server: each test starts a hub on 127.0.0.1:0 with a
//! fresh SQLite file and drives it with reqwest like a browser and a native client would.

mod common;

mod agents_std;
mod agents_std_device;
mod api;
mod audit;
mod authorize;
mod ciba;
mod client_metadata;
mod clients_expiry;
mod clock;
mod credentials;
mod credentials_agents;
mod credentials_exchange;
mod discovery;
mod disk;
mod learning;
mod limits;
mod login;
mod matrix;
mod mcp_sdk;
mod openapi;
mod resources;
mod reviews;
mod reviews_decide;
mod reviews_live;
mod reviews_settings;
mod roles;
mod scim;
mod scim_client;
mod sessions;
mod sso;
mod sso_idp;
mod streams;
mod throttle;
mod token;
mod users;

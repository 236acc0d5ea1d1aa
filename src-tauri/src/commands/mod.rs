//! Tauri commands: thin adapters from IPC to `DesktopState`, which drives keyway-client and the
//! embedded keyway-hub. Every command returns `Result<T, CommandError>` (`{kind, message}`).

pub mod clipboard;
pub mod credentials;
pub mod device;
pub mod org;
pub mod reviews;
pub mod session;
pub mod setup;

//! Small pieces shared by the pages.

mod banner;
mod brand;
mod dialog;
mod learning;
mod nav;
mod profiles;
mod secret;
mod server_fact;
mod spinner;

pub use banner::{ErrorBanner, Notice, UiError};
pub use brand::Header;
pub use dialog::Dialog;
pub use learning::{LearningBanner, TryLearning};
pub use nav::{AppNotice, Nav, Pages};
pub use profiles::ProfileSwitcher;
pub use secret::SecretOnce;
pub use server_fact::ServerFact;
pub use spinner::Spinner;

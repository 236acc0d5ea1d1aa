//! One page per `AppStatus`, and the signed-in pages.

mod admin;
mod approvals;
mod audit;
mod credentials;
mod device;
mod login;
mod session;
mod setup;

pub use admin::AdminPage;
pub use approvals::ApprovalsPage;
pub use audit::AuditPage;
pub use credentials::CredentialsPage;
pub use login::LoginPage;
pub use session::SessionPage;
pub use setup::SetupPage;

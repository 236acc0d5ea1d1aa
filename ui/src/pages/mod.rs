//! One page per `AppStatus`, and the signed-in pages.

mod approvals;
mod credentials;
mod login;
mod session;
mod setup;

pub use approvals::ApprovalsPage;
pub use credentials::CredentialsPage;
pub use login::LoginPage;
pub use session::SessionPage;
pub use setup::SetupPage;

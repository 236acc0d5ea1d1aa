//! One page per `AppStatus`.

mod login;
mod session;
mod setup;

pub use login::LoginPage;
pub use session::SessionPage;
pub use setup::SetupPage;

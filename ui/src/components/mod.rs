//! Small pieces shared by the pages.

mod banner;
mod brand;
mod server_fact;
mod spinner;

pub use banner::{ErrorBanner, Notice, UiError};
pub use brand::Header;
pub use server_fact::ServerFact;
pub use spinner::Spinner;

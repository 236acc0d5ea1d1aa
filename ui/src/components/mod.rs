//! Small pieces shared by the pages.

mod banner;
mod brand;
mod spinner;

pub use banner::{ErrorBanner, Notice, UiError};
pub use brand::Header;
pub use spinner::Spinner;

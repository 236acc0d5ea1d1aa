//! Copying a secret: onto the clipboard marked as a password (clipboard managers that honour
//! `x-kde-passwordManagerHint: secret` keep it out of their history), and off it again after
//! `KEYWAY_CLIPBOARD_CLEAR_SECS` (default 30) unless something else was copied meanwhile.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyway_api::desktop::Copied;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::error::{CommandResult, internal};

pub const ENV_CLEAR_SECS: &str = "KEYWAY_CLIPBOARD_CLEAR_SECS";
const DEFAULT_CLEAR_SECS: u64 = 30;

/// The app's one clipboard handle. On X11 the copied text is served by the process that owns
/// the selection, so the handle lives as long as the app.
#[derive(Default)]
pub struct Clipboard {
    inner: Arc<Mutex<Option<arboard::Clipboard>>>,
    /// Bumped on every copy so an older timer never clears a newer secret.
    generation: Arc<std::sync::atomic::AtomicU64>,
}

pub fn clear_after() -> Duration {
    let secs = std::env::var(ENV_CLEAR_SECS).ok().and_then(|v| v.trim().parse::<u64>().ok());
    Duration::from_secs(secs.filter(|s| (1..=3600).contains(s)).unwrap_or(DEFAULT_CLEAR_SECS))
}

impl Clipboard {
    pub fn copy_secret(&self, secret: &str) -> CommandResult<Copied> {
        let wait = clear_after();
        {
            let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none() {
                *guard = Some(arboard::Clipboard::new().map_err(unavailable)?);
            }
            let clipboard = guard.as_mut().ok_or_else(|| internal("The clipboard is not available."))?;
            let set = clipboard.set();
            #[cfg(target_os = "linux")]
            let set = {
                use arboard::SetExtLinux as _;
                set.exclude_from_history()
            };
            set.text(secret.to_owned()).map_err(unavailable)?;
        }
        let generation = self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let (inner, current) = (self.inner.clone(), self.generation.clone());
        let expected = Zeroizing::new(secret.to_owned());
        std::thread::spawn(move || {
            std::thread::sleep(wait);
            if current.load(std::sync::atomic::Ordering::SeqCst) != generation {
                return;
            }
            let mut guard = inner.lock().unwrap_or_else(|p| p.into_inner());
            let Some(clipboard) = guard.as_mut() else { return };
            let still_ours = clipboard
                .get_text()
                .map(|text| bool::from(Zeroizing::new(text).as_bytes().ct_eq(expected.as_bytes())))
                .unwrap_or(false);
            if still_ours {
                match clipboard.clear() {
                    Ok(()) => tracing::info!("cleared the copied secret from the clipboard"),
                    Err(error) => tracing::warn!(%error, "could not clear the clipboard"),
                }
            }
        });
        Ok(Copied { clear_after_secs: wait.as_secs() })
    }
}

fn unavailable(error: arboard::Error) -> keyway_api::desktop::CommandError {
    tracing::warn!(%error, "clipboard unavailable");
    internal("The clipboard is not available here. Select the secret and copy it by hand.")
}

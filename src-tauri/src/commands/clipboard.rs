//! `copy_secret`: see `crate::clipboard`.

use keyway_api::desktop::Copied;
use tauri::State;

use crate::clipboard::Clipboard;
use crate::error::CommandResult;

#[tauri::command]
pub fn copy_secret(clipboard: State<'_, Clipboard>, secret: String) -> CommandResult<Copied> {
    let secret = zeroize::Zeroizing::new(secret);
    clipboard.copy_secret(&secret)
}

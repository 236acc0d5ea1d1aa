//! How the webview draws. WebKitGTK composites pages with OpenGL by default; on a display
//! without a GPU (a virtual X server, a remote session, many VMs) that OpenGL is a software
//! rasteriser that compiles a shader for each new kind of drawing, and the first frame of the
//! Keyway window waited about 2 s for it (under Xvfb, `cargo xtask bench desktop`). GPU
//! compositing is also the usual cause of blank or flickering WebKitGTK windows with some
//! drivers. Keyway's pages are forms, lists and text that draw fast in software, so the app
//! asks WebKit not to composite unless the person has chosen otherwise:
//! `WEBKIT_DISABLE_COMPOSITING_MODE` already set is respected, and `KEYWAY_GPU_COMPOSITING=1`
//! keeps WebKit's default. The browser Keyway starts from `BROWSER` does not inherit the
//! setting; one the desktop starts through `xdg-open` does, which only matters to a
//! WebKit-based browser (it then draws without GPU compositing too).

/// The person's opt-in to WebKit's default (GPU) compositing.
pub const GPU_ENV: &str = "KEYWAY_GPU_COMPOSITING";
const WEBKIT_ENV: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// Whether [`prefer_software_compositing`] set the variable (so children should not inherit it).
static SET_HERE: std::sync::OnceLock<()> = std::sync::OnceLock::new();

/// Call first thing in `main`, before any thread starts (it may set an environment variable,
/// which WebKit reads when the first webview is made).
pub fn prefer_software_compositing() {
    if !cfg!(target_os = "linux") || std::env::var_os(WEBKIT_ENV).is_some() {
        return;
    }
    if std::env::var(GPU_ENV).is_ok_and(|v| v == "1") {
        return;
    }
    // SAFETY: called at the start of `main`, while the process has a single thread.
    unsafe { std::env::set_var(WEBKIT_ENV, "1") };
    let _ = SET_HERE.set(());
}

/// Programs the app starts for the person (the web browser) get the environment the person
/// had, not the setting made here for the app's own webview.
pub fn restore_for_child(cmd: &mut std::process::Command) {
    if SET_HERE.get().is_some() {
        cmd.env_remove(WEBKIT_ENV);
    }
}

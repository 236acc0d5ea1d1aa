//! The floor for `cargo xtask bench desktop`: a bare Tauri window (no plugins, no commands)
//! showing one line of static text, built with the same Tauri, profile and features as the app.

use tauri::http::Response;
use tauri::{WebviewUrl, WebviewWindowBuilder};

const PAGE: &str = "<!doctype html><html><head><meta charset=utf-8><title>Bare</title></head>\
                    <body><p>A bare Tauri window</p></body></html>";

fn main() {
    let mut context = tauri::generate_context!("../tauri.conf.json");
    // Not Keyway's window: one made here that loads the static page.
    context.config_mut().app.windows.clear();
    let result = keyway_desktop::first_paint::watch(tauri::Builder::default())
        // The page comes from a custom scheme, as the app's own pages do.
        .register_uri_scheme_protocol("bare", |_ctx, _request| {
            Response::builder()
                .header("content-type", "text/html; charset=utf-8")
                .body(PAGE.as_bytes().to_vec())
                .unwrap_or_default()
        })
        .on_page_load(keyway_desktop::first_paint::on_page_load)
        .setup(|app| {
            let url = WebviewUrl::CustomProtocol("bare://localhost/".parse()?);
            WebviewWindowBuilder::new(app, "main", url).title("Bare").inner_size(960.0, 680.0).build()?;
            Ok(())
        })
        .run(context);
    if let Err(error) = result {
        eprintln!("bare window: {error}");
        std::process::exit(1);
    }
}

//! Unix timestamps as the person reads them: local date and time, and "in 29 days".

use js_sys::{Array, Date, Object, Reflect};
use wasm_bindgen::JsValue;

/// "22 Dec 2025, 14:03" in the person's locale and time zone.
pub fn local_date_time(unix_seconds: i64) -> String {
    let options = Object::new();
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    let _ = Reflect::set(&options, &"timeStyle".into(), &"short".into());
    let format = js_sys::Intl::DateTimeFormat::new(&Array::new(), &options).format();
    let date = Date::new(&JsValue::from_f64(unix_seconds as f64 * 1000.0));
    format
        .call1(&JsValue::UNDEFINED, &date)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| String::from(date.to_string()))
}

/// "in 29 days", "in 3 hours", "2 minutes ago", relative to now.
pub fn relative(unix_seconds: i64) -> String {
    let seconds = unix_seconds as f64 - Date::now() / 1000.0;
    let (value, unit) = match seconds.abs() {
        s if s < 60.0 => (seconds, "second"),
        s if s < 3600.0 => (seconds / 60.0, "minute"),
        s if s < 86400.0 => (seconds / 3600.0, "hour"),
        _ => (seconds / 86400.0, "day"),
    };
    let options = Object::new();
    let _ = Reflect::set(&options, &"numeric".into(), &"always".into());
    js_sys::Intl::RelativeTimeFormat::new(&Array::new(), &options).format(value.round(), unit).into()
}

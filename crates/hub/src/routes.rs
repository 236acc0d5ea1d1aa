//! The hub's one router: every route, the health check, the fallbacks and the layers.

use axum::Router;
use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::error::Error;
use crate::routing::Routes;
use crate::state::AppState;
use crate::store::Store;

/// Largest request body accepted (routes that take more say so themselves).
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// Every route of the hub, with the paths it registers.
pub(crate) fn routes<S: Store>() -> Routes<S> {
    Routes::new()
        .route("/healthz", get(healthz))
        .route("/auth/mode", get(crate::learning::mode::<S>))
        .route("/openapi.json", get(crate::openapi::openapi_json))
        .merge(crate::oauth::router::<S>())
        .merge(crate::api::router::<S>())
        .merge(crate::sso::router::<S>())
        .merge(crate::scim::router::<S>())
}

/// The hub's router: its routes, the fallbacks and the layers.
pub(crate) fn router<S: Store>(state: AppState<S>, limits: crate::limits::Limits) -> Router {
    let learning = state.settings.mode == crate::config::Mode::Learning;
    let router = routes::<S>()
        .into_router()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            Error::Internal("a request handler panicked".into()).into_response()
        }));
    // The `unguarded` build (`cargo xtask bench exchange --compare-limits` only) leaves the
    // request guard out, to measure what it costs.
    #[cfg(not(feature = "unguarded"))]
    let router = router.layer(crate::limits::GuardLayer::new(limits));
    #[cfg(feature = "unguarded")]
    let _ = limits;
    let router = router.layer(TraceLayer::new_for_http());
    // Every answer says the hub's authentication is off.
    let router = if learning {
        router.layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("keyway-mode"),
            HeaderValue::from_static("learning"),
        ))
    } else {
        router
    };
    router.with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn not_found(OriginalUri(uri): OriginalUri) -> Error {
    Error::NotFound(uri.path().to_owned())
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

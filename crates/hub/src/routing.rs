//! Route registration that remembers what it registers: every route of the hub goes through
//! [`Routes::route`], so the hub can list its paths ([`crate::route_paths`]) and a test can walk
//! every one of them against the real router.

use axum::Router;
use axum::routing::MethodRouter;

use crate::state::AppState;

/// A router and the paths registered on it.
pub(crate) struct Routes<S> {
    router: Router<AppState<S>>,
    paths: Vec<&'static str>,
}

impl<S: Send + Sync + 'static> Routes<S> {
    pub(crate) fn new() -> Routes<S> {
        Routes { router: Router::new(), paths: Vec::new() }
    }

    /// Routes `path` to `methods`, and records the path.
    pub(crate) fn route(mut self, path: &'static str, methods: MethodRouter<AppState<S>>) -> Routes<S> {
        self.router = self.router.route(path, methods);
        self.paths.push(path);
        self
    }

    /// Adds the routes of `other`.
    pub(crate) fn merge(mut self, other: Routes<S>) -> Routes<S> {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }

    pub(crate) fn paths(&self) -> &[&'static str] {
        &self.paths
    }

    pub(crate) fn into_router(self) -> Router<AppState<S>> {
        self.router
    }
}

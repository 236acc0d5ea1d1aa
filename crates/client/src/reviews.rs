//! The approval queue from a client: submit, list, show, decide, cancel, wait, live events.
//!
//! Every call uses the profile's access token (renewed from the keychain when needed); a
//! refusal keeps the hub's code and message in [`Error::Refused`].

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::Stream;
use keyway_api::auth::Page;
use keyway_api::reviews::{
    Decide, MAX_WAIT_SECS, ReviewEvent, ReviewQuery, ReviewRequest, ReviewSettings, SubmitReview,
};
use reqwest::Method;
use serde::Serialize;

use crate::http::{Auth, Request, path_segment};
use crate::sse::{Frame, FrameBuffer, MAX_FRAME_BYTES};
use crate::{Client, Error};

/// Slack added to a long-poll's own timeout for the HTTP request carrying it.
const POLL_SLACK: Duration = Duration::from_secs(15);
/// How long an SSE request may stay open (the hub ends it when the access token expires).
const EVENTS_REQUEST_LIMIT: Duration = Duration::from_secs(24 * 3600);
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Code of the `Err` item [`Client::review_events`] yields when events may have been missed.
pub const EVENTS_MISSED: &str = "events_missed";
const EVENTS_PATH: &str = "/api/reviews/events";
/// What a malformed review id is called in the refusal.
const ID: &str = "review request id";

impl Client {
    /// A review API request with a JWT of the profile's class (a sign-in's access token, or one
    /// exchanged from the profile's PAT or service token), renewed once if the hub finds it stale.
    fn review_request<'a>(&self, method: Method, path: &'a str) -> Result<Request<'a>, Error> {
        Ok(Request::new(method, path, Auth::Jwt(self.default_class()?)).renew_stale_token())
    }

    /// `POST /api/reviews`.
    pub async fn submit_review(&self, submit: &SubmitReview) -> Result<ReviewRequest, Error> {
        self.call(self.review_request(Method::POST, "/api/reviews")?.json(submit)?).await
    }

    /// `GET /api/reviews` (newest first; items without payload).
    pub async fn list_reviews(&self, query: &ReviewQuery) -> Result<Page<ReviewRequest>, Error> {
        self.call(self.review_request(Method::GET, "/api/reviews")?.query(query_pairs(query)?)).await
    }

    /// `GET /api/reviews/{id}` with its payload and decisions.
    pub async fn get_review(&self, id: &str) -> Result<ReviewRequest, Error> {
        let path = format!("/api/reviews/{}", path_segment(id, ID)?);
        self.call(self.review_request(Method::GET, &path)?).await
    }

    /// `POST /api/reviews/{id}/decision` (reviewers; a reason is required to reject).
    pub async fn decide_review(&self, id: &str, decide: &Decide) -> Result<ReviewRequest, Error> {
        let path = format!("/api/reviews/{}/decision", path_segment(id, ID)?);
        self.call(self.review_request(Method::POST, &path)?.json(decide)?).await
    }

    /// `POST /api/reviews/{id}/cancel` (the submitter, while pending).
    pub async fn cancel_review(&self, id: &str) -> Result<ReviewRequest, Error> {
        let path = format!("/api/reviews/{}/cancel", path_segment(id, ID)?);
        self.call(self.review_request(Method::POST, &path)?).await
    }

    /// `GET /api/settings/reviews`.
    pub async fn review_settings(&self) -> Result<ReviewSettings, Error> {
        self.call(self.review_request(Method::GET, "/api/settings/reviews")?).await
    }

    /// `PUT /api/settings/reviews` (admins; with a `user_admin` token).
    pub async fn set_review_settings(&self, s: &ReviewSettings) -> Result<ReviewSettings, Error> {
        self.admin(Method::PUT, "/api/settings/reviews", s).await
    }

    /// Waits until the request is final or `timeout` passes, and returns it as it then stands
    /// (still `pending` on timeout). Long-polls the hub, so it returns within moments of the
    /// decision; rides out short network failures until the timeout.
    pub async fn wait_review(&self, id: &str, timeout: Duration) -> Result<ReviewRequest, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        let path = format!("/api/reviews/{}/wait", path_segment(id, ID)?);
        let mut backoff = BACKOFF_START;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            // Whole seconds, at least one, at most the hub's maximum.
            let secs = left.as_secs_f64().ceil().clamp(0.0, MAX_WAIT_SECS as f64) as u64;
            let query = vec![("timeout".to_owned(), secs.to_string())];
            let req =
                self.review_request(Method::GET, &path)?.query(query).timeout(Duration::from_secs(secs) + POLL_SLACK);
            let got: Result<ReviewRequest, Error> = self.call(req).await;
            match got {
                Ok(r) if r.status.is_final() || secs == 0 || tokio::time::Instant::now() >= deadline => return Ok(r),
                Ok(_) => backoff = BACKOFF_START,
                Err(Error::Unreachable { .. }) if tokio::time::Instant::now() + backoff < deadline => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Live review events the caller may see, for as long as the stream is polled.
    ///
    /// It reconnects by itself (with backoff, resuming with `Last-Event-ID`). An `Err` item
    /// reports an interruption: `Unreachable` while the hub cannot be reached, or
    /// `Refused { code: "events_missed" }` ([`EVENTS_MISSED`]) when events were lost — list
    /// the queue again after either. After `NotSignedIn`, `SessionEnded` or another refusal
    /// (no permission) the stream ends.
    pub fn review_events(&self) -> impl Stream<Item = Result<ReviewEvent, Error>> + Send + '_ {
        let state = Events {
            client: self,
            conn: None,
            buf: FrameBuffer::default(),
            pending: VecDeque::new(),
            last_id: None,
            backoff: BACKOFF_START,
            retry: false,
            done: false,
        };
        futures_util::stream::unfold(state, |mut st| async move {
            loop {
                if let Some(item) = st.pending.pop_front() {
                    return Some((item, st));
                }
                if st.done {
                    return None;
                }
                if st.conn.is_none() {
                    if st.retry {
                        tokio::time::sleep(st.backoff).await;
                        st.backoff = (st.backoff * 2).min(BACKOFF_MAX);
                    }
                    st.retry = true;
                    match st.client.open_events(st.last_id.as_deref()).await {
                        Ok(resp) => {
                            st.conn = Some(resp);
                            st.buf.clear();
                        }
                        Err(e) => {
                            st.done = !matches!(e, Error::Unreachable { .. })
                                && !matches!(&e, Error::Refused { code, .. } if code == "http_error");
                            return Some((Err(e), st));
                        }
                    }
                }
                if let Some(frame) = st.buf.next_frame() {
                    st.handle(&frame);
                    continue;
                }
                let Some(conn) = st.conn.as_mut() else { continue };
                match conn.chunk().await {
                    Ok(Some(bytes)) => {
                        if st.buf.push(&bytes).is_err() {
                            // No hub sends a frame this large: drop the connection rather than
                            // hold an unbounded buffer, and say events may have been missed.
                            st.conn = None;
                            st.buf.clear();
                            st.pending.push_back(Err(Error::Refused {
                                code: EVENTS_MISSED.into(),
                                message: format!(
                                    "The hub sent a live event larger than {} KiB; list the queue again.",
                                    MAX_FRAME_BYTES / 1024
                                ),
                            }));
                        }
                    }
                    // The hub ended the stream (token expiry, shutdown): reconnect at once.
                    Ok(None) => {
                        st.conn = None;
                        st.retry = false;
                    }
                    Err(e) => {
                        st.conn = None;
                        return Some((Err(Error::unreachable(&st.client.api_url(EVENTS_PATH), &e)), st));
                    }
                }
            }
        })
    }

    async fn open_events(&self, last_id: Option<&str>) -> Result<reqwest::Response, Error> {
        let mut req = self
            .review_request(Method::GET, EVENTS_PATH)?
            .header("accept", "text/event-stream")
            .timeout(EVENTS_REQUEST_LIMIT);
        if let Some(id) = last_id {
            req = req.header("last-event-id", id);
        }
        self.send(req).await
    }
}

struct Events<'a> {
    client: &'a Client,
    conn: Option<reqwest::Response>,
    buf: FrameBuffer,
    pending: VecDeque<Result<ReviewEvent, Error>>,
    last_id: Option<String>,
    backoff: Duration,
    /// Wait `backoff` before the next connection attempt.
    retry: bool,
    done: bool,
}

impl Events<'_> {
    fn handle(&mut self, frame: &Frame) {
        if frame.comment {
            // The greeting proves the subscription is live.
            self.backoff = BACKOFF_START;
        }
        if let Some(id) = &frame.id {
            self.last_id = Some(id.clone());
        }
        self.pending.extend(review_item(frame));
    }
}

/// What a frame of the review stream brings: nothing (a comment), an event, or word that
/// events were missed. An event this client cannot read (a type it does not know yet) is
/// skipped.
pub(crate) fn review_item(frame: &Frame) -> Option<Result<ReviewEvent, Error>> {
    match frame.event.as_deref() {
        None if frame.data.is_empty() => None,
        Some("resync") => Some(Err(Error::Refused {
            code: EVENTS_MISSED.into(),
            message: "Some live review events were missed; list the queue again.".into(),
        })),
        _ => match serde_json::from_str::<ReviewEvent>(&frame.data) {
            Ok(event) => Some(Ok(event)),
            Err(e) => {
                tracing::debug!("ignoring an unreadable review event: {e}");
                None
            }
        },
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::InvalidInput(format!("cannot encode the request: {e}")))
}

/// A query struct as `name=value` pairs (absent fields left out).
fn query_pairs<T: Serialize>(query: &T) -> Result<Vec<(String, String)>, Error> {
    let serde_json::Value::Object(fields) = to_json(query)? else {
        return Err(Error::InvalidInput("a query must be a set of named fields".into()));
    };
    Ok(fields
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some((k, s)),
            other => Some((k, other.to_string())),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_leave_out_absent_fields() {
        let q = ReviewQuery {
            status: Some(keyway_api::reviews::ReviewStatus::Pending),
            mine: Some(true),
            limit: Some(5),
            ..ReviewQuery::default()
        };
        let mut pairs = query_pairs(&q).unwrap();
        pairs.sort();
        let want: Vec<(String, String)> = [("limit", "5"), ("mine", "true"), ("status", "pending")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(pairs, want);
    }
}

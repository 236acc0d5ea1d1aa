//! The review queue's domain: who may decide what and how a vote changes a request
//! ([`rules`]), who sees which requests ([`visibility`]), what a submission may be
//! ([`submission`]), the audit rows of transitions ([`audit`]), the live fan-out
//! ([`events`]) and expiry ([`sweeper`]). The routes are in `crate::api::reviews`.

pub(crate) mod audit;
pub(crate) mod events;
pub(crate) mod rules;
pub(crate) mod submission;
pub(crate) mod sweeper;
pub(crate) mod visibility;

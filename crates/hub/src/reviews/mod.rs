//! The review queue's domain: who may decide what, and how a vote changes a request.

pub(crate) mod rules;

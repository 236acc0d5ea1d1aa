//! The review rules, pure: who may vote on a request, and what a vote does to it.

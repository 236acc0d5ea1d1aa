//! Keyway's fuzz targets: one function per parser of untrusted input, each asserting what must
//! hold of its answer, not only that it returns. `fuzz_targets/<name>.rs` hands each one to
//! libFuzzer (`cargo xtask fuzz`); `tests/corpus.rs` runs each over its checked-in corpus
//! (`corpus/<name>/`) on stable, so the targets and their seeds keep compiling and passing.

pub mod client;
pub mod hub;
mod input;

/// A target: any bytes in; a panic is a finding.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz_targets/` file and `corpus/` folder.
pub const TARGETS: &[(&str, Target)] = &[
    ("form_params", hub::form_params),
    ("cookie", hub::cookie),
    ("jwt", hub::jwt),
    ("redirect_uri", hub::redirect_uri),
    ("pat", hub::pat),
    ("json_body", hub::json_body),
    ("scim", hub::scim),
    ("loopback_request", client::loopback_request),
    ("sse", client::sse),
    ("deep_link", client::deep_link),
];

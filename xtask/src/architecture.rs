//! ARCHITECTURE.md names repository paths (`crates/hub/src/lib.rs`, `crates/hub/migrations/sqlite/`,
//! `crates/client/src/lib.rs::Client::login`); each must exist.

/// The repository paths a Markdown text names: backticked tokens with a `/` that end in a file
/// extension or in `/`, with any `::item` after a file stripped. URLs, absolute and home paths
/// and placeholders (`<version>`) are not repository paths.
pub fn named_paths(markdown: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for (i, token) in markdown.split('`').enumerate() {
        if i % 2 == 0 {
            continue; // outside backticks
        }
        let token = token.split("::").next().unwrap_or_default();
        if token.is_empty()
            || !token.contains('/')
            || token.contains("://")
            || token.starts_with(['/', '~', '…', '.'])
            || token.contains(|c: char| c.is_whitespace() || "<>*{}[]();=%,\"'".contains(c))
        {
            continue;
        }
        let last = token.rsplit('/').next().unwrap_or_default();
        let has_extension = last.rsplit_once('.').is_some_and(|(stem, ext)| {
            !stem.is_empty() && !ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric())
        });
        if token.ends_with('/') || has_extension {
            paths.push(token.to_owned());
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::named_paths;

    #[test]
    fn every_path_architecture_md_names_exists() {
        let root = crate::root();
        let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("reading ARCHITECTURE.md");
        let named = named_paths(&text);
        assert!(named.len() > 10, "ARCHITECTURE.md names only {named:?}");
        let missing: Vec<&String> = named.iter().filter(|p| !root.join(p).exists()).collect();
        assert!(missing.is_empty(), "ARCHITECTURE.md names paths that do not exist: {missing:?}");
    }

    #[test]
    fn paths_are_told_from_other_backticked_text() {
        let md = "`crates/hub/src/lib.rs`, `crates/client/src/lib.rs::Client::login`, `hub/migrations/sqlite/`, \
                  `/api/reviews/events`, `keyway://approvals[/<id>]`, `target/bundle/keyway_<version>_amd64.deb`, \
                  `~/.cache/keyway-tauri-cli`, `ui → (invoke) → src-tauri`, `login.rs`, `tests/support`, \
                  `Result<T, CommandError>`, `…/wait`, `packaging/keyway.desktop.hbs`";
        assert_eq!(
            named_paths(md),
            [
                "crates/hub/src/lib.rs",
                "crates/client/src/lib.rs",
                "hub/migrations/sqlite/",
                "packaging/keyway.desktop.hbs"
            ]
        );
    }
}

//! Every fuzz target over its checked-in corpus, on stable: the targets keep compiling, their
//! properties keep holding for the seeds, and every `fuzz_targets/` file has its seeds.

use std::path::{Path, PathBuf};

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_target_passes_its_corpus() {
    for (name, target) in keyway_fuzz::TARGETS {
        let seeds = files(&dir("corpus").join(name));
        assert!(seeds.len() >= 3, "corpus/{name} holds {} seeds; keep at least 3", seeds.len());
        for seed in seeds {
            let bytes = std::fs::read(&seed).expect("a seed reads");
            let run = std::panic::catch_unwind(|| target(&bytes));
            assert!(run.is_ok(), "{name} fails on {}", seed.display());
        }
    }
}

#[test]
fn every_fuzz_target_file_is_listed() {
    let mut on_disk: Vec<String> =
        files(&dir("fuzz_targets")).iter().filter_map(|p| p.file_stem()?.to_str().map(str::to_owned)).collect();
    on_disk.sort();
    let mut listed: Vec<String> = keyway_fuzz::TARGETS.iter().map(|(n, _)| (*n).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
    let manifest = std::fs::read_to_string(dir("Cargo.toml")).expect("the manifest reads");
    for name in &listed {
        assert!(manifest.contains(&format!("path = \"fuzz_targets/{name}.rs\"")), "{name} has no [[bin]]");
    }
}

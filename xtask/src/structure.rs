//! `cargo xtask check-structure`: no import circle between the files of one crate, and no source
//! file over [`MAX_LINES`] lines. `cargo xtask test` runs it first.
//!
//! A file imports another when it names it through `use crate::…` / `use super::…` (groups
//! expanded) or an inline `crate::…` / `super::…` path, outside the test module (everything after
//! the first `#[cfg(test)]`) and outside `//` comments. Each path is mapped to the deepest module
//! that has a file; every strongly connected group of two or more files is a circle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use regex::Regex;

/// The longest a `.rs` file under `src/` may be.
pub const MAX_LINES: usize = 600;

/// What one crate's `src` holds that breaks the rules.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    /// Module files (after mapping `lib.rs` / `main.rs` / `mod.rs` to their module).
    pub files: usize,
    /// Each circle's files, relative to `src`, sorted; circles sorted by their first file.
    pub circles: Vec<Vec<PathBuf>>,
    /// `(lines, file)`, longest first.
    pub long_files: Vec<(usize, PathBuf)>,
}

/// The source folders checked: `crates/*/src`, `src-tauri/src`, `ui/src`, `xtask/src`.
pub fn source_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    let crates = root.join("crates");
    let mut members: Vec<PathBuf> = std::fs::read_dir(&crates)
        .with_context(|| format!("reading {}", crates.display()))?
        .flatten()
        .map(|e| e.path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    members.sort();
    dirs.extend(members);
    for d in ["src-tauri/src", "ui/src", "xtask/src"] {
        if root.join(d).is_dir() {
            dirs.push(root.join(d));
        }
    }
    Ok(dirs)
}

/// Checks every source folder of the repository at `root`; prints each folder's figures and
/// fails naming every circle and long file.
pub fn check_structure(root: &Path) -> Result<()> {
    let mut problems = Vec::new();
    for src in source_dirs(root)? {
        let report = check_crate(&src, MAX_LINES)?;
        let name = src.strip_prefix(root).unwrap_or(&src).display().to_string();
        for circle in &report.circles {
            let files: Vec<String> = circle.iter().map(|f| f.display().to_string()).collect();
            problems.push(format!("{name}: circle of {}: {}", circle.len(), files.join(", ")));
        }
        for (n, f) in &report.long_files {
            problems.push(format!("{name}: long file: {} {n} lines > {MAX_LINES}", f.display()));
        }
        let in_circles: usize = report.circles.iter().map(Vec::len).sum();
        eprintln!(
            "xtask: {name}: {} files, {} circles ({in_circles} files in them), {} files over {MAX_LINES} lines",
            report.files,
            report.circles.len(),
            report.long_files.len()
        );
    }
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("xtask: {p}");
        }
        bail!("check-structure: {} problem(s), each named above", problems.len());
    }
    Ok(())
}

/// The `.rs` files under `dir`, walked top-down in the order the directory lists them.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut subdirs = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            subdirs.push(path);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    for d in subdirs {
        rust_files(&d, out)?;
    }
    Ok(())
}

/// The module path a file under `src` stands for: `a/b.rs` and `a/b/mod.rs` are `a::b`,
/// `lib.rs` and `main.rs` the crate root.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts
}

/// `a::b::{c, d::e}` → `[[a, b, c], [a, b, d, e]]` (names only: `self` and globs dropped).
fn expand_use(body: &str) -> Vec<Vec<String>> {
    fn names(s: &str, drop: bool) -> Vec<String> {
        s.split("::").filter(|p| !p.is_empty() && !(drop && (*p == "*" || *p == "self"))).map(str::to_owned).collect()
    }
    fn walk(prefix: Vec<String>, s: &[char], out: &mut Vec<Vec<String>>) {
        let Some(open) = s.iter().position(|c| *c == '{') else {
            let mut path = prefix;
            path.extend(names(&s.iter().collect::<String>(), true));
            out.push(path);
            return;
        };
        let mut head = prefix;
        head.extend(names(&s[..open].iter().collect::<String>(), false));
        // Up to the last `}`; without one, all but the last character.
        let close = s.iter().rposition(|c| *c == '}').unwrap_or(s.len().saturating_sub(1));
        let inner = if open < close { &s[open + 1..close] } else { &[][..] };
        let (mut depth, mut part, mut parts) = (0i32, Vec::new(), Vec::new());
        for &c in inner {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if c == ',' && depth == 0 {
                parts.push(std::mem::take(&mut part));
            } else {
                part.push(c);
            }
        }
        parts.push(part);
        for p in parts.iter().filter(|p| !p.is_empty()) {
            walk(head.clone(), p, out);
        }
    }
    let body: Vec<char> = body.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    walk(Vec::new(), &body, &mut out);
    out
}

/// Line count as a text reader sees it (a last line without a newline counts).
fn line_count(text: &str) -> usize {
    text.lines().count()
}

/// Checks one crate's `src` folder.
pub fn check_crate(src: &Path, max_lines: usize) -> Result<Report> {
    let mut files = Vec::new();
    rust_files(src, &mut files)?;
    // Module path → file; a later file for the same module replaces the earlier one.
    let mut modules: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        modules.insert(module_of(src, f), i);
    }
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read(f).map(|b| String::from_utf8_lossy(&b).into_owned()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading the files under {}", src.display()))?;

    let use_re = Regex::new(r"\buse\s+(crate|super)::([^;]+);").expect("regex");
    let path_re = Regex::new(r"\b(crate|super)::((?:[A-Za-z_][A-Za-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*)").expect("regex");
    let comment_re = Regex::new(r"//[^\n]*").expect("regex");
    let resolve =
        |path: &[String]| -> Option<usize> { (0..=path.len()).rev().find_map(|n| modules.get(&path[..n]).copied()) };

    let mut edges: BTreeMap<usize, Vec<usize>> = modules.values().map(|&f| (f, Vec::new())).collect();
    for (module, &f) in &modules {
        let mut text = texts[f].as_str();
        if let Some(cut) = text.find("#[cfg(test)]") {
            text = &text[..cut];
        }
        let text = comment_re.replace_all(text, "");
        let parent: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
        let base = |kind: &str| if kind == "crate" { Vec::new() } else { parent.clone() };
        let mut targets: Vec<Vec<String>> = Vec::new();
        for m in use_re.captures_iter(&text) {
            for p in expand_use(&m[2]) {
                let mut t = base(&m[1]);
                t.extend(p);
                targets.push(t);
            }
        }
        for m in path_re.captures_iter(&text) {
            let mut t = base(&m[1]);
            t.extend(m[2].split("::").map(str::to_owned));
            targets.push(t);
        }
        for t in targets {
            if let Some(g) = resolve(&t)
                && g != f
            {
                let out = edges.get_mut(&f).expect("every module file has an entry");
                if !out.contains(&g) {
                    out.push(g);
                }
            }
        }
    }

    let rel = |i: usize| files[i].strip_prefix(src).unwrap_or(&files[i]).to_path_buf();
    let mut circles: Vec<Vec<PathBuf>> = strongly_connected(&edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            let mut c: Vec<PathBuf> = c.into_iter().map(rel).collect();
            c.sort();
            c
        })
        .collect();
    circles.sort();
    // Every .rs file counts here, also one whose module another file took.
    let mut long_files: Vec<(usize, PathBuf)> =
        (0..files.len()).map(|i| (line_count(&texts[i]), rel(i))).filter(|(n, _)| *n > max_lines).collect();
    long_files.sort_by(|a, b| b.cmp(a));
    Ok(Report { files: modules.len(), circles, long_files })
}

/// Tarjan's strongly connected components.
fn strongly_connected(edges: &BTreeMap<usize, Vec<usize>>) -> Vec<Vec<usize>> {
    struct Tarjan<'a> {
        edges: &'a BTreeMap<usize, Vec<usize>>,
        index: BTreeMap<usize, usize>,
        low: BTreeMap<usize, usize>,
        on_stack: std::collections::BTreeSet<usize>,
        stack: Vec<usize>,
        components: Vec<Vec<usize>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, v: usize) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for &w in self.edges.get(&v).map(Vec::as_slice).unwrap_or_default() {
                if !self.index.contains_key(&w) {
                    self.visit(w);
                    let lw = self.low[&w];
                    let lv = self.low.get_mut(&v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(&w) {
                    let iw = self.index[&w];
                    let lv = self.low.get_mut(&v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[&v] == self.index[&v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(&w);
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                self.components.push(component);
            }
        }
    }
    let mut t = Tarjan {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        on_stack: Default::default(),
        stack: Vec::new(),
        components: Vec::new(),
    };
    for &v in edges.keys() {
        if !t.index.contains_key(&v) {
            t.visit(v);
        }
    }
    t.components
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        dir
    }

    #[test]
    fn a_two_file_circle_is_found() {
        let dir = tree(&[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "use crate::b::Bee;\npub struct Ay;\n"),
            ("b/mod.rs", "pub struct Bee(crate::a::Ay);\n"),
        ]);
        let report = check_crate(dir.path(), MAX_LINES).unwrap();
        assert_eq!(report.circles, vec![vec![PathBuf::from("a.rs"), PathBuf::from("b/mod.rs")]]);
        assert!(report.long_files.is_empty());
        assert_eq!(report.files, 3);
    }

    #[test]
    fn super_paths_and_use_groups_count_but_tests_and_comments_do_not() {
        let dir = tree(&[
            ("lib.rs", "mod x;\n"),
            ("x/mod.rs", "mod y;\nmod z;\nuse self::y::Why;\n"),
            ("x/y.rs", "use super::{z::{Zed, self}, Other};\npub struct Why;\n"),
            (
                "x/z.rs",
                "// use super::y::Why;\npub struct Zed;\n#[cfg(test)]\nmod tests { use super::super::y::Why; }\n",
            ),
        ]);
        let report = check_crate(dir.path(), MAX_LINES).unwrap();
        assert!(report.circles.is_empty() && report.long_files.is_empty(), "{report:?}");

        let dir = tree(&[
            ("lib.rs", "mod x;\n"),
            ("x/mod.rs", "mod y;\nmod z;\n"),
            ("x/y.rs", "use super::{z::{Zed, self}, Other};\npub struct Why;\n"),
            ("x/z.rs", "pub struct Zed(super::y::Why);\n"),
        ]);
        let report = check_crate(dir.path(), MAX_LINES).unwrap();
        assert_eq!(report.circles, vec![vec![PathBuf::from("x/y.rs"), PathBuf::from("x/z.rs")]]);
    }

    #[test]
    fn a_file_of_601_lines_is_flagged_and_600_is_not() {
        let dir = tree(&[("main.rs", &"// line\n".repeat(600)), ("long.rs", &"// line\n".repeat(601))]);
        let report = check_crate(dir.path(), MAX_LINES).unwrap();
        assert_eq!(report.long_files, vec![(601, PathBuf::from("long.rs"))]);
        assert!(report.circles.is_empty());
    }

    #[test]
    fn a_clean_tree_passes() {
        let dir = tree(&[
            ("lib.rs", "pub mod a;\npub mod b;\npub use a::Ay;\n"),
            ("a.rs", "pub struct Ay;\n"),
            ("b.rs", "use crate::a::Ay;\npub fn make() -> Ay { crate::a::Ay }\n"),
        ]);
        let report = check_crate(dir.path(), MAX_LINES).unwrap();
        assert_eq!(report, Report { files: 3, circles: vec![], long_files: vec![] });
    }

    #[test]
    fn use_groups_expand_to_paths() {
        let got = expand_use("a::b::{c, d::{e, self}, *}");
        let want: Vec<Vec<String>> =
            [vec!["a", "b", "c"], vec!["a", "b", "d", "e"], vec!["a", "b", "d"], vec!["a", "b"]]
                .iter()
                .map(|p| p.iter().map(|s| s.to_string()).collect())
                .collect();
        assert_eq!(got, want);
    }
}

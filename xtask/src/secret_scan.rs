//! The secret scanner of `cargo xtask test`: finds secrets in files by shape (`kwp_…` tokens whose
//! checksum holds, `kwscim_…` tokens, compact JWTs) and by value (each secret the run's ledger
//! holds, as written, percent-encoded and form-encoded), in UTF-8 text and in UTF-16LE text (what
//! WebKit's storage holds). A hit names the file, the offset and the kind; its value is only ever
//! shown as a short prefix ([`redacted`]).

use std::collections::{BTreeMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use aho_corasick::AhoCorasick;
use anyhow::{Context, Result, bail};
use regex::bytes::Regex;

/// What a secret is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    RefreshToken,
    Jwt,
    /// `kwp_…`: PATs, service and enrollment tokens.
    KwpToken,
    /// `kwscim_…`: SCIM provisioning tokens.
    KwscimToken,
    AuthorizationCode,
    SetPasswordCode,
    Password,
    /// The encryption key of a hub's signing keys.
    HubKey,
}

impl Kind {
    /// Every kind the run makes, each of which gets a canary.
    pub const CANARIES: [Kind; 7] = [
        Kind::RefreshToken,
        Kind::Jwt,
        Kind::KwpToken,
        Kind::KwscimToken,
        Kind::AuthorizationCode,
        Kind::SetPasswordCode,
        Kind::Password,
    ];

    /// The name the ledger and the report use.
    pub fn name(self) -> &'static str {
        match self {
            Kind::RefreshToken => "refresh_token",
            Kind::Jwt => "jwt",
            Kind::KwpToken => "kwp_token",
            Kind::KwscimToken => "kwscim_token",
            Kind::AuthorizationCode => "authorization_code",
            Kind::SetPasswordCode => "set_password_code",
            Kind::Password => "password",
            Kind::HubKey => "hub_key",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::CANARIES.into_iter().chain([Kind::HubKey]).find(|k| k.name() == name)
    }
}

/// A secret to look for by its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    pub kind: Kind,
    pub value: String,
}

/// Shorter ledger values are not looked for: they would match by chance (no secret the hub makes
/// is this short, and the tests' refused passwords such as "short" are not secrets).
pub const MIN_VALUE_LEN: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encoding {
    Utf8,
    Utf16,
}

/// One secret found in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub file: PathBuf,
    /// Bytes from the start of the file.
    pub offset: u64,
    pub kind: Kind,
    pub encoding: Encoding,
    /// The secret itself (decoded), to compare with the canaries; never printed.
    value: String,
}

impl Hit {
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The report line: where, what, and only a short prefix of the value.
    pub fn report(&self) -> String {
        let encoding = match self.encoding {
            Encoding::Utf8 => "",
            Encoding::Utf16 => " (UTF-16)",
        };
        format!("{} @ {}{encoding}: {} {}", self.file.display(), self.offset, self.kind.name(), redacted(&self.value))
    }
}

/// A short prefix of `value` (at most 6 characters and a quarter of it) and an ellipsis.
pub fn redacted(value: &str) -> String {
    let n = (value.chars().count() / 4).min(6);
    format!("{}…[redacted]", value.chars().take(n).collect::<String>())
}

/// `value` percent-encoded as a URL query carries it: unreserved characters as they are, a space
/// as `%20` (`plus == false`) or `+` (`plus == true`, form encoding), every other byte `%XX`.
pub fn url_encoded(value: &str, plus: bool) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b' ' if plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The checksum of a `kwp_` token's first 48 characters: CRC-32 (IEEE) in six base62 digits, as
/// `crates/hub/src/pat.rs` makes it.
pub fn kwp_checksum(body: &str) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut crc = !0u32;
    for b in body.bytes() {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    let mut n = u64::from(!crc);
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Length of a `kwp_` token: prefix (6), public id (12), secret (30), checksum (6).
const KWP_LEN: usize = 54;
/// Length of a `kwscim_` token: prefix (7) and 43 base62 characters.
const KWSCIM_LEN: usize = 50;

/// The scanner: the shapes, and the ledger's values in every form they are looked for in.
pub struct Scanner {
    shapes: Vec<(Kind, Regex)>,
    values: Option<AhoCorasick>,
    /// For each needle of `values`, the index of its secret in `secrets`.
    needle_secret: Vec<usize>,
    secrets: Vec<Secret>,
}

impl Scanner {
    /// A scanner for the shapes and for `secrets` (duplicates and values shorter than
    /// [`MIN_VALUE_LEN`] are dropped).
    pub fn new(secrets: impl IntoIterator<Item = Secret>) -> Result<Scanner> {
        let shapes = vec![
            (Kind::KwpToken, Regex::new(r"kwp_[uaes]_[0-9A-Za-z]{48}")?),
            (Kind::KwscimToken, Regex::new(r"kwscim_[0-9A-Za-z]{43}")?),
            (Kind::Jwt, Regex::new(r"eyJ[A-Za-z0-9_-]{13,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")?),
        ];
        let mut seen = HashSet::new();
        let secrets: Vec<Secret> =
            secrets.into_iter().filter(|s| s.value.len() >= MIN_VALUE_LEN && seen.insert(s.value.clone())).collect();
        let mut needles = Vec::new();
        let mut needle_secret = Vec::new();
        for (i, s) in secrets.iter().enumerate() {
            let mut forms = vec![s.value.clone(), url_encoded(&s.value, false), url_encoded(&s.value, true)];
            forms.dedup();
            for form in forms {
                needles.push(form);
                needle_secret.push(i);
            }
        }
        let values = if needles.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                    .build(&needles)
                    .context("building the value search")?,
            )
        };
        Ok(Scanner { shapes, values, needle_secret, secrets })
    }

    /// How many distinct values are looked for.
    pub fn value_count(&self) -> usize {
        self.secrets.len()
    }

    /// Every secret in `text`: `(offset, kind, value)`.
    fn find(&self, text: &[u8], out: &mut Vec<(usize, Kind, String)>) {
        let alnum_at = |i: usize| text.get(i).is_some_and(u8::is_ascii_alphanumeric);
        for (kind, re) in &self.shapes {
            for m in re.find_iter(text) {
                let value = String::from_utf8_lossy(m.as_bytes()).into_owned();
                let whole = match kind {
                    Kind::KwpToken => {
                        !alnum_at(m.start() + KWP_LEN)
                            && kwp_checksum(&value[..KWP_LEN - 6]) == value[KWP_LEN - 6..KWP_LEN]
                    }
                    Kind::KwscimToken => !alnum_at(m.start() + KWSCIM_LEN),
                    _ => true,
                };
                if whole {
                    out.push((m.start(), *kind, value));
                }
            }
        }
        if let Some(values) = &self.values {
            for m in values.find_iter(text) {
                let secret = &self.secrets[self.needle_secret[m.pattern().as_usize()]];
                out.push((m.start(), secret.kind, secret.value.clone()));
            }
        }
    }

    /// Every secret in `bytes` (a file, or a part of one starting at an even offset), as UTF-8 and
    /// as UTF-16LE: `(offset, kind, encoding, value)`.
    pub fn scan_bytes(&self, bytes: &[u8]) -> Vec<(u64, Kind, Encoding, String)> {
        let mut found = Vec::new();
        let mut plain = Vec::new();
        self.find(bytes, &mut plain);
        found.extend(plain.into_iter().map(|(at, k, v)| (at as u64, k, Encoding::Utf8, v)));
        let (text, origin) = utf16_text(bytes);
        let mut wide = Vec::new();
        self.find(&text, &mut wide);
        found.extend(wide.into_iter().map(|(at, k, v)| (origin[at], k, Encoding::Utf16, v)));
        found
    }

    /// Every secret in the file at `path`, read in parts of [`CHUNK`] bytes that overlap by
    /// [`OVERLAP`]; returns how many bytes it holds.
    pub fn scan_file(&self, path: &Path, hits: &mut Vec<Hit>) -> std::io::Result<u64> {
        let mut file = std::fs::File::open(path)?;
        let mut buf = Vec::with_capacity(CHUNK.min(file.metadata()?.len() as usize + 1));
        let mut base = 0u64;
        let mut found = BTreeMap::new();
        loop {
            let want = (CHUNK - buf.len()) as u64;
            let got = (&mut file).take(want).read_to_end(&mut buf)? as u64;
            for (at, kind, encoding, value) in self.scan_bytes(&buf) {
                found.entry((base + at, kind, encoding)).or_insert(value);
            }
            if got < want {
                break;
            }
            // CHUNK and OVERLAP are even: the kept part starts at an even offset, as UTF-16 needs.
            let keep_from = buf.len() - OVERLAP;
            buf.drain(..keep_from);
            base += keep_from as u64;
        }
        let bytes = base + buf.len() as u64;
        hits.extend(found.into_iter().map(|((offset, kind, encoding), value)| Hit {
            file: path.to_path_buf(),
            offset,
            kind,
            encoding,
            value,
        }));
        Ok(bytes)
    }
}

/// The part of a file scanned at once.
const CHUNK: usize = 16 << 20;
/// How much consecutive parts share: longer than any secret, so none is cut in two unseen.
const OVERLAP: usize = 64 << 10;

/// The printable ASCII characters stored as UTF-16LE in `bytes` (runs of at least 8, at either
/// alignment), one run per line, and the offset in `bytes` of each character.
fn utf16_text(bytes: &[u8]) -> (Vec<u8>, Vec<u64>) {
    const MIN_RUN: usize = 8;
    let (mut text, mut origin) = (Vec::new(), Vec::new());
    for align in 0..2 {
        let mut run_start = text.len();
        let mut i = align;
        loop {
            let printable = i + 1 < bytes.len() && bytes[i + 1] == 0 && (0x20..0x7f).contains(&bytes[i]);
            if printable {
                text.push(bytes[i]);
                origin.push(i as u64);
            } else {
                if text.len() - run_start < MIN_RUN {
                    text.truncate(run_start);
                    origin.truncate(run_start);
                } else {
                    text.push(b'\n');
                    origin.push(i as u64);
                }
                run_start = text.len();
            }
            if i + 1 >= bytes.len() {
                break;
            }
            i += 2;
        }
    }
    (text, origin)
}

/// What a scan of some directories saw.
#[derive(Debug, Default)]
pub struct Outcome {
    pub files: usize,
    pub bytes: u64,
    pub hits: Vec<Hit>,
}

/// Scans every regular file under `roots` once (symbolic links are not followed: what they point
/// to is outside the run's directories). A file that vanishes meanwhile is skipped; one that
/// cannot be read fails the scan, which would otherwise pass without having looked.
pub fn scan_dirs(scanner: &Scanner, roots: &[PathBuf]) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let mut seen = HashSet::new();
    let mut stack: Vec<PathBuf> = roots.to_vec();
    let mut unreadable = Vec::new();
    while let Some(dir) = stack.pop() {
        if !seen.insert(dir.clone()) {
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                unreadable.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() && seen.insert(path.clone()) {
                match scanner.scan_file(&path, &mut outcome.hits) {
                    Ok(n) => {
                        outcome.files += 1;
                        outcome.bytes += n;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => unreadable.push(format!("{}: {e}", path.display())),
                }
            }
        }
    }
    if !unreadable.is_empty() {
        bail!("the secret scan could not read {} paths: {}", unreadable.len(), unreadable.join("; "));
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kwp(body_tail: &str) -> String {
        let body = format!("kwp_u_{body_tail}");
        let sum = kwp_checksum(&body);
        format!("{body}{sum}")
    }

    fn kinds(scanner: &Scanner, text: &[u8]) -> Vec<(u64, Kind, Encoding)> {
        let mut found: Vec<_> = scanner.scan_bytes(text).into_iter().map(|(at, k, e, _)| (at, k, e)).collect();
        found.sort();
        found
    }

    #[test]
    fn the_checksum_is_crc32_in_six_base62_digits() {
        for body in ["", "123456789", "kwp_a_0123456789ABcdefghijklmnopqrstuvwxyz0123456789"] {
            let mut n = u64::from(crc32fast::hash(body.as_bytes()));
            let mut digits = Vec::new();
            for _ in 0..6 {
                digits.push(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[(n % 62) as usize]);
                n /= 62;
            }
            digits.reverse();
            assert_eq!(kwp_checksum(body), String::from_utf8(digits).unwrap(), "{body:?}");
        }
    }

    #[test]
    fn shaped_secrets_are_found_and_look_alikes_are_not() {
        let scanner = Scanner::new([]).unwrap();
        let token = kwp("0123456789ABcdefghijklmnopqrstuvwxyz012345");
        let mut typo = token.clone();
        typo.replace_range(20..21, if &typo[20..21] == "x" { "y" } else { "x" });
        let scim = format!("kwscim_{}", "a1B2".repeat(10) + "xyz");
        let jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl";
        let text = format!("pat={token}\ntypo={typo}\nlonger={token}X\n{scim};\nBearer {jwt} eyJ chance eyJ\n");
        let found = kinds(&scanner, text.as_bytes());
        let at = |needle: &str| text.find(needle).unwrap() as u64;
        assert_eq!(
            found,
            vec![
                (at(&token), Kind::KwpToken, Encoding::Utf8),
                (at(&scim), Kind::KwscimToken, Encoding::Utf8),
                (at(jwt), Kind::Jwt, Encoding::Utf8)
            ]
        );
    }

    #[test]
    fn ledger_values_are_found_as_written_and_url_encoded_and_short_ones_are_ignored() {
        let password = Secret { kind: Kind::Password, value: "correct horse battery".into() };
        let refresh = Secret { kind: Kind::RefreshToken, value: "Zm9vYmFyYmF6cXV4LXJlZnJlc2gtdG9rZW4tdmFsdWU".into() };
        let short = Secret { kind: Kind::Password, value: "short".into() };
        let scanner = Scanner::new([password.clone(), refresh.clone(), short, password.clone()]).unwrap();
        assert_eq!(scanner.value_count(), 2);
        let text = "a correct horse battery\nb password=correct+horse+battery&x\nc correct%20horse%20battery\n\
                    d ?refresh_token=Zm9vYmFyYmF6cXV4LXJlZnJlc2gtdG9rZW4tdmFsdWU\ne short short\n";
        let found = scanner.scan_bytes(text.as_bytes());
        let values: Vec<(Kind, &str)> = found.iter().map(|(_, k, _, v)| (*k, v.as_str())).collect();
        assert_eq!(
            values,
            vec![
                (Kind::Password, password.value.as_str()),
                (Kind::Password, password.value.as_str()),
                (Kind::Password, password.value.as_str()),
                (Kind::RefreshToken, refresh.value.as_str()),
            ]
        );
    }

    #[test]
    fn utf16_text_is_scanned_too_at_its_offsets() {
        let code = Secret { kind: Kind::SetPasswordCode, value: "AbCdEfGhIjKlMnOpQrStUvWx".into() };
        let scanner = Scanner::new([code]).unwrap();
        let token = kwp("0123456789ABcdefghijklmnopqrstuvwxyz012345");
        let wide = |s: &str| s.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>();
        // An odd prefix: the UTF-16 text starts at an odd offset.
        let mut bytes = vec![0xffu8, 1, 2];
        bytes.extend(wide(&format!("token {token} and code AbCdEfGhIjKlMnOpQrStUvWx.")));
        let found = kinds(&scanner, &bytes);
        let token_at = 3 + 2 * "token ".len() as u64;
        let code_at = token_at + 2 * (token.len() + " and code ".len()) as u64;
        assert_eq!(
            found,
            vec![(token_at, Kind::KwpToken, Encoding::Utf16), (code_at, Kind::SetPasswordCode, Encoding::Utf16)]
        );
    }

    #[test]
    fn a_secret_across_two_parts_of_a_big_file_is_found_once() {
        let dir = tempfile::tempdir().unwrap();
        let token = kwp("0123456789ABcdefghijklmnopqrstuvwxyz012345");
        let mut bytes = vec![b' '; CHUNK - 20];
        bytes.extend(token.as_bytes());
        bytes.extend(vec![b' '; 100]);
        let file = dir.path().join("big.bin");
        std::fs::write(&file, &bytes).unwrap();
        let mut hits = Vec::new();
        let scanned = Scanner::new([]).unwrap().scan_file(&file, &mut hits).unwrap();
        assert_eq!(scanned, bytes.len() as u64);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(
            (hits[0].offset, hits[0].kind, hits[0].value()),
            ((CHUNK - 20) as u64, Kind::KwpToken, token.as_str())
        );
    }

    #[test]
    fn a_tree_is_scanned_once_without_following_links_and_reports_redact() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "a-very-secret-refresh-token-value";
        std::fs::create_dir_all(dir.path().join("home/.config")).unwrap();
        std::fs::write(dir.path().join("home/.config/x.toml"), format!("token = \"{secret}\"")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("home/.config/x.toml"), dir.path().join("link")).unwrap();
        let scanner = Scanner::new([Secret { kind: Kind::RefreshToken, value: secret.into() }]).unwrap();
        // The same file through two nested roots is scanned once.
        let outcome = scan_dirs(&scanner, &[dir.path().to_path_buf(), dir.path().join("home")]).unwrap();
        assert_eq!((outcome.files, outcome.hits.len()), (1, 1));
        let report = outcome.hits[0].report();
        assert!(report.contains("x.toml @ 9: refresh_token a-very…[redacted]"), "{report}");
        assert!(!report.contains("secret-refresh"), "{report}");
        assert_eq!(redacted("kwp_a_0123456789ABcdefghijklmnopqrstuvwxyz0123456789"), "kwp_a_…[redacted]");
        assert_eq!(redacted("abcdefgh"), "ab…[redacted]");
    }
}

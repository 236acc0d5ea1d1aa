//! The secret scan's positive control: before the scan, a canary of every kind is planted in
//! every scanned directory and appended to every log file, each with a value of its own. The scan
//! must find them all (a scanner that finds nothing cannot pass); a hit on a canary's value is
//! then the canary, and every other hit a leak.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read as _, Write as _};
use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::secret_scan::{Hit, Kind, Secret, kwp_checksum, url_encoded};

/// The file each directory's canaries are written to.
pub const CANARY_FILE: &str = "keyway-secret-canary.txt";

/// One planted canary.
#[derive(Clone, Debug)]
pub struct Canary {
    /// The directory or log file it is in, as the report names it.
    pub place: String,
    pub kind: Kind,
    pub value: String,
}

fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf)
}

fn random_base62(n: usize) -> Result<String> {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::new();
    while out.len() < n {
        // 248 = 4 × 62: the bytes below it map onto the alphabet without bias.
        out.extend(random_bytes(2 * n)?.into_iter().filter(|b| *b < 248).map(|b| ALPHABET[(b % 62) as usize] as char));
    }
    out.truncate(n);
    Ok(out)
}

/// A fresh value shaped like a secret of `kind`, as the hub makes them.
pub fn value(kind: Kind) -> Result<String> {
    let b64 = |json: String| URL_SAFE_NO_PAD.encode(json);
    Ok(match kind {
        // 32 bytes base64url, like every token `crates/hub/src/secret.rs` makes.
        Kind::RefreshToken | Kind::AuthorizationCode | Kind::HubKey => URL_SAFE_NO_PAD.encode(random_bytes(32)?),
        Kind::Jwt => format!(
            "{}.{}.{}",
            b64(r#"{"alg":"EdDSA","typ":"JWT","kid":"keyway-canary"}"#.to_owned()),
            b64(format!(r#"{{"sub":"keyway-canary","jti":"{}"}}"#, random_base62(16)?)),
            URL_SAFE_NO_PAD.encode(random_bytes(64)?)
        ),
        Kind::KwpToken => {
            let body = format!("kwp_a_{}", random_base62(42)?);
            let sum = kwp_checksum(&body);
            format!("{body}{sum}")
        }
        Kind::KwscimToken => format!("kwscim_{}", random_base62(43)?),
        Kind::SetPasswordCode => random_base62(24)?,
        // A passphrase with spaces: its percent- and form-encoded forms differ from it.
        Kind::Password => format!("canary horse {} battery", random_base62(12)?),
    })
}

/// Writes one canary of every kind to `<dir>/`[`CANARY_FILE`]; `place` names the directory.
pub fn plant_in_dir(place: &str, dir: &Path) -> Result<Vec<Canary>> {
    let mut canaries = Vec::new();
    let mut text = String::from("Canaries of the secret scan: it must find each of these.\n");
    for kind in Kind::CANARIES {
        let value = value(kind)?;
        text.push_str(&format!("{}: {value}\n", kind.name()));
        canaries.push(Canary { place: place.to_owned(), kind, value });
    }
    let file = dir.join(CANARY_FILE);
    std::fs::write(&file, text).with_context(|| format!("planting canaries in {}", file.display()))?;
    Ok(canaries)
}

/// Appends one canary of every kind to the log file `file`, each inside a URL's query as a log
/// line would carry it (percent-encoded, form-encoded for the password).
pub fn plant_in_log(file: &Path) -> Result<Vec<Canary>> {
    let place = file.display().to_string();
    let mut canaries = Vec::new();
    let mut text = String::from("\nsecret scan canaries:\n");
    for kind in Kind::CANARIES {
        let value = value(kind)?;
        let plus = kind == Kind::Password;
        text.push_str(&format!(
            "canary {} GET https://canary.invalid/cb?secret={}\n",
            kind.name(),
            url_encoded(&value, plus)
        ));
        canaries.push(Canary { place: place.clone(), kind, value });
    }
    std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("appending canaries to {}", file.display()))?;
    Ok(canaries)
}

/// The canaries that have no shape (found by value only), as secrets to look for.
pub fn by_value(canaries: &[Canary]) -> impl Iterator<Item = Secret> + '_ {
    canaries
        .iter()
        .filter(|c| !matches!(c.kind, Kind::Jwt | Kind::KwpToken | Kind::KwscimToken))
        .map(|c| Secret { kind: c.kind, value: c.value.clone() })
}

/// The canaries' side of a scan.
#[derive(Debug, Default)]
pub struct Tally {
    /// Per kind: (canaries found, canaries planted).
    pub per_kind: BTreeMap<Kind, (usize, usize)>,
    /// The canaries the scan did not find.
    pub missing: Vec<Canary>,
    /// Every hit that is not a canary.
    pub leaks: Vec<Hit>,
}

/// Splits `hits` into canaries and leaks: a hit whose value is a canary's (of the same kind)
/// found it, and any other hit is a leak.
pub fn tally(canaries: &[Canary], hits: Vec<Hit>) -> Tally {
    let planted: HashSet<(Kind, &str)> = canaries.iter().map(|c| (c.kind, c.value.as_str())).collect();
    let mut found = HashSet::new();
    let mut t = Tally::default();
    for hit in hits {
        if planted.contains(&(hit.kind, hit.value())) {
            found.insert((hit.kind, hit.value().to_owned()));
        } else if !canaries.iter().any(|c| c.value == hit.value()) {
            t.leaks.push(hit);
        }
    }
    for c in canaries {
        let entry = t.per_kind.entry(c.kind).or_default();
        entry.1 += 1;
        if found.contains(&(c.kind, c.value.clone())) {
            entry.0 += 1;
        } else {
            t.missing.push(c.clone());
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret_scan::{Scanner, scan_dirs};

    #[test]
    fn canaries_have_the_shapes_of_the_secrets_they_stand_for() {
        let scanner = Scanner::new([]).unwrap();
        for kind in [Kind::Jwt, Kind::KwpToken, Kind::KwscimToken] {
            let v = value(kind).unwrap();
            let found: Vec<Kind> = scanner.scan_bytes(format!(" {v} ").as_bytes()).into_iter().map(|h| h.1).collect();
            assert_eq!(found, vec![kind], "{v}");
        }
        assert_eq!(value(Kind::SetPasswordCode).unwrap().len(), 24);
        assert_eq!(value(Kind::RefreshToken).unwrap().len(), 43);
        assert_ne!(value(Kind::AuthorizationCode).unwrap(), value(Kind::AuthorizationCode).unwrap());
    }

    #[test]
    fn every_canary_is_found_in_dirs_and_logs_and_only_other_hits_are_leaks() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b/nested"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let log = a.join("hub.log");
        std::fs::write(&log, "INFO started\n").unwrap();
        let mut canaries = plant_in_dir("a", &a).unwrap();
        canaries.extend(plant_in_dir("b", &b).unwrap());
        canaries.extend(plant_in_log(&log).unwrap());
        let leaked = "a refresh token the run made";
        std::fs::write(b.join("leak.txt"), format!("x {leaked} x")).unwrap();
        let ledger = Secret { kind: Kind::RefreshToken, value: leaked.into() };
        let scanner = Scanner::new(by_value(&canaries).chain([ledger])).unwrap();
        let outcome = scan_dirs(&scanner, &[a.clone(), dir.path().join("b")]).unwrap();
        let t = tally(&canaries, outcome.hits);
        assert!(t.missing.is_empty(), "{:?}", t.missing);
        assert_eq!(t.per_kind.len(), Kind::CANARIES.len());
        assert!(t.per_kind.values().all(|(found, planted)| found == planted && *planted == 3), "{:?}", t.per_kind);
        assert_eq!(t.leaks.len(), 1);
        assert!(t.leaks[0].file.ends_with("leak.txt"));

        // A scan that does not look where a canary is misses it, and says which.
        let outcome = scan_dirs(&scanner, &[a]).unwrap();
        let t = tally(&canaries, outcome.hits);
        assert_eq!(t.missing.len(), Kind::CANARIES.len());
        assert!(t.missing.iter().all(|c| c.place == "b"));
    }
}

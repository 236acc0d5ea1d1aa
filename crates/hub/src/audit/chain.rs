//! The audit chain from the hub's side: its head is signed with the hub's signing key, and
//! [`verify`] walks every row (`keyway-hub audit verify`). The encoding is in
//! `crate::store::audit`; every backend appends the same way.

use std::fmt;

use ed25519_dalek::Signature;

use crate::error::Error;
use crate::keys::Keys;
use crate::store::Store;
use crate::store::audit::{AuditSigner, GENESIS, head_message, row_hash};

/// Rows read per query while verifying.
const BATCH: u32 = 10_000;

impl AuditSigner for Keys {
    fn sign_head(&self, message: &dyn Fn(&str) -> Vec<u8>) -> (String, Vec<u8>) {
        let key = self.current();
        let signature = key.sign(&message(key.kid()));
        (key.kid().to_owned(), signature.to_bytes().to_vec())
    }
}

/// Where and why the log is not what was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditBreak {
    /// The first bad row's id; `None` when the fault is in the head itself (a log rewritten
    /// without the key, whose rows agree among themselves).
    pub row: Option<i64>,
    pub reason: String,
}

impl fmt::Display for AuditBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.row {
            Some(id) => write!(f, "the audit log is broken at row {id}: {}", self.reason),
            None => write!(f, "the audit log's signed head does not hold: {}", self.reason),
        }
    }
}

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Rows that verified, in order.
    pub rows: u64,
    /// The last row's id (0 for an empty log).
    pub last_id: i64,
    /// The key the head is signed with.
    pub kid: Option<String>,
    /// The first fault, or `None` for an intact log.
    pub broken: Option<AuditBreak>,
}

fn broken(report: AuditReport, row: Option<i64>, reason: String) -> AuditReport {
    AuditReport { broken: Some(AuditBreak { row, reason }), ..report }
}

/// Walks the whole chain in id order and checks the signed head: every row's hash follows
/// from the row before it and its own content, the head names the last row, the count and
/// the last hash, and its signature verifies with the hub's key of its `kid`.
pub(crate) async fn verify<S: Store>(store: &S, keys: &Keys) -> Result<AuditReport, Error> {
    let mut report = AuditReport { rows: 0, last_id: 0, kid: None, broken: None };
    let Some(head) = store.audit_head().await? else {
        return Ok(broken(report, None, "the log has no head row".into()));
    };
    report.kid = head.kid.clone();
    let mut prev = GENESIS;
    loop {
        let batch = store.audit_chain(report.last_id, BATCH).await?;
        for row in &batch {
            let gap = row.id != report.last_id + 1;
            let Some(hash) = row.hash else {
                return Ok(broken(report, Some(row.id), "the row has no hash (it was never chained)".into()));
            };
            if row_hash(&prev, row) != hash {
                let after = report.last_id;
                return Ok(if gap {
                    let reason = format!(
                        "it is missing: row {} does not follow row {after} (a row was removed, or a row moved)",
                        row.id
                    );
                    broken(report, Some(after + 1), reason)
                } else {
                    let reason = "its content or position does not match its hash (changed, moved or swapped)";
                    broken(report, Some(row.id), reason.into())
                });
            }
            if row.id > head.last_id {
                let reason = format!("it is after the last row the signed head names ({})", head.last_id);
                return Ok(broken(report, Some(row.id), reason));
            }
            prev = hash;
            report.rows += 1;
            report.last_id = row.id;
        }
        if batch.len() < BATCH as usize {
            break;
        }
    }
    if report.last_id < head.last_id {
        let reason = format!(
            "it is missing: the log ends at row {}, and its signed head names row {} ({} rows)",
            report.last_id, head.last_id, head.count
        );
        let first_missing = report.last_id + 1;
        return Ok(broken(report, Some(first_missing), reason));
    }
    if u64::try_from(head.count).ok() != Some(report.rows) || head.last_hash != prev {
        let reason = format!(
            "the head says {} rows ending at row {} and this hash, the log has {} rows",
            head.count, head.last_id, report.rows
        );
        return Ok(broken(report, None, reason));
    }
    let (Some(kid), Some(signature)) = (head.kid.as_deref(), head.signature.as_deref()) else {
        return Ok(broken(report, None, "the head is not signed".into()));
    };
    // Retired keys too: a head signed before a rotation stays checkable after the overlap.
    let Some(key) = keys.public_key(kid) else {
        return Ok(broken(report, None, format!("the head is signed by key {kid}, which this hub does not hold")));
    };
    let valid = <[u8; 64]>::try_from(signature).ok().map(|sig| Signature::from_bytes(&sig)).is_some_and(|sig| {
        key.verify_strict(&head_message(kid, head.last_id, &head.last_hash, head.count), &sig).is_ok()
    });
    if !valid {
        let reason = "its signature does not match: the chain was rewritten or cut short without the hub's key";
        return Ok(broken(report, None, reason.into()));
    }
    Ok(report)
}

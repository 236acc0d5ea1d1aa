//! The review queue on SQLite. Every transition runs in one transaction that takes SQLite's
//! write lock with its first statement, so concurrent votes on one request serialize.

use keyway_api::auth::PrincipalKind;
use keyway_api::reviews::{Actor, ContentType, Decision, Link, ReviewRequest, ReviewSettings, ReviewStatus, Verdict};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row as _, Sqlite, SqliteConnection, Transaction};

use super::SqliteStore;
use super::audit::insert_audit_in;
use crate::store::audit::AuditSigner;
use crate::store::error::StoreError;
use crate::store::reviews::{
    CancelOutcome, Decided, ReviewAudit, ReviewFilter, ReviewRecord, ReviewStore, VoteOutcome,
};

/// Columns of a list item (no payload).
pub(super) const LIST_COLUMNS: &str = "seq, id, title, kind, content_type, links, submitter_kind, submitter_id, submitter_name, \
     submitter_owner, created_at, expires_at, threshold, approvals, status, decided_at, asked_of_id, asked_of_name";

fn kind_str(kind: PrincipalKind) -> &'static str {
    kind.as_str()
}

fn parse_kind(s: &str) -> Result<PrincipalKind, StoreError> {
    match s {
        "user" => Ok(PrincipalKind::User),
        "agent" => Ok(PrincipalKind::Agent),
        "service_account" => Ok(PrincipalKind::ServiceAccount),
        other => Err(StoreError::Corrupt(format!("unknown stored principal kind {other}"))),
    }
}

fn content_type_str(c: ContentType) -> &'static str {
    match c {
        ContentType::Text => "text",
        ContentType::Markdown => "markdown",
        ContentType::Json => "json",
        ContentType::Diff => "diff",
    }
}

fn parse_content_type(s: &str) -> Result<ContentType, StoreError> {
    match s {
        "text" => Ok(ContentType::Text),
        "markdown" => Ok(ContentType::Markdown),
        "json" => Ok(ContentType::Json),
        "diff" => Ok(ContentType::Diff),
        other => Err(StoreError::Corrupt(format!("unknown stored content type {other}"))),
    }
}

fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Approve => "approve",
        Verdict::Reject => "reject",
        Verdict::Expire => "expire",
        Verdict::Cancel => "cancel",
    }
}

fn parse_verdict(s: &str) -> Result<Verdict, StoreError> {
    match s {
        "approve" => Ok(Verdict::Approve),
        "reject" => Ok(Verdict::Reject),
        "expire" => Ok(Verdict::Expire),
        "cancel" => Ok(Verdict::Cancel),
        other => Err(StoreError::Corrupt(format!("unknown stored verdict {other}"))),
    }
}

pub(super) fn record_from_row(row: &SqliteRow, with_payload: bool) -> Result<ReviewRecord, StoreError> {
    let status: String = row.try_get("status")?;
    let links: String = row.try_get("links")?;
    let links: Vec<Link> =
        serde_json::from_str(&links).map_err(|e| StoreError::Corrupt(format!("stored links are unreadable: {e}")))?;
    let payload = if with_payload {
        let raw: String = row.try_get("payload")?;
        Some(
            serde_json::from_str(&raw)
                .map_err(|e| StoreError::Corrupt(format!("stored payload is unreadable: {e}")))?,
        )
    } else {
        None
    };
    let threshold: i64 = row.try_get("threshold")?;
    let approvals: i64 = row.try_get("approvals")?;
    let kind: String = row.try_get("submitter_kind")?;
    let content_type: String = row.try_get("content_type")?;
    Ok(ReviewRecord {
        seq: row.try_get("seq")?,
        submitter_owner: row.try_get("submitter_owner")?,
        request: ReviewRequest {
            id: row.try_get("id")?,
            title: row.try_get("title")?,
            kind: row.try_get("kind")?,
            payload,
            content_type: parse_content_type(&content_type)?,
            links,
            submitter: Actor {
                kind: parse_kind(&kind)?,
                id: row.try_get("submitter_id")?,
                name: row.try_get("submitter_name")?,
            },
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            threshold: u32::try_from(threshold).unwrap_or(u32::MAX),
            approvals: u32::try_from(approvals).unwrap_or(0),
            status: ReviewStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown stored review status {status}")))?,
            decided_at: row.try_get("decided_at")?,
            decisions: Vec::new(),
            may_decide: false,
            asked_of: asked_of(row)?,
        },
    })
}

/// Loads the decisions of `records` (one query) into them, oldest first.
pub(super) async fn attach_decisions(
    conn: &mut SqliteConnection,
    records: &mut [ReviewRecord],
) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let placeholders = vec!["?"; records.len()].join(", ");
    let sql = format!(
        "SELECT request_id, verdict, actor_kind, actor_id, actor_name, reason, at FROM review_decisions \
         WHERE request_id IN ({placeholders}) ORDER BY n"
    );
    let mut query = sqlx::query(&sql);
    for r in records.iter() {
        query = query.bind(&r.request.id);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    for row in &rows {
        let request_id: String = row.try_get("request_id")?;
        let verdict: String = row.try_get("verdict")?;
        let actor_kind: Option<String> = row.try_get("actor_kind")?;
        let actor = match (actor_kind, row.try_get::<Option<String>, _>("actor_id")?) {
            (Some(kind), Some(id)) => Some(Actor {
                kind: parse_kind(&kind)?,
                id,
                name: row.try_get::<Option<String>, _>("actor_name")?.unwrap_or_default(),
            }),
            _ => None,
        };
        let decision = Decision {
            verdict: parse_verdict(&verdict)?,
            actor,
            reason: row.try_get("reason")?,
            at: row.try_get("at")?,
        };
        if let Some(r) = records.iter_mut().find(|r| r.request.id == request_id) {
            r.request.decisions.push(decision);
        }
    }
    Ok(())
}

async fn insert_decision(
    conn: &mut SqliteConnection,
    request_id: &str,
    verdict: Verdict,
    actor: Option<&Actor>,
    reason: Option<&str>,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO review_decisions (request_id, verdict, actor_kind, actor_id, actor_name, reason, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(request_id)
    .bind(verdict_str(verdict))
    .bind(actor.map(|a| kind_str(a.kind)))
    .bind(actor.map(|a| a.id.as_str()))
    .bind(actor.map(|a| a.name.as_str()))
    .bind(reason)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Claims the write lock and reads the request (no payload) in `tx`.
async fn lock_request(tx: &mut Transaction<'_, Sqlite>, id: &str) -> Result<Option<ReviewRecord>, StoreError> {
    // A no-op UPDATE first: the transaction holds the write lock from here on, so a concurrent
    // vote waits for this one to commit and then sees its result.
    let sql = format!("UPDATE review_requests SET approvals = approvals WHERE id = ?1 RETURNING {LIST_COLUMNS}");
    let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(&mut **tx).await? else {
        return Ok(None);
    };
    let mut record = record_from_row(&row, false)?;
    attach_decisions(tx, std::slice::from_mut(&mut record)).await?;
    Ok(Some(record))
}

/// Marks a locked pending request expired as of its `expires_at`, recording the expiry.
async fn expire_locked(
    tx: &mut Transaction<'_, Sqlite>,
    signer: &dyn AuditSigner,
    record: &mut ReviewRecord,
    audit: &impl ReviewAudit,
) -> Result<(), StoreError> {
    let at = record.request.expires_at;
    sqlx::query("UPDATE review_requests SET status = 'expired', decided_at = ?1 WHERE id = ?2")
        .bind(at)
        .bind(&record.request.id)
        .execute(&mut **tx)
        .await?;
    insert_decision(tx, &record.request.id, Verdict::Expire, None, None, at).await?;
    record.request.status = ReviewStatus::Expired;
    record.request.decided_at = Some(at);
    record.request.decisions.push(Decision { verdict: Verdict::Expire, actor: None, reason: None, at });
    insert_audit_in(tx, signer, &[&audit.expiry(record)]).await
}

/// Inserts a new pending request in the caller's transaction; returns it as stored (with
/// its `seq`).
pub(super) async fn insert_review_in(
    conn: &mut SqliteConnection,
    record: &ReviewRecord,
) -> Result<ReviewRecord, StoreError> {
    let r = &record.request;
    let payload = r.payload.as_ref().unwrap_or(&serde_json::Value::Null).to_string();
    let links = serde_json::to_string(&r.links).map_err(|e| StoreError::Unstorable(e.to_string()))?;
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO review_requests (id, title, kind, payload, content_type, links, submitter_kind, \
             submitter_id, submitter_name, submitter_owner, created_at, expires_at, threshold, approvals, status, \
             decided_at, asked_of_id, asked_of_name) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, 'pending', NULL, ?14, ?15) RETURNING seq",
    )
    .bind(&r.id)
    .bind(&r.title)
    .bind(&r.kind)
    .bind(payload)
    .bind(content_type_str(r.content_type))
    .bind(links)
    .bind(kind_str(r.submitter.kind))
    .bind(&r.submitter.id)
    .bind(&r.submitter.name)
    .bind(&record.submitter_owner)
    .bind(r.created_at)
    .bind(r.expires_at)
    .bind(i64::from(r.threshold))
    .bind(r.asked_of.as_ref().map(|a| a.id.as_str()))
    .bind(r.asked_of.as_ref().map(|a| a.name.as_str()))
    .fetch_one(&mut *conn)
    .await?;
    let mut stored = record.clone();
    stored.seq = seq;
    stored.request.status = ReviewStatus::Pending;
    stored.request.approvals = 0;
    stored.request.decided_at = None;
    stored.request.decisions.clear();
    Ok(stored)
}

/// The one reviewer a request names, if it names one (always a person).
fn asked_of(row: &SqliteRow) -> Result<Option<Actor>, StoreError> {
    let id: Option<String> = row.try_get("asked_of_id")?;
    let name: Option<String> = row.try_get("asked_of_name")?;
    Ok(id.map(|id| Actor { kind: PrincipalKind::User, id, name: name.unwrap_or_default() }))
}

impl ReviewStore for SqliteStore {
    async fn insert_review(&self, record: &ReviewRecord, audit: &impl ReviewAudit) -> Result<ReviewRecord, StoreError> {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        let stored = insert_review_in(&mut tx, record).await?;
        insert_audit_in(&mut tx, signer.as_ref(), &[&audit.change(&stored)]).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn review(&self, id: &str) -> Result<Option<ReviewRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!("SELECT {LIST_COLUMNS}, payload FROM review_requests WHERE id = ?1");
        let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await? else {
            return Ok(None);
        };
        let mut record = record_from_row(&row, true)?;
        attach_decisions(&mut conn, std::slice::from_mut(&mut record)).await?;
        Ok(Some(record))
    }

    async fn reviews(&self, filter: &ReviewFilter) -> Result<Vec<ReviewRecord>, StoreError> {
        #[derive(Clone, Copy)]
        enum Bind<'a> {
            Int(i64),
            Text(&'a str),
        }
        // Plain conditions every arm shares.
        let mut common = String::new();
        let mut common_binds = Vec::new();
        if let Some(before) = filter.before {
            common.push_str(" AND seq < ?");
            common_binds.push(Bind::Int(before));
        }
        if let Some(status) = filter.status {
            common.push_str(" AND status = ?");
            common_binds.push(Bind::Text(status.as_str()));
        }
        if filter.decided_only {
            common.push_str(" AND status <> 'pending'");
        }
        if let Some(kind) = &filter.kind {
            common.push_str(" AND kind = ?");
            common_binds.push(Bind::Text(kind));
        }
        // Alternatives (OR) become arms of a UNION, each an ordered index scan that SQLite
        // merges, so a page never sorts a submitter's whole history.
        let mut arms: Vec<(String, Vec<Bind>)> = vec![(String::new(), Vec::new())];
        let mut alternatives: Vec<[(&str, &str); 2]> = Vec::new();
        if let Some(submitter) = &filter.submitter {
            alternatives.push([("submitter_id = ?", submitter.as_str()), ("submitter_name = ?", submitter.as_str())]);
        }
        if let Some(owner) = &filter.owned_by {
            alternatives.push([("submitter_id = ?", owner.as_str()), ("submitter_owner = ?", owner.as_str())]);
        }
        for pair in &alternatives {
            let mut next = Vec::with_capacity(arms.len() * 2);
            for (cond, binds) in &arms {
                for (alt, value) in pair {
                    let mut b = binds.clone();
                    b.push(Bind::Text(value));
                    next.push((format!("{cond} AND {alt}"), b));
                }
            }
            arms = next;
        }
        let mut sql = String::new();
        let mut binds = Vec::new();
        for (i, (cond, arm_binds)) in arms.iter().enumerate() {
            if i > 0 {
                sql.push_str(" UNION ");
            }
            sql.push_str(&format!("SELECT {LIST_COLUMNS} FROM review_requests WHERE 1 = 1{cond}{common}"));
            binds.extend(arm_binds.iter().copied());
            binds.extend(common_binds.iter().copied());
        }
        sql.push_str(" ORDER BY seq DESC LIMIT ?");
        binds.push(Bind::Int(i64::from(filter.limit.clamp(1, 1000))));
        let mut query = sqlx::query(&sql);
        for b in &binds {
            query = match b {
                Bind::Int(i) => query.bind(*i),
                Bind::Text(t) => query.bind(*t),
            };
        }
        let mut conn = self.pool.acquire().await?;
        let rows = query.fetch_all(&mut *conn).await?;
        let mut records = rows.iter().map(|row| record_from_row(row, false)).collect::<Result<Vec<_>, _>>()?;
        attach_decisions(&mut conn, &mut records).await?;
        Ok(records)
    }

    async fn decide_review<F, R>(
        &self,
        id: &str,
        now: i64,
        audit: &impl ReviewAudit,
        rule: F,
    ) -> Result<VoteOutcome<R>, StoreError>
    where
        F: FnOnce(&ReviewRecord) -> Result<Decided, R> + Send,
        R: Send,
    {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        let Some(mut record) = lock_request(&mut tx, id).await? else {
            return Ok(VoteOutcome::Unknown);
        };
        if record.request.status.is_final() {
            tx.commit().await?;
            return Ok(VoteOutcome::Final { record, expired_now: false });
        }
        if now >= record.request.expires_at {
            expire_locked(&mut tx, signer.as_ref(), &mut record, audit).await?;
            tx.commit().await?;
            return Ok(VoteOutcome::Final { record, expired_now: true });
        }
        let decided = match rule(&record) {
            Ok(decided) => decided,
            Err(refusal) => {
                tx.rollback().await?;
                return Ok(VoteOutcome::Refused { refusal, record });
            }
        };
        let Decided { decision, status, approvals, decided_at } = decided;
        insert_decision(
            &mut tx,
            &record.request.id,
            decision.verdict,
            decision.actor.as_ref(),
            decision.reason.as_deref(),
            decision.at,
        )
        .await?;
        let r = &mut record.request;
        r.status = status;
        r.approvals = approvals;
        r.decided_at = decided_at;
        sqlx::query("UPDATE review_requests SET approvals = ?1, status = ?2, decided_at = ?3 WHERE id = ?4")
            .bind(i64::from(r.approvals))
            .bind(r.status.as_str())
            .bind(r.decided_at)
            .bind(&r.id)
            .execute(&mut *tx)
            .await?;
        r.decisions.push(decision);
        insert_audit_in(&mut tx, signer.as_ref(), &[&audit.change(&record)]).await?;
        tx.commit().await?;
        Ok(VoteOutcome::Recorded(record))
    }

    async fn cancel_review<F>(
        &self,
        id: &str,
        actor: &Actor,
        now: i64,
        audit: &impl ReviewAudit,
        may_cancel: F,
    ) -> Result<CancelOutcome, StoreError>
    where
        F: FnOnce(&ReviewRecord) -> bool + Send,
    {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        let Some(mut record) = lock_request(&mut tx, id).await? else {
            return Ok(CancelOutcome::Unknown);
        };
        if !may_cancel(&record) {
            tx.rollback().await?;
            return Ok(CancelOutcome::NotSubmitter(record));
        }
        if record.request.status.is_final() {
            tx.commit().await?;
            return Ok(CancelOutcome::Final { record, expired_now: false });
        }
        if now >= record.request.expires_at {
            expire_locked(&mut tx, signer.as_ref(), &mut record, audit).await?;
            tx.commit().await?;
            return Ok(CancelOutcome::Final { record, expired_now: true });
        }
        sqlx::query("UPDATE review_requests SET status = 'cancelled', decided_at = ?1 WHERE id = ?2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        insert_decision(&mut tx, id, Verdict::Cancel, Some(actor), None, now).await?;
        let r = &mut record.request;
        r.status = ReviewStatus::Cancelled;
        r.decided_at = Some(now);
        r.decisions.push(Decision { verdict: Verdict::Cancel, actor: Some(actor.clone()), reason: None, at: now });
        insert_audit_in(&mut tx, signer.as_ref(), &[&audit.change(&record)]).await?;
        tx.commit().await?;
        Ok(CancelOutcome::Cancelled(record))
    }

    async fn expire_reviews(
        &self,
        now: i64,
        limit: u32,
        audit: &impl ReviewAudit,
    ) -> Result<Vec<ReviewRecord>, StoreError> {
        let signer = self.signer.get()?;
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "UPDATE review_requests SET status = 'expired', decided_at = expires_at \
             WHERE seq IN (SELECT seq FROM review_requests WHERE status = 'pending' AND expires_at <= ?1 \
                           ORDER BY expires_at LIMIT ?2) \
             RETURNING {LIST_COLUMNS}"
        );
        let rows = sqlx::query(&sql).bind(now).bind(i64::from(limit.max(1))).fetch_all(&mut *tx).await?;
        let mut records = rows.iter().map(|row| record_from_row(row, false)).collect::<Result<Vec<_>, _>>()?;
        for r in &records {
            let at = r.request.expires_at;
            insert_decision(&mut tx, &r.request.id, Verdict::Expire, None, None, at).await?;
        }
        attach_decisions(&mut tx, &mut records).await?;
        for r in &records {
            insert_audit_in(&mut tx, signer.as_ref(), &[&audit.expiry(r)]).await?;
        }
        tx.commit().await?;
        records.sort_by_key(|r| r.seq);
        Ok(records)
    }

    async fn reviews_due(&self, now: i64) -> Result<bool, StoreError> {
        let due: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM review_requests WHERE status = 'pending' AND expires_at <= ?1)",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(due)
    }

    async fn review_settings(&self) -> Result<Option<ReviewSettings>, StoreError> {
        let row = sqlx::query("SELECT default_ttl_secs, max_ttl_secs FROM review_settings WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let d: i64 = row.try_get("default_ttl_secs")?;
        let m: i64 = row.try_get("max_ttl_secs")?;
        Ok(Some(ReviewSettings {
            default_ttl_secs: u64::try_from(d).unwrap_or(0),
            max_ttl_secs: u64::try_from(m).unwrap_or(0),
        }))
    }
}

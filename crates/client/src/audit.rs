//! The hub's audit log (auditors and admins): list it with filters, export it as JSON Lines or
//! CSV (RFC 4180), and read or write the times its filters take.

use std::io::Write;

use keyway_api::auth::{AuditEntry, Page, TokenClass};
use reqwest::Method;

use crate::http::{Auth, Request};
use crate::{Client, Error};

/// Which rows to list; every field narrows the result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The actor's id or name.
    pub actor: Option<String>,
    /// An action, or the start of one (`session.` for every sign-in event).
    pub action: Option<String>,
    /// `ok`, or the error code of a refusal.
    pub outcome: Option<String>,
    /// From this time on (Unix seconds, inclusive).
    pub since: Option<i64>,
    /// Before this time (Unix seconds).
    pub until: Option<i64>,
}

impl AuditFilter {
    /// `/api/audit` with this filter's query, from `cursor` on.
    pub fn path(&self, cursor: Option<&str>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [("actor", &self.actor), ("action", &self.action), ("outcome", &self.outcome)] {
            if let Some(v) = value {
                q.append_pair(name, v);
            }
        }
        for (name, value) in [("since", self.since), ("until", self.until)] {
            if let Some(v) = value {
                q.append_pair(name, &v.to_string());
            }
        }
        q.append_pair("limit", "200");
        if let Some(c) = cursor {
            q.append_pair("cursor", c);
        }
        format!("/api/audit?{}", q.finish())
    }
}

/// How [`Client::audit_export`] writes rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object a line, as the hub answers them.
    Jsonl,
    /// A header line, then one RFC 4180 record a row (the detail as JSON text).
    Csv,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s {
            "jsonl" => Some(ExportFormat::Jsonl),
            "csv" => Some(ExportFormat::Csv),
            _ => None,
        }
    }
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 12] = [
    "id",
    "at",
    "time",
    "actor_kind",
    "actor_id",
    "actor_name",
    "action",
    "target_kind",
    "target_id",
    "outcome",
    "detail",
    "count",
];

/// One CSV field: quoted when it holds a comma, a quote, CR or LF (quotes doubled).
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// One row as a CSV record, with its CRLF (RFC 4180).
pub fn csv_record(e: &AuditEntry) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let count = e.detail.get("count").and_then(|c| c.as_u64()).unwrap_or(1);
    let fields = [
        e.id.to_string(),
        e.at.to_string(),
        format_time(e.at),
        e.actor_kind.clone(),
        opt(&e.actor_id),
        opt(&e.actor_name),
        e.action.clone(),
        opt(&e.target_kind),
        opt(&e.target_id),
        e.outcome.clone(),
        e.detail.to_string(),
        count.to_string(),
    ];
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `unix` as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(unix: i64) -> String {
    let (y, m, d, h, mi, s) = crate::time::civil(unix);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// A time as the filters take it: Unix seconds, `YYYY-MM-DD` (midnight UTC), or
/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn parse_time(s: &str) -> Result<i64, Error> {
    let bad =
        || Error::InvalidInput(format!("'{s}' is not a time: give Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"));
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z').ok_or_else(bad)?)),
        None => (s, None),
    };
    let num = |p: &str, len: usize| -> Result<i64, Error> {
        if p.len() == len && p.bytes().all(|b| b.is_ascii_digit()) { p.parse().map_err(|_| bad()) } else { Err(bad()) }
    };
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts.as_slice() else { return Err(bad()) };
    let (y, m, d) = (num(y, 4)?, num(m, 2)?, num(d, 2)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(t) = time {
        let parts: Vec<&str> = t.split(':').collect();
        let [h, mi, sec] = parts.as_slice() else { return Err(bad()) };
        let (h, mi, sec) = (num(h, 2)?, num(mi, 2)?, num(sec, 2)?);
        if h > 23 || mi > 59 || sec > 60 {
            return Err(bad());
        }
        secs += h * 3600 + mi * 60 + sec;
    }
    // A day past the month's end (2025-02-30) comes back as another date: refuse it.
    if !format_time(secs).starts_with(date) {
        return Err(bad());
    }
    Ok(secs)
}

impl Client {
    /// One page of the audit log, newest first (a `user_access` JWT: auditors and admins).
    pub async fn audit_page(&self, filter: &AuditFilter, cursor: Option<&str>) -> Result<Page<AuditEntry>, Error> {
        self.call(Request::new(Method::GET, &filter.path(cursor), Auth::Jwt(TokenClass::UserAccess))).await
    }

    /// Up to `max` rows matching `filter`, newest first, following the hub's pages.
    pub async fn audit_list(&self, filter: &AuditFilter, max: usize) -> Result<Vec<AuditEntry>, Error> {
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        while rows.len() < max {
            let page = self.audit_page(filter, cursor.as_deref()).await?;
            rows.extend(page.items);
            match page.next {
                // A hub that hands back the same cursor would loop forever: stop there.
                Some(next) if cursor.as_ref() != Some(&next) => cursor = Some(next),
                _ => break,
            }
        }
        rows.truncate(max);
        Ok(rows)
    }

    /// Writes every row matching `filter` to `out`, page by page (never the whole log in
    /// memory). Returns how many rows were written.
    pub async fn audit_export(
        &self,
        filter: &AuditFilter,
        format: ExportFormat,
        out: &mut (dyn Write + Send),
    ) -> Result<u64, Error> {
        if format == ExportFormat::Csv {
            out.write_all(CSV_COLUMNS.join(",").as_bytes())?;
            out.write_all(b"\r\n")?;
        }
        let mut written = 0;
        let mut cursor: Option<String> = None;
        loop {
            let page = self.audit_page(filter, cursor.as_deref()).await?;
            for e in &page.items {
                match format {
                    ExportFormat::Jsonl => {
                        let line = serde_json::to_string(e).map_err(|e| Error::InvalidInput(e.to_string()))?;
                        out.write_all(line.as_bytes())?;
                        out.write_all(b"\n")?;
                    }
                    ExportFormat::Csv => out.write_all(csv_record(e).as_bytes())?,
                }
                written += 1;
            }
            match page.next {
                Some(next) if cursor.as_ref() != Some(&next) => cursor = Some(next),
                _ => break,
            }
        }
        out.flush()?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("cr\r"), "\"cr\r\"");
        let e = AuditEntry {
            id: 7,
            at: 0,
            actor_kind: "user".into(),
            actor_id: Some("u1".into()),
            actor_name: Some("o'neil, \"jr\"".into()),
            action: "pat.mint".into(),
            target_kind: None,
            target_id: None,
            outcome: "ok".into(),
            detail: serde_json::json!({"reason": "a,b"}),
        };
        assert_eq!(
            csv_record(&e),
            "7,0,1970-01-01T00:00:00Z,user,u1,\"o'neil, \"\"jr\"\"\",pat.mint,,,ok,\"{\"\"reason\"\":\"\"a,b\"\"}\",1\r\n"
        );
    }

    #[test]
    fn times_round_trip() {
        for t in [0, 951_782_400, 1_700_000_000, 4_102_444_799, -1] {
            assert_eq!(parse_time(&format_time(t)).unwrap(), t, "{}", format_time(t));
        }
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(parse_time("2000-02-29").unwrap(), 951_782_400);
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000);
        for bad in ["2025-02-30", "2025-13-01", "2025-1-01", "yesterday", "2025-01-01T10:00:00", "2025-01-01T25:00:00Z"]
        {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_filter_is_the_query() {
        let f = AuditFilter {
            actor: Some("ada lovelace".into()),
            action: Some("session.".into()),
            outcome: None,
            since: Some(5),
            until: None,
        };
        assert_eq!(f.path(Some("9")), "/api/audit?actor=ada+lovelace&action=session.&since=5&limit=200&cursor=9");
    }
}

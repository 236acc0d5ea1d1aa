//! A review request's payload, rendered by its content type: pretty JSON, Markdown, a coloured
//! unified diff, or plain text. Everything is built as DOM nodes from text — never as HTML —
//! so a payload cannot inject markup or script into the reviewer's window.

use keyway_api::reviews::ContentType;
use leptos::prelude::*;
use serde_json::Value;

#[component]
pub fn Payload(payload: Value, content_type: ContentType) -> impl IntoView {
    let text = match &payload {
        Value::String(s) => Some(s.clone()),
        _ => None,
    };
    match (content_type, text) {
        (ContentType::Diff, Some(text)) => diff(&text).into_any(),
        (ContentType::Markdown, Some(text)) => markdown(&text).into_any(),
        (ContentType::Text, Some(text)) => view! { <pre class="payload payload-text">{text}</pre> }.into_any(),
        (_, _) if payload.is_null() => view! { <p class="muted payload-none">"No payload."</p> }.into_any(),
        // JSON, or a text type whose payload is not a string: show the JSON as it is.
        _ => {
            let pretty = serde_json::to_string_pretty(&payload).unwrap_or_else(|_| payload.to_string());
            view! { <pre class="payload payload-json">{pretty}</pre> }.into_any()
        }
    }
}

/// An agent's backchannel request (review kind `authorization`): what approving grants, one
/// table per RFC 9396 entry, its `type` as the heading and each member as a row. Approving
/// mints the agent a token that carries exactly these entries.
#[component]
pub fn AuthorizationDetails(details: Value, agent: String) -> impl IntoView {
    let entries: Vec<Value> = details.as_array().cloned().unwrap_or_default();
    let minutes = keyway_api::ciba::TOKEN_TTL_SECS / 60;
    view! {
        <p class="grant-note" id="grant-note">
            "Approving gives "<strong>{agent}</strong>" a token for exactly what is below, valid for "
            {minutes}" minutes, usable once."
        </p>
        {entries.into_iter().map(|entry| {
            let kind = entry.get("type").and_then(Value::as_str).unwrap_or("?").to_owned();
            let rows: Vec<(String, String)> = entry
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| k.as_str() != "type")
                        .map(|(k, v)| (k.clone(), match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        }))
                        .collect()
                })
                .unwrap_or_default();
            view! {
                <section class="grant">
                    <h3 class="grant-type"><span class="chip">{kind}</span></h3>
                    <table class="grant-table">
                        {rows.into_iter().map(|(k, v)| view! {
                            <tr><th scope="row">{k}</th><td class="mono">{v}</td></tr>
                        }).collect_view()}
                    </table>
                </section>
            }
        }).collect_view()}
    }
}

fn diff(text: &str) -> impl IntoView + use<> {
    let lines: Vec<(String, &'static str)> = text
        .lines()
        .map(|line| {
            let class = if line.starts_with("+++") || line.starts_with("---") {
                "diff-file"
            } else if line.starts_with("@@") {
                "diff-hunk"
            } else if line.starts_with('+') {
                "diff-add"
            } else if line.starts_with('-') {
                "diff-del"
            } else if line.starts_with("diff ") || line.starts_with("index ") {
                "diff-meta"
            } else {
                "diff-ctx"
            };
            (line.to_owned(), class)
        })
        .collect();
    view! {
        <pre class="payload payload-diff">
            {lines.into_iter().map(|(line, class)| view! { <span class=class>{line}"\n"</span> }).collect_view()}
        </pre>
    }
}

/// A Markdown block.
#[derive(Debug, PartialEq, Eq)]
enum Block {
    Heading(usize, String),
    Paragraph(String),
    Code(String),
    Quote(String),
    List { ordered: bool, items: Vec<String> },
    Rule,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |paragraph: &mut Vec<&str>, out: &mut Vec<Block>| {
        if !paragraph.is_empty() {
            out.push(Block::Paragraph(paragraph.join(" ")));
            paragraph.clear();
        }
    };
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            flush(&mut paragraph, &mut out);
            let mut code = Vec::new();
            for l in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                code.push(l);
            }
            out.push(Block::Code(code.join("\n")));
        } else if trimmed.is_empty() {
            flush(&mut paragraph, &mut out);
        } else if let Some((level, rest)) = heading(trimmed) {
            flush(&mut paragraph, &mut out);
            out.push(Block::Heading(level, rest.to_owned()));
        } else if trimmed == "---" || trimmed == "***" {
            flush(&mut paragraph, &mut out);
            out.push(Block::Rule);
        } else if let Some(rest) = trimmed.strip_prefix('>') {
            flush(&mut paragraph, &mut out);
            out.push(Block::Quote(rest.trim().to_owned()));
        } else if let Some((ordered, item)) = list_item(trimmed) {
            flush(&mut paragraph, &mut out);
            let mut items = vec![item.to_owned()];
            while let Some(next) = lines.peek() {
                match list_item(next.trim_start()) {
                    Some((o, item)) if o == ordered => {
                        items.push(item.to_owned());
                        lines.next();
                    }
                    _ => break,
                }
            }
            out.push(Block::List { ordered, items });
        } else {
            paragraph.push(trimmed);
        }
    }
    flush(&mut paragraph, &mut out);
    out
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|c| *c == '#').count();
    let rest = line[level..].strip_prefix(' ')?;
    (1..=6).contains(&level).then_some((level, rest.trim()))
}

fn list_item(line: &str) -> Option<(bool, &str)> {
    if let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")).or_else(|| line.strip_prefix("+ "))
    {
        return Some((false, rest));
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0
        && digits < 10
        && let Some(rest) = line[digits..].strip_prefix(". ").or_else(|| line[digits..].strip_prefix(") "))
    {
        return Some((true, rest));
    }
    None
}

/// Inline spans: `code`, **strong**, *em* / _em_, and [text](url) shown as text with its URL.
#[derive(Debug, PartialEq, Eq)]
enum Span {
    Text(String),
    Code(String),
    Strong(String),
    Em(String),
    Link(String, String),
}

fn spans(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let found = match c {
            '`' => rest[1..].find('`').map(|end| (Span::Code(rest[1..1 + end].to_owned()), end + 2)),
            '*' if rest.starts_with("**") => {
                rest[2..].find("**").filter(|e| *e > 0).map(|end| (Span::Strong(rest[2..2 + end].to_owned()), end + 4))
            }
            '*' | '_' => rest[1..]
                .find(c)
                .filter(|e| *e > 0 && !rest[1..].starts_with(' '))
                .map(|end| (Span::Em(rest[1..1 + end].to_owned()), end + 2)),
            '[' => rest.find("](").and_then(|mid| {
                let close = rest[mid + 2..].find(')')?;
                Some((Span::Link(rest[1..mid].to_owned(), rest[mid + 2..mid + 2 + close].to_owned()), mid + 3 + close))
            }),
            _ => None,
        };
        match found {
            Some((span, len)) => {
                if !plain.is_empty() {
                    out.push(Span::Text(std::mem::take(&mut plain)));
                }
                out.push(span);
                rest = &rest[len..];
            }
            None => {
                plain.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if !plain.is_empty() {
        out.push(Span::Text(plain));
    }
    out
}

fn inline(text: &str) -> impl IntoView + use<> {
    spans(text)
        .into_iter()
        .map(|span| match span {
            Span::Text(t) => view! { <span>{t}</span> }.into_any(),
            Span::Code(t) => view! { <code>{t}</code> }.into_any(),
            Span::Strong(t) => view! { <strong>{t}</strong> }.into_any(),
            Span::Em(t) => view! { <em>{t}</em> }.into_any(),
            // Links are shown, not followed: the reviewer copies the address if they want it.
            Span::Link(t, url) => {
                view! { <span class="md-link">{t}" "<span class="mono small">"("{url}")"</span></span> }.into_any()
            }
        })
        .collect_view()
}

fn markdown(text: &str) -> impl IntoView + use<> {
    let views = blocks(text)
        .into_iter()
        .map(|block| match block {
            Block::Heading(1, t) => view! { <h3>{inline(&t)}</h3> }.into_any(),
            Block::Heading(2, t) => view! { <h4>{inline(&t)}</h4> }.into_any(),
            Block::Heading(_, t) => view! { <h5>{inline(&t)}</h5> }.into_any(),
            Block::Paragraph(t) => view! { <p>{inline(&t)}</p> }.into_any(),
            Block::Code(t) => view! { <pre class="md-code">{t}</pre> }.into_any(),
            Block::Quote(t) => view! { <blockquote>{inline(&t)}</blockquote> }.into_any(),
            Block::Rule => view! { <hr/> }.into_any(),
            Block::List { ordered: false, items } => {
                view! { <ul>{items.iter().map(|i| view! { <li>{inline(i)}</li> }).collect_view()}</ul> }.into_any()
            }
            Block::List { ordered: true, items } => {
                view! { <ol>{items.iter().map(|i| view! { <li>{inline(i)}</li> }).collect_view()}</ol> }.into_any()
            }
        })
        .collect_view();
    view! { <div class="payload payload-markdown">{views}</div> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_blocks() {
        let b = blocks("# Title\n\nsome *text*\nmore\n\n- a\n- b\n1. x\n```\nlet x = 1;\n```\n> quoted");
        assert_eq!(b[0], Block::Heading(1, "Title".into()));
        assert_eq!(b[1], Block::Paragraph("some *text* more".into()));
        assert_eq!(b[2], Block::List { ordered: false, items: vec!["a".into(), "b".into()] });
        assert_eq!(b[3], Block::List { ordered: true, items: vec!["x".into()] });
        assert_eq!(b[4], Block::Code("let x = 1;".into()));
        assert_eq!(b[5], Block::Quote("quoted".into()));
    }

    #[test]
    fn inline_spans_never_lose_text() {
        let s = spans("a `b` **c** *d* [e](http://f) <script>");
        assert_eq!(s[0], Span::Text("a ".into()));
        assert_eq!(s[1], Span::Code("b".into()));
        assert_eq!(s[3], Span::Strong("c".into()));
        assert_eq!(s[5], Span::Em("d".into()));
        assert_eq!(s[7], Span::Link("e".into(), "http://f".into()));
        assert_eq!(s[8], Span::Text(" <script>".into()));
        // Unclosed markers stay as text.
        assert_eq!(spans("2 * 3 and `x"), vec![Span::Text("2 * 3 and `x".into())]);
        assert_eq!(spans("ünïcödé **ß**")[1], Span::Strong("ß".into()));
    }
}

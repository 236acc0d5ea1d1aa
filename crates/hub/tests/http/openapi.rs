//! `GET /openapi.json`: the document names every (path, method) the router serves and nothing
//! else, and says what the routes take, answer and refuse. The routes come from the router
//! itself: every path the hub registers (`keyway_hub::route_paths`) is probed with every method,
//! and a method the path lacks is axum's `405`.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::*;

/// The methods probed: OpenAPI's operations but `head` (axum answers HEAD wherever GET is).
const METHODS: [Method; 7] =
    [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS, Method::TRACE];

/// A router path as OpenAPI writes it (`{*rest}` is `{rest}`), and as a probe calls it.
fn spellings(path: &str) -> (String, String) {
    let mut openapi = String::new();
    let mut called = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = open + rest[open..].find('}').expect("a closed parameter");
        openapi.push_str(&rest[..open]);
        called.push_str(&rest[..open]);
        openapi.push('{');
        openapi.push_str(rest[open + 1..close].trim_start_matches('*'));
        openapi.push('}');
        called.push_str("nope");
        rest = &rest[close + 1..];
    }
    openapi.push_str(rest);
    called.push_str(rest);
    (openapi, called)
}

async fn document(hub: &TestHub) -> Value {
    let resp = reqwest::get(hub.at("/openapi.json")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    resp.json().await.unwrap()
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn openapi_document_covers_every_route_of_the_router() {
    let hub = TestHub::start().await;
    let doc = document(&hub).await;

    let client = reqwest::Client::new();
    let mut routed = BTreeSet::new();
    for path in keyway_hub::route_paths() {
        let (openapi, called) = spellings(path);
        for method in METHODS {
            let resp = client.request(method.clone(), hub.at(&called)).send().await.unwrap();
            if resp.status() != StatusCode::METHOD_NOT_ALLOWED {
                routed.insert(format!("{} {openapi}", method.as_str().to_lowercase()));
            }
        }
    }
    assert!(routed.contains("get /openapi.json") && routed.contains("post /scim/v2/{rest}"), "{routed:#?}");

    let operations = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in operations {
            if item.get(method).is_some() {
                documented.insert(format!("{method} {path}"));
            }
        }
    }
    let missing: Vec<_> = routed.difference(&documented).collect();
    assert!(missing.is_empty(), "routes the document lacks: {missing:#?}");
    let stale: Vec<_> = documented.difference(&routed).collect();
    assert!(stale.is_empty(), "operations the router lacks: {stale:#?}");
    println!("openapi: {} paths, {} operations", doc["paths"].as_object().unwrap().len(), documented.len());
    hub.stop().await;
}

#[tokio::test]
async fn openapi_document_describes_bodies_errors_and_security() {
    let hub = TestHub::start().await;
    let doc = document(&hub).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let json = |op: &Value, status: &str| op["responses"][status]["content"]["application/json"]["schema"].clone();

    // The exchange: a JSON body, the JWT, Keyway's error body; a PAT or a JWT.
    let exchange = &doc["paths"]["/auth/exchange"]["post"];
    let body = &exchange["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(body, "#/components/schemas/ExchangeRequest");
    assert!(schema("ExchangeRequest")["properties"]["requested_token_class"].is_object());
    assert_eq!(json(exchange, "200")["$ref"], "#/components/schemas/ExchangeResponse");
    assert_eq!(json(exchange, "401")["$ref"], "#/components/schemas/ErrorBody");
    let error = schema("ErrorBody");
    assert!(error["properties"]["error"].is_object() && error["properties"]["message"].is_object(), "{error}");
    assert!(error["required"].as_array().unwrap().contains(&"error".into()), "{error}");
    assert_eq!(exchange["security"], serde_json::json!([{ "pat": [] }, { "jwt": [] }]));

    // The token endpoint: a form, RFC 6749 errors, no security.
    let token = &doc["paths"]["/oauth/token"]["post"];
    assert!(token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"].is_object());
    assert_eq!(json(token, "400")["$ref"], "#/components/schemas/OAuthError");
    let oauth = schema("OAuthError");
    for field in ["error", "error_description"] {
        assert!(oauth["required"].as_array().unwrap().contains(&field.into()), "{oauth}");
    }
    assert_eq!(token["security"], serde_json::json!([{}]));

    // SCIM: its own content type and error schema, its own token.
    let users = &doc["paths"]["/scim/v2/Users"]["get"];
    let scim = &users["responses"]["401"]["content"]["application/scim+json"]["schema"]["$ref"];
    assert_eq!(scim, "#/components/schemas/ScimError");
    assert!(schema("ScimError")["properties"]["scimType"].is_object());
    assert_eq!(users["security"], serde_json::json!([{ "scim": [] }]));

    // Query parameters and paged answers.
    let list = &doc["paths"]["/api/users"]["get"];
    let params: Vec<&str> = list["parameters"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    assert!(params.contains(&"cursor") && params.contains(&"q"), "{params:?}");
    let page = json(list, "200")["$ref"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    assert!(schema(&page)["properties"]["items"].is_object(), "{page}");

    // Every resource route under /api takes a bearer JWT and says how it refuses one.
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            assert_eq!(op["security"], serde_json::json!([{ "jwt": [] }]), "{method} {path}");
            assert_eq!(json(op, "401")["$ref"], "#/components/schemas/ErrorBody", "{method} {path}");
        }
    }
    let jwt = &doc["components"]["securitySchemes"]["jwt"];
    assert_eq!((&jwt["type"], &jwt["scheme"], &jwt["bearerFormat"]), (&"http".into(), &"bearer".into(), &"JWT".into()));

    // Every reference resolves.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name =
            r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("a reference outside schemas: {r}"));
        assert!(schema(name).is_object(), "{r} resolves to nothing");
    }
    hub.stop().await;
}

//! `/openapi.json`, generated from the handlers' annotations and the response types.

use crate::api::{compat, error, flows, health};
use crate::domain::{catalogue, EventView, FlowStatus, FlowSummary, FlowView, PhaseView};
use crate::engine::port::WorkersStatus;
use axum::Json;
use serde_json::{json, Value};
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "flowgate reference orchestrator (Master Flow Orchestrator API v1)"),
    paths(
        health::health, health::ready, health::metrics,
        flows::flow_types, flows::create_flow, flows::list_flows, flows::get_flow,
        flows::delete_flow, flows::pause_flow, flows::resume_flow, flows::cancel_flow,
        flows::retry_flow, flows::input_flow, flows::flow_events,
        compat::health, compat::initialize, compat::status, compat::pause, compat::resume,
        compat::delete, compat::active, openapi_json,
    ),
    components(schemas(
        error::Problem, error::FieldError, FlowView, PhaseView, FlowSummary, EventView,
        WorkersStatus, flows::CreateFlowRequest, flows::InputRequest,
    )),
    modifiers(&BearerAuth),
)]
pub(crate) struct ApiDoc;

/// The OpenAPI 3.1 document of this server.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
pub(crate) async fn openapi_json() -> Json<Value> {
    static DOC: OnceLock<Value> = OnceLock::new();
    Json(DOC.get_or_init(document).clone())
}

/// The generated document, completed with what every operation of a kind answers.
pub(crate) fn document() -> Value {
    let mut doc = ApiDoc::openapi();
    doc.info.version = crate::VERSION.to_string();
    let mut doc = serde_json::to_value(doc).unwrap_or(Value::Null);
    complete(&mut doc);
    doc
}

/// The answers that come from the layers around a handler (authentication, the id
/// extractor, the body reader, the database) rather than from the handler itself, so the
/// handlers' annotations need not repeat them: documented on every operation they apply
/// to. And the bounds the hand-written validation enforces, as schema constraints.
fn complete(doc: &mut Value) {
    let problem = |description: &str| {
        json!({"description": description, "content": {"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"}}}})
    };
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            let creates = method == "post"
                && (path == "/api/v1/flows" || path == "/api/v1/unified-discovery/flow/initialize");
            let secured = op.contains_key("security");
            let has_body = op.contains_key("requestBody");
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            let mut add = |code: &str, description: &str| {
                responses
                    .entry(code.to_string())
                    .or_insert_with(|| problem(description));
            };
            if secured {
                add("401", "missing or bad credentials (`unauthorized`)");
                add("400", "a malformed tenant header (`invalid_header`)");
                add(
                    "404",
                    "an engagement outside the caller's account (`engagement_not_found`)",
                );
            }
            if path.contains("{flow_id}") {
                add("400", "the id is not a UUID (`invalid_id`)");
                add("404", "no such flow for this tenant (`not_found`)");
            }
            if has_body {
                add("400", "the body is not JSON (`malformed_json`)");
                add("408", "the body stopped arriving (`request_timeout`)");
                add("413", "the body is over the limit (`payload_too_large`)");
                add(
                    "415",
                    "the body is not sent as JSON (`unsupported_media_type`)",
                );
                add(
                    "422",
                    "a member is missing, mistyped or out of bounds (`validation_failed`)",
                );
            }
            if path.starts_with("/api/") {
                add(
                    "503",
                    "the database is unreachable or overloaded (`service_unavailable`)",
                );
            }
            if creates {
                let mut limited = problem(
                    "over the client account's create rate (`rate_limited`); see `Retry-After`",
                );
                limited["headers"] = json!({"Retry-After": {
                    "description": "seconds to wait before creating again",
                    "schema": {"type": "integer", "minimum": 1}}});
                responses.entry("429".to_string()).or_insert(limited);
            }
        }
    }
    let flow_types: Vec<Value> = catalogue::flow_type_names()
        .into_iter()
        .map(Value::from)
        .collect();
    if let Some(params) = doc
        .pointer_mut("/paths/~1api~1v1~1flows/get/parameters")
        .and_then(Value::as_array_mut)
    {
        for p in params {
            match p.get("name").and_then(Value::as_str) {
                Some("flow_type") => p["schema"] = json!({"type": "string", "enum": flow_types}),
                Some("limit") => {
                    p["schema"] = json!({"type": "integer", "minimum": 1, "maximum": 100})
                }
                Some("status") => {
                    let one = format!(" *({}) *", FlowStatus::visible_names().join("|"));
                    p["schema"] = json!({"type": "string", "pattern": format!("^{one}(,{one})*$")})
                }
                Some("cursor") => {
                    p["schema"] = json!({"type": "string", "pattern": flows::CURSOR_PATTERN})
                }
                _ => {}
            }
        }
    }
    // Trimmed, 1 to 200 visible ASCII characters (what `idempotency_key` accepts).
    if let Some(params) = doc
        .pointer_mut("/paths/~1api~1v1~1flows/post/parameters")
        .and_then(Value::as_array_mut)
    {
        for p in params {
            if p.get("name").and_then(Value::as_str) == Some("Idempotency-Key") {
                p["schema"] = json!({"type": "string", "pattern": "^[!-~]([\t -~]{0,198}[!-~])?$"});
            }
        }
    }
    let schemas = "/components/schemas";
    if let Some(create) = doc.pointer_mut(&format!("{schemas}/CreateFlowRequest")) {
        create["additionalProperties"] = json!(false);
        create["properties"]["flow_type"]["enum"] = json!(flow_types);
        create["properties"]["flow_name"]["maxLength"] = json!(200);
    }
    if let Some(input) = doc.pointer_mut(&format!("{schemas}/InputRequest")) {
        input["additionalProperties"] = json!(false);
        input["properties"]["comment"]["maxLength"] = json!(2000);
    }
}

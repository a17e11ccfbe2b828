//! `/openapi.json`, generated from the handlers' annotations and the response types.

use crate::api::{compat, error, flows, health};
use crate::domain::{EventView, FlowSummary, FlowView, PhaseView};
use crate::engine::port::WorkersStatus;
use axum::Json;
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
pub(crate) async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    let mut doc = ApiDoc::openapi();
    doc.info.version = crate::VERSION.to_string();
    Json(doc)
}

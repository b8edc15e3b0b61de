//! `/openapi.json`: an OpenAPI 3.0.3 document generated from the served models'
//! schemas, with per-model request and response bodies for all three protocols.
//! Rebuilt per request, so it follows a model whose alias moved.

use serde_json::{json, Map, Value};

use crate::schema::ApiSchema;
use crate::state::AppState;

/// Example request bodies of one model, shared with the docs page.
pub struct Examples {
    pub vetiver: Value,
    pub mlflow: Value,
    pub oip: Value,
}

impl Examples {
    pub fn new(schema: &ApiSchema) -> Examples {
        let row: Map<String, Value> = schema
            .inputs
            .iter()
            .map(|i| (i.name.clone(), i.example()))
            .collect();
        let row = Value::Object(row);
        let tensors: Vec<Value> = schema
            .inputs
            .iter()
            .map(|i| json!({ "name": i.name, "shape": [1], "datatype": i.datatype(), "data": [i.example()] }))
            .collect();
        Examples {
            vetiver: json!([row]),
            mlflow: json!({ "dataframe_records": [row] }),
            oip: json!({ "inputs": tensors }),
        }
    }
}

fn error_schema(protocol: &str) -> Value {
    match protocol {
        "oip" => {
            json!({ "type": "object", "properties": { "error": { "type": "string" } }, "required": ["error"] })
        }
        "mlflow" => json!({
            "type": "object",
            "properties": { "error_code": { "type": "string" }, "message": { "type": "string" } },
            "required": ["error_code", "message"],
        }),
        _ => {
            json!({ "type": "object", "properties": { "detail": { "type": "string" } }, "required": ["detail"] })
        }
    }
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// The responses of an operation: its success body plus every error it can answer.
fn responses(ok: Value, protocol: &str, statuses: &[u16]) -> Value {
    let mut responses = Map::new();
    responses.insert("200".into(), ok);
    for status in statuses {
        let description = match status {
            400 => "Malformed request, or values that do not fit the model's schema",
            401 => "Missing or wrong bearer token",
            404 => "No such model or version",
            413 => "Body larger than the server's limit",
            415 => "Unsupported content type",
            422 => "Values that do not fit the model's schema",
            503 => "The request took longer than the server's timeout",
            _ => "Error",
        };
        responses.insert(
            status.to_string(),
            json!({ "description": description, "content": json_content(error_schema(protocol)) }),
        );
    }
    Value::Object(responses)
}

fn get(summary: &str, ok_schema: Value, protocol: &str, tag: &str, statuses: &[u16]) -> Value {
    json!({ "get": {
        "summary": summary,
        "tags": [tag],
        "responses": responses(json!({ "description": "OK", "content": json_content(ok_schema) }), protocol, statuses),
    }})
}

fn tensor_schema(name: &str, datatype: &str, data: Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": { "type": "string", "enum": [name] },
            "shape": { "type": "array", "items": { "type": "integer", "minimum": 0 }, "minItems": 1, "maxItems": 2 },
            "datatype": { "type": "string", "enum": [datatype] },
            "parameters": { "type": "object" },
            "data": { "type": "array", "items": data },
        },
        "required": ["name", "shape", "datatype", "data"],
    })
}

fn oip_request(schema: &ApiSchema) -> Value {
    let tensors: Vec<Value> = schema
        .inputs
        .iter()
        .map(|i| tensor_schema(&i.name, i.datatype(), i.json_schema()))
        .collect();
    let outputs: Vec<&str> = schema.outputs.iter().map(|o| o.name.as_str()).collect();
    json!({
        "type": "object",
        "properties": {
            "id": { "type": "string" },
            "parameters": { "type": "object" },
            "inputs": { "type": "array", "items": { "oneOf": tensors } },
            "outputs": { "type": "array", "items": {
                "type": "object",
                "properties": {
                    "name": { "type": "string", "enum": outputs },
                    "parameters": { "type": "object" },
                },
                "required": ["name"],
            }},
        },
        "required": ["inputs"],
    })
}

fn oip_response(schema: &ApiSchema) -> Value {
    let outputs: Vec<Value> = schema
        .outputs
        .iter()
        .map(|o| tensor_schema(&o.name, o.datatype, o.json_schema()))
        .collect();
    json!({
        "type": "object",
        "properties": {
            "model_name": { "type": "string" },
            "model_version": { "type": "string" },
            "id": { "type": "string" },
            "outputs": { "type": "array", "items": { "oneOf": outputs } },
        },
        "required": ["model_name", "outputs"],
    })
}

fn tensor_metadata() -> Value {
    json!({ "type": "array", "items": {
        "type": "object",
        "properties": {
            "name": { "type": "string" },
            "datatype": { "type": "string" },
            "shape": { "type": "array", "items": { "type": "integer" } },
        },
        "required": ["name", "datatype", "shape"],
    }})
}

fn mlflow_request(schema: &ApiSchema) -> Value {
    let row = schema.row_schema();
    let columns: Map<String, Value> = schema
        .inputs
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                json!({ "type": "array", "items": i.json_schema() }),
            )
        })
        .collect();
    let names: Vec<&str> = schema.inputs.iter().map(|i| i.name.as_str()).collect();
    let records = json!({ "type": "array", "items": row });
    let by_column = json!({ "type": "object", "properties": columns, "required": names });
    let one = |key: &str, value: Value| {
        json!({
            "type": "object",
            "properties": { key: value, "params": { "type": "object" } },
            "required": [key],
            "additionalProperties": false,
        })
    };
    json!({ "oneOf": [
        one("dataframe_split", json!({
            "type": "object",
            "properties": {
                "columns": { "type": "array", "items": { "type": "string", "enum": names } },
                "data": { "type": "array", "items": { "type": "array" } },
            },
            "required": ["columns", "data"],
        })),
        one("dataframe_records", records.clone()),
        one("instances", records.clone()),
        one("inputs", json!({ "oneOf": [records, by_column] })),
    ]})
}

/// The operations of one model under `prefix` (`/models/NAME` or the root for the
/// default model).
fn model_paths(
    paths: &mut Map<String, Value>,
    prefix: &str,
    schema: &ApiSchema,
    examples: &Examples,
) {
    let mlflow_ok = json!({
        "type": "object",
        "properties": { "predictions": { "type": "array", "items": schema.output_row_schema() } },
        "required": ["predictions"],
    });
    let mut vetiver_ok = Map::new();
    for (k, o) in schema.outputs.iter().enumerate() {
        let key = if k == 0 {
            "predict".to_string()
        } else {
            o.name.clone()
        };
        vetiver_ok.insert(key, json!({ "type": "array", "items": o.json_schema() }));
    }
    let vetiver_required: Vec<String> = vetiver_ok.keys().cloned().collect();
    paths.insert(
        format!("{prefix}/invocations"),
        json!({ "post": {
            "summary": "Score rows (MLflow scoring protocol)",
            "tags": ["MLflow"],
            "requestBody": {
                "required": true,
                "content": {
                    "application/json": { "schema": mlflow_request(schema), "example": examples.mlflow },
                    "text/csv": { "schema": { "type": "string" } },
                },
            },
            "responses": responses(
                json!({ "description": "One object per row", "content": json_content(mlflow_ok) }),
                "mlflow", &[400, 401, 404, 413, 415, 503]),
        }}),
    );
    paths.insert(
        format!("{prefix}/predict"),
        json!({ "post": {
            "summary": "Score rows (vetiver)",
            "tags": ["vetiver"],
            "requestBody": {
                "required": true,
                "content": { "application/json": {
                    "schema": { "type": "array", "items": schema.row_schema() },
                    "example": examples.vetiver,
                }},
            },
            "responses": responses(
                json!({ "description": "One list per column", "content": json_content(json!({
                    "type": "object", "properties": vetiver_ok, "required": vetiver_required,
                })) }),
                "vetiver", &[400, 401, 404, 413, 415, 422, 503]),
        }}),
    );
    let metadata = json!({
        "type": "object",
        "properties": {
            "user": { "type": "object" },
            "version": { "type": "string" },
            "required_pkgs": { "type": "array", "items": { "type": "string" } },
            "ferry": { "type": "object" },
        },
        "required": ["user", "version"],
    });
    paths.insert(
        format!("{prefix}/metadata"),
        get(
            "The model's metadata (vetiver)",
            metadata,
            "vetiver",
            "vetiver",
            &[401, 404],
        ),
    );
    paths.insert(
        format!("{prefix}/prototype"),
        get(
            "JSON Schema of one input row (vetiver)",
            json!({ "type": "object" }),
            "vetiver",
            "vetiver",
            &[401, 404],
        ),
    );
}

pub fn document(state: &AppState) -> Value {
    let mut paths = Map::new();
    let health = |summary: &str| {
        json!({ "get": { "summary": summary, "tags": ["health"], "security": [],
            "responses": { "200": { "description": "OK" } } } })
    };
    paths.insert("/v2/health/live".into(), health("Liveness (OIP)"));
    paths.insert("/v2/health/ready".into(), health("Readiness (OIP)"));
    paths.insert("/ping".into(), health("Liveness (vetiver, MLflow)"));
    paths.insert("/health".into(), health("Liveness (MLflow)"));
    paths.insert(
        "/v2".into(),
        get(
            "Server metadata (OIP)",
            json!({ "type": "object", "properties": {
                "name": { "type": "string" }, "version": { "type": "string" },
                "extensions": { "type": "array", "items": { "type": "string" } },
            }, "required": ["name", "version", "extensions"] }),
            "oip",
            "OIP",
            &[401],
        ),
    );
    paths.insert(
        "/version".into(),
        json!({ "get": { "summary": "ferry's version (MLflow)", "tags": ["MLflow"],
            "responses": responses(json!({ "description": "OK", "content": { "text/plain": { "schema": { "type": "string" } } } }), "mlflow", &[401]) } }),
    );
    paths.insert(
        "/metrics".into(),
        json!({ "get": { "summary": "Prometheus metrics", "tags": ["operations"],
            "responses": responses(json!({ "description": "OpenMetrics text", "content": { "application/openmetrics-text": { "schema": { "type": "string" } } } }), "ops", &[401]) } }),
    );

    let default = state.default_slot().current();
    model_paths(
        &mut paths,
        "",
        &default.schema,
        &Examples::new(&default.schema),
    );
    for slot in state.slots() {
        let loaded = slot.current();
        let schema = &loaded.schema;
        let examples = Examples::new(schema);
        let name = &slot.name;
        model_paths(&mut paths, &format!("/models/{name}"), schema, &examples);
        let model_metadata = json!({
            "type": "object",
            "properties": {
                "name": { "type": "string" },
                "versions": { "type": "array", "items": { "type": "string" } },
                "platform": { "type": "string" },
                "inputs": tensor_metadata(),
                "outputs": tensor_metadata(),
            },
            "required": ["name", "versions", "platform", "inputs", "outputs"],
        });
        let ready = json!({ "type": "object", "properties": { "name": { "type": "string" }, "ready": { "type": "boolean" } } });
        let infer = json!({ "post": {
            "summary": format!("Score {name} (Open Inference Protocol v2)"),
            "tags": ["OIP"],
            "requestBody": { "required": true, "content": {
                "application/json": { "schema": oip_request(schema), "example": examples.oip },
            }},
            "responses": responses(
                json!({ "description": "One tensor per prediction column", "content": json_content(oip_response(schema)) }),
                "oip", &[400, 401, 404, 413, 503]),
        }});
        for base in [
            format!("/v2/models/{name}"),
            format!("/v2/models/{name}/versions/{}", loaded.served.version),
        ] {
            paths.insert(
                base.clone(),
                get(
                    "Model metadata (OIP)",
                    model_metadata.clone(),
                    "oip",
                    "OIP",
                    &[401, 404],
                ),
            );
            paths.insert(
                format!("{base}/ready"),
                get(
                    "Model readiness (OIP)",
                    ready.clone(),
                    "oip",
                    "OIP",
                    &[401, 404],
                ),
            );
            paths.insert(format!("{base}/infer"), infer.clone());
        }
    }

    let mut document = json!({
        "openapi": "3.0.3",
        "info": {
            "title": format!("ferry: {}", state.slots().iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")),
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Predictions over the Open Inference Protocol v2, MLflow's scoring protocol and vetiver's API. \
                Unprefixed /invocations, /predict, /metadata and /prototype serve the first model.",
        },
        "paths": paths,
    });
    if state.config.token.is_some() {
        document["components"] =
            json!({ "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } });
        document["security"] = json!([{ "bearer": [] }]);
    }
    document
}

//! The API view of a model's schema, derived once per loaded model: how each input
//! column travels over the wire (JSON type, OIP datatype) and what each prediction
//! column is. OIP metadata, validation, the vetiver prototype and OpenAPI all read it.

use arrow_schema::DataType;
use ferry_ir::{DType, Model, OutputColumn, OutputKind};
use serde_json::{json, Value};

/// How values of one input column are read from a request.
#[derive(Debug, Clone, PartialEq)]
pub enum InputKind {
    /// Any JSON number; `integer` when the model declares an integer input.
    Number {
        integer: bool,
    },
    Bool,
    /// A category by name (a string), or a number that is one of the level names.
    Category,
    /// A category given as its integer code (the model knows no names).
    Code,
}

#[derive(Debug, Clone)]
pub struct InputSpec {
    pub name: String,
    pub kind: InputKind,
    pub dtype: DType,
    pub nullable: bool,
    pub levels: Option<Vec<String>>,
}

impl InputSpec {
    /// The OIP datatype a client should send.
    pub fn datatype(&self) -> &'static str {
        match self.dtype {
            DType::Float64 => "FP64",
            DType::Float32 => "FP32",
            DType::Int64 => "INT64",
            DType::Bool => "BOOL",
            DType::Categorical if self.kind == InputKind::Category => "BYTES",
            DType::Categorical => "INT64",
        }
    }

    /// A plausible value, for the prototype and documentation.
    pub fn example(&self) -> Value {
        match (&self.kind, &self.levels) {
            (InputKind::Category, Some(levels)) => {
                json!(levels
                    .iter()
                    .find(|l| !l.is_empty())
                    .cloned()
                    .unwrap_or_default())
            }
            (InputKind::Bool, _) => json!(false),
            (InputKind::Number { integer: true }, _) | (InputKind::Code, _) => json!(0),
            _ => json!(0.0),
        }
    }

    /// JSON Schema (OpenAPI 3.0 dialect) of one value.
    pub fn json_schema(&self) -> Value {
        let mut schema = match self.kind {
            InputKind::Number { integer: false } => json!({ "type": "number" }),
            InputKind::Number { integer: true } | InputKind::Code => json!({ "type": "integer" }),
            InputKind::Bool => json!({ "type": "boolean" }),
            InputKind::Category => json!({ "anyOf": [{ "type": "string" }, { "type": "number" }] }),
        };
        schema["nullable"] = json!(true);
        schema["example"] = self.example();
        if let Some(levels) = &self.levels {
            schema["description"] = json!(format!(
                "a category: {} (any other value is read as the model reads an unseen category)",
                levels.join(", ")
            ));
        }
        schema
    }
}

/// One prediction column of the contract and its wire type.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    pub name: String,
    pub kind: OutputKind,
    /// `FP64`, `INT64` (integer class labels) or `BYTES` (string labels).
    pub datatype: &'static str,
}

impl OutputSpec {
    pub fn json_schema(&self) -> Value {
        match self.datatype {
            // A row whose probabilities are missing (a PMML null prediction) has no
            // label; NaN and infinities are written as null.
            "INT64" => json!({ "type": "integer", "nullable": true }),
            "BYTES" => json!({ "type": "string", "nullable": true }),
            _ => json!({ "type": "number", "nullable": true }),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiSchema {
    pub inputs: Vec<InputSpec>,
    pub outputs: Vec<OutputSpec>,
    pub columns: Vec<OutputColumn>,
}

impl ApiSchema {
    pub fn new(model: &Model) -> ApiSchema {
        let inputs = model
            .inputs
            .iter()
            .map(|input| InputSpec {
                name: input.name.clone(),
                kind: match input.dtype {
                    DType::Float64 | DType::Float32 => InputKind::Number { integer: false },
                    DType::Int64 => InputKind::Number { integer: true },
                    DType::Bool => InputKind::Bool,
                    DType::Categorical if input.levels.is_some() => InputKind::Category,
                    DType::Categorical => InputKind::Code,
                },
                dtype: input.dtype,
                nullable: input.nullable,
                levels: input.levels.clone(),
            })
            .collect();
        let label = match ferry_eval::label_type(model) {
            DataType::Int64 => "INT64",
            _ => "BYTES",
        };
        let columns = ferry_ir::output_columns(model, false);
        let outputs = columns
            .iter()
            .map(|c| OutputSpec {
                name: c.name.clone(),
                kind: c.kind,
                datatype: if c.kind == OutputKind::Label {
                    label
                } else {
                    "FP64"
                },
            })
            .collect();
        ApiSchema {
            inputs,
            outputs,
            columns,
        }
    }

    pub fn input(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|i| i.name == name)
    }

    /// Whether every input is a number (so a 2-D numeric tensor can carry them all).
    pub fn all_numeric(&self) -> bool {
        self.inputs
            .iter()
            .all(|i| !matches!(i.kind, InputKind::Category))
    }

    /// The column vetiver's `predict` list holds: the label, else the prediction.
    pub fn main_output(&self) -> &OutputSpec {
        &self.outputs[0]
    }

    /// JSON Schema of one request row (vetiver's prototype, MLflow records).
    pub fn row_schema(&self) -> Value {
        let properties: serde_json::Map<String, Value> = self
            .inputs
            .iter()
            .map(|i| (i.name.clone(), i.json_schema()))
            .collect();
        json!({
            "title": "prototype",
            "type": "object",
            "properties": properties,
            "required": self.inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        })
    }

    /// JSON Schema of one response row (MLflow predictions).
    pub fn output_row_schema(&self) -> Value {
        let properties: serde_json::Map<String, Value> = self
            .outputs
            .iter()
            .map(|o| (o.name.clone(), o.json_schema()))
            .collect();
        json!({
            "type": "object",
            "properties": properties,
            "required": self.outputs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        })
    }
}

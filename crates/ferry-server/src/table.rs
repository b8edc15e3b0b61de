//! Request values → one Arrow column per model input, validated against the schema.
//! Every protocol decodes its body into [`Table`]; errors name the column (and row).

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use serde_json::Value;

use crate::error::{ApiError, Protocol};
use crate::schema::{ApiSchema, InputKind, InputSpec};

/// Values of one input column as they arrive.
enum Values {
    Number(Vec<f64>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<String>>),
}

/// Collects one column's values, checking each against the input's kind.
pub struct ColumnBuilder<'a> {
    spec: &'a InputSpec,
    values: Values,
    protocol: Protocol,
}

impl<'a> ColumnBuilder<'a> {
    pub fn new(spec: &'a InputSpec, capacity: usize, protocol: Protocol) -> ColumnBuilder<'a> {
        let values = match spec.kind {
            InputKind::Number { .. } | InputKind::Code => {
                Values::Number(Vec::with_capacity(capacity))
            }
            InputKind::Bool => Values::Bool(Vec::with_capacity(capacity)),
            InputKind::Category => Values::Text(Vec::with_capacity(capacity)),
        };
        ColumnBuilder {
            spec,
            values,
            protocol,
        }
    }

    fn error(&self, row: Option<usize>, expected: &str, found: &str) -> ApiError {
        let at = match row {
            Some(r) => format!(" (row {r})"),
            None => String::new(),
        };
        ApiError::schema(
            self.protocol,
            format!(
                "column {:?}{at}: expected {expected}, found {found}",
                self.spec.name
            ),
        )
    }

    fn expected(&self) -> &'static str {
        match self.spec.kind {
            InputKind::Number { integer: false } => "a number or null",
            InputKind::Number { integer: true } => "an integer or null",
            InputKind::Code => "an integer category code or null",
            InputKind::Bool => "true, false or null",
            InputKind::Category => "a category (string) or null",
        }
    }

    /// A missing value (JSON null, empty CSV cell).
    pub fn push_null(&mut self) {
        match &mut self.values {
            Values::Number(v) => v.push(f64::NAN),
            Values::Bool(v) => v.push(None),
            Values::Text(v) => v.push(None),
        }
    }

    pub fn push_f64(&mut self, x: f64, row: Option<usize>) -> Result<(), ApiError> {
        let integer = matches!(
            self.spec.kind,
            InputKind::Number { integer: true } | InputKind::Code
        );
        match &mut self.values {
            Values::Number(v) => {
                if integer && x.is_finite() && x.fract() != 0.0 {
                    return Err(self.error(row, self.expected(), &format!("{x}")));
                }
                v.push(x);
            }
            Values::Bool(v) if x == 0.0 || x == 1.0 => v.push(Some(x == 1.0)),
            // A number for a named category: pandas categories of numbers.
            Values::Text(v) => v.push(Some(format_number(x))),
            Values::Bool(_) => return Err(self.error(row, self.expected(), &format!("{x}"))),
        }
        Ok(())
    }

    pub fn push_bool(&mut self, b: bool, row: Option<usize>) -> Result<(), ApiError> {
        match &mut self.values {
            Values::Bool(v) => v.push(Some(b)),
            _ => return Err(self.error(row, self.expected(), &format!("{b}"))),
        }
        Ok(())
    }

    pub fn push_str(&mut self, s: &str, row: Option<usize>) -> Result<(), ApiError> {
        if let Values::Text(v) = &mut self.values {
            v.push(Some(s.to_string()));
            return Ok(());
        }
        Err(self.error(row, self.expected(), &format!("the string {s:?}")))
    }

    /// A JSON value of one row.
    pub fn push_json(&mut self, value: &Value, row: Option<usize>) -> Result<(), ApiError> {
        match value {
            Value::Null => {
                self.push_null();
                Ok(())
            }
            Value::Number(n) => match n.as_f64() {
                Some(x) => self.push_f64(x, row),
                None => Err(self.error(row, self.expected(), &n.to_string())),
            },
            Value::Bool(b) => self.push_bool(*b, row),
            Value::String(s) => self.push_str(s, row),
            Value::Array(_) => Err(self.error(row, self.expected(), "an array")),
            Value::Object(_) => Err(self.error(row, self.expected(), "an object")),
        }
    }

    /// A CSV cell: empty is missing; numbers and booleans are parsed.
    pub fn push_text(&mut self, cell: &str, row: Option<usize>) -> Result<(), ApiError> {
        if cell.is_empty() {
            self.push_null();
            return Ok(());
        }
        match self.spec.kind {
            InputKind::Category => self.push_str(cell, row),
            InputKind::Bool => match cell.trim() {
                "true" | "True" | "TRUE" | "1" => self.push_bool(true, row),
                "false" | "False" | "FALSE" | "0" => self.push_bool(false, row),
                _ => Err(self.error(row, self.expected(), &format!("{cell:?}"))),
            },
            _ => match cell.trim().parse::<f64>() {
                Ok(x) => self.push_f64(x, row),
                Err(_) => Err(self.error(row, self.expected(), &format!("{cell:?}"))),
            },
        }
    }

    pub(crate) fn len(&self) -> usize {
        match &self.values {
            Values::Number(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::Text(v) => v.len(),
        }
    }

    fn finish(self) -> (Field, ArrayRef) {
        let array: ArrayRef = match self.values {
            Values::Number(v) => Arc::new(Float64Array::from(v)),
            Values::Bool(v) => Arc::new(BooleanArray::from(v)),
            Values::Text(v) => Arc::new(StringArray::from(v)),
        };
        let data_type = match array.data_type() {
            DataType::Boolean => DataType::Boolean,
            DataType::Utf8 => DataType::Utf8,
            _ => DataType::Float64,
        };
        (Field::new(&self.spec.name, data_type, true), array)
    }
}

/// Shortest decimal text of a number (`1` for 1.0), for matching category names.
fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// The builders of every input of a model, in schema order.
pub struct Table<'a> {
    pub columns: Vec<ColumnBuilder<'a>>,
    pub protocol: Protocol,
}

impl<'a> Table<'a> {
    pub fn new(schema: &'a ApiSchema, rows: usize, protocol: Protocol) -> Table<'a> {
        // A hint only: never trust a client's count with an allocation.
        let rows = rows.min(1 << 16);
        Table {
            columns: schema
                .inputs
                .iter()
                .map(|spec| ColumnBuilder::new(spec, rows, protocol))
                .collect(),
            protocol,
        }
    }

    /// Rows given as JSON objects keyed by column name (extra keys are ignored).
    pub fn push_records(&mut self, rows: &[Value]) -> Result<(), ApiError> {
        for (r, row) in rows.iter().enumerate() {
            let Some(row) = row.as_object() else {
                return Err(ApiError::schema(
                    self.protocol,
                    format!(
                        "row {r}: expected an object of column values, found {}",
                        kind_of(row)
                    ),
                ));
            };
            for column in &mut self.columns {
                match row.get(&column.spec.name) {
                    Some(value) => column.push_json(value, Some(r))?,
                    None => {
                        return Err(ApiError::schema(
                            self.protocol,
                            format!("row {r}: missing column {:?}", column.spec.name),
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    /// Rows given as arrays of values, in the order of `names` (or the schema's order).
    pub fn push_arrays(
        &mut self,
        names: Option<&[String]>,
        rows: &[Value],
    ) -> Result<(), ApiError> {
        let positions: Vec<usize> = match names {
            Some(names) => {
                let mut positions = Vec::with_capacity(self.columns.len());
                for column in &self.columns {
                    let Some(p) = names.iter().position(|n| *n == column.spec.name) else {
                        return Err(self.missing(&column.spec.name));
                    };
                    positions.push(p);
                }
                positions
            }
            None => (0..self.columns.len()).collect(),
        };
        let width = names.map_or(self.columns.len(), <[String]>::len);
        for (r, row) in rows.iter().enumerate() {
            let Some(values) = row.as_array() else {
                return Err(ApiError::schema(
                    self.protocol,
                    format!(
                        "row {r}: expected an array of {width} values, found {}",
                        kind_of(row)
                    ),
                ));
            };
            if values.len() != width {
                return Err(ApiError::schema(
                    self.protocol,
                    format!("row {r}: expected {width} values, found {}", values.len()),
                ));
            }
            for (column, p) in self.columns.iter_mut().zip(&positions) {
                column.push_json(&values[*p], Some(r))?;
            }
        }
        Ok(())
    }

    /// Columns given as `{"name": [values…]}`.
    pub fn push_columns(
        &mut self,
        object: &serde_json::Map<String, Value>,
    ) -> Result<(), ApiError> {
        let mut n_rows = None;
        for column in &mut self.columns {
            let name = column.spec.name.clone();
            let values = match object.get(&name) {
                Some(Value::Array(values)) => values.as_slice(),
                // A scalar is one row, as MLflow reads `{"inputs": {"x": 1}}`.
                Some(scalar) => std::slice::from_ref(scalar),
                None => {
                    return Err(ApiError::schema(
                        self.protocol,
                        format!("missing column {name:?}"),
                    ))
                }
            };
            if let Some(n) = n_rows {
                if n != values.len() {
                    return Err(ApiError::schema(
                        self.protocol,
                        format!(
                            "column {name:?} has {} values, the columns before it {n}",
                            values.len()
                        ),
                    ));
                }
            }
            n_rows = Some(values.len());
            for (r, value) in values.iter().enumerate() {
                column.push_json(value, Some(r))?;
            }
        }
        Ok(())
    }

    pub fn missing(&self, name: &str) -> ApiError {
        ApiError::schema(
            self.protocol,
            format!(
                "missing column {name:?} (the model's inputs: {})",
                self.columns
                    .iter()
                    .map(|c| c.spec.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    }

    /// The record batch the evaluator reads. Every column must have the same length.
    pub fn finish(self) -> Result<RecordBatch, ApiError> {
        let protocol = self.protocol;
        let n_rows = self.columns.first().map_or(0, ColumnBuilder::len);
        if let Some(c) = self.columns.iter().find(|c| c.len() != n_rows) {
            return Err(ApiError::schema(
                protocol,
                format!(
                    "column {:?} has {} values, the first column {n_rows}",
                    c.spec.name,
                    c.len()
                ),
            ));
        }
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) =
            self.columns.into_iter().map(ColumnBuilder::finish).unzip();
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(n_rows));
        RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)
            .map_err(|e| ApiError::new(crate::error::ErrorKind::Internal, protocol, e.to_string()))
    }
}

/// "an object", "a string", … for error messages.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

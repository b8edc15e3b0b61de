//! ONNX models as skl2onnx and onnxmltools write them.
//!
//! The graph is not run: it is interpreted *symbolically*, node by node in topological
//! order, turning every tensor into what it means for ferry's IR — columns computed from
//! the inputs (preprocessing becomes derived columns), the estimator's scores, the
//! predicted label. An operator the IR cannot express is refused naming its type, domain,
//! opset and node name.
//!
//! Arithmetic recorded in the IR: a `float` tensor is float32 in every step that reads
//! it (scalers, imputers, dense layers, tree comparisons, score sums), a `double` tensor
//! float64; tree thresholds and leaf weights are the values stored in the file.

mod demote;
mod estimators;
mod fold;
mod ops;
mod proto;
mod shape;
mod svm;
mod tensor;

use std::collections::{HashMap, HashSet};

use ferry_ir::{
    DType, Derived, Estimator, Expr, Input, Linear, Model, Precision, Source, Task, Transform,
    UnaryFn, Unseen, IR_VERSION,
};
use prost::Message;

use crate::{Format, ImportError, ImportOptions};
use proto::{ModelProto, NodeProto};
use tensor::Tensor;

pub(crate) const FORMAT: &str = "onnx";

/// Most nodes ferry interprets in one graph.
const MAX_NODES: usize = 1_000_000;
/// Most columns one tensor may have (a 2-D input's width, a one-hot's categories).
const MAX_COLUMNS: usize = 100_000;

pub(crate) struct Onnx;

impl Format for Onnx {
    fn name(&self) -> &'static str {
        FORMAT
    }

    /// A `ModelProto` starts with field 1 (`ir_version`, varint: byte 0x08) as every
    /// exporter writes it; the first bytes then must decode as a small varint.
    fn sniff(&self, bytes: &[u8]) -> bool {
        matches!(bytes, [0x08, v, ..] if *v > 0 && *v < 0x80)
    }

    fn import(&self, bytes: &[u8], _options: &ImportOptions) -> Result<Model, ImportError> {
        let model = ModelProto::decode(bytes).map_err(|e| ImportError::Parse {
            format: FORMAT,
            message: format!("not a valid ONNX protobuf: {e}"),
        })?;
        translate(&model)
    }
}

/// The element type of a tensor, as far as ferry tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    F32,
    F64,
    /// Integers and booleans: exact in float64.
    Int,
    Str,
}

impl Elem {
    /// The element type of numbers stored as float32 or float64 (a constant tensor).
    pub fn float(float32: bool) -> Elem {
        if float32 {
            Elem::F32
        } else {
            Elem::F64
        }
    }

    /// Precision of arithmetic on this element type.
    pub fn precision(self) -> Precision {
        match self {
            Elem::F32 => Precision::F32,
            _ => Precision::F64,
        }
    }
}

/// A string column: an input whose values are category names. `subst` holds the
/// replacements applied so far (an imputer or a string label encoder), keyed by the
/// original value; `""` stands for a missing value, as skl2onnx feeds missing text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StrCol {
    pub input: usize,
    pub subst: Vec<(String, String)>,
    /// Replacement of every value that was not a known level when it was set, with the
    /// number of levels known then (later levels are unseen values to it).
    pub unseen: Option<(String, usize)>,
}

/// What a tensor means.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// `[N, k]` numbers: one expression per column over the model's column space.
    Num { cols: Vec<Expr>, elem: Elem },
    /// `[N, k]` strings.
    Str(Vec<StrCol>),
    /// A constant tensor.
    Const(Tensor),
    /// The estimator's scores after `transform`: the model's main output.
    Scores(Scores),
    /// The class the estimator predicts; `column` holds its class index where the
    /// label is not the highest score (an SVM's votes).
    Label {
        classes: Vec<String>,
        column: Option<usize>,
    },
    /// `Sigmoid`/`Softmax` of columns: the output transform when the columns turn out
    /// to be a network's last layer, ordinary columns otherwise.
    Lazy {
        logits: Vec<Expr>,
        elem: Elem,
        transform: Transform,
    },
    /// `1 - p` of a single logistic score, waiting to be concatenated with `p`.
    Complement(Scores),
    /// Some columns of the model's scores (ArrayFeatureExtractor): still the model's
    /// scores as an output (all of whose columns ferry reports), these columns where a
    /// later node computes with them.
    Picked { scores: Scores, columns: Vec<usize> },
    /// The index of the highest score of the model's output.
    ArgMax,
    /// The shape `[rows, width]` of a per-row tensor (`Shape`).
    Shape { width: usize },
    /// A graph input that is one map per row (DictVectorizer, CastMap): its keys become
    /// input columns when a node names them.
    Map { string_keys: bool, elem: Elem },
}

/// The estimator's output as seen by the nodes after it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scores {
    pub transform: Transform,
    /// Class names when the scores are class probabilities (or class scores).
    pub classes: Option<Vec<String>>,
}

/// State of the symbolic interpretation.
pub(crate) struct Ctx {
    opsets: HashMap<String, i64>,
    pub inputs: Vec<Input>,
    pub derived: Vec<Derived>,
    /// Level names of each string input, in code order (grown as the graph uses them).
    pub levels: Vec<Vec<String>>,
    values: HashMap<String, Value>,
    /// The op types that read each tensor (`"graph output"` for the graph's outputs).
    pub consumers: HashMap<String, Vec<String>>,
    /// The row dims of numeric values of rank 3 or more (`[N, a, b]`), by name; every
    /// other numeric value is `[N, k]` (see `shape`).
    pub row_shapes: HashMap<String, Vec<usize>>,
    /// Values whose batch axis is the second, `[E, N, …]`, by name; their row dims are
    /// `[E, …]`. skl2onnx averages a bagging ensemble's members so: each member's
    /// output reshaped to `[1, N, …]`, concatenated on axis 0 and reduced over it. Only
    /// those two ops read such a value ([`ops::stacked`]).
    pub stacked: HashSet<String>,
    /// The estimator, its features (columns) and the number of raw scores.
    pub estimator: Option<(Estimator, Vec<usize>)>,
    /// The exporter (`producer_name`): skl2onnx graphs follow scikit-learn's arithmetic.
    pub producer: String,
}

impl Ctx {
    /// `Op` (domain `d`, opset `n`) node `name` — for messages.
    pub fn describe(&self, node: &NodeProto) -> String {
        let domain = node.domain.as_deref().unwrap_or("");
        let op = node.op_type.as_deref().unwrap_or("?");
        let opset = self.opset(domain);
        let domain = if domain.is_empty() { "ai.onnx" } else { domain };
        match node.name.as_deref() {
            Some(name) if !name.is_empty() => {
                format!("node `{name}` ({op}, domain {domain}, opset {opset})")
            }
            _ => format!("a {op} node (domain {domain}, opset {opset})"),
        }
    }

    pub fn opset(&self, domain: &str) -> i64 {
        let key = if domain == "ai.onnx" { "" } else { domain };
        self.opsets.get(key).copied().unwrap_or(0)
    }

    pub fn node_error(&self, node: &NodeProto, message: impl Into<String>) -> ImportError {
        ImportError::Field {
            format: FORMAT,
            field: self.describe(node),
            message: message.into(),
        }
    }

    pub fn unsupported(&self, node: &NodeProto, why: &str) -> ImportError {
        ImportError::Unsupported {
            format: FORMAT,
            what: self.describe(node),
            hint: if why.is_empty() {
                String::new()
            } else {
                format!(": {why}")
            },
        }
    }

    /// The value of input `i` of `node`.
    pub fn input(&self, node: &NodeProto, i: usize) -> Result<&Value, ImportError> {
        let name = node
            .input
            .get(i)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| self.node_error(node, format!("input {i} is missing")))?;
        self.values
            .get(name)
            .ok_or_else(|| self.node_error(node, format!("reads `{name}`, which nothing produces")))
    }

    /// Whether `node` has a (non-empty) input `i`.
    pub fn has_input(&self, node: &NodeProto, i: usize) -> bool {
        node.input.get(i).is_some_and(|n| !n.is_empty())
    }

    pub fn set_value(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_string(), value);
    }

    /// Evaluates `expr` for one row in which column `input` is `x`; `None` when the
    /// expression reads any other input.
    pub fn eval_at(&self, expr: &Expr, input: usize, x: f64) -> Option<f64> {
        expr.eval_row(&|c| {
            if c == input {
                Some(x)
            } else if c >= self.inputs.len() {
                self.eval_at(&self.derived[c - self.inputs.len()].expr, input, x)
            } else {
                None
            }
        })
    }

    pub fn set_output(&mut self, node: &NodeProto, i: usize, value: Value) {
        if let Some(name) = node.output.get(i).filter(|n| !n.is_empty()) {
            self.values.insert(name.clone(), value);
        }
    }

    /// A column holding `expr`: the expression itself when it is already a column,
    /// otherwise a new derived column.
    pub fn column_of(&mut self, expr: Expr, name: &str) -> usize {
        if let Expr::Column { index } = expr {
            return index;
        }
        let mut candidate = name.to_string();
        let mut n = 1;
        while self.inputs.iter().any(|i| i.name == candidate)
            || self.derived.iter().any(|d| d.name == candidate)
        {
            n += 1;
            candidate = format!("{name}~{n}");
        }
        self.derived.push(Derived {
            name: candidate,
            expr,
        });
        self.inputs.len() + self.derived.len() - 1
    }

    /// Every column of a numeric value as a column reference, materialising expressions
    /// as derived columns (named after the tensor).
    pub fn columns(&mut self, cols: Vec<Expr>, tensor: &str) -> Vec<Expr> {
        let n = cols.len();
        cols.into_iter()
            .enumerate()
            .map(|(j, e)| {
                let name = if n == 1 {
                    tensor.to_string()
                } else {
                    format!("{tensor}[{j}]")
                };
                if matches!(e, Expr::Column { .. } | Expr::Const { .. }) {
                    e
                } else {
                    Expr::column(self.column_of(e, &name))
                }
            })
            .collect()
    }

    /// The column an estimator feature reads. A float32 cast of a column is dropped when
    /// the estimator rounds its features to float32 itself.
    pub fn feature(&mut self, expr: Expr, rounds_to_f32: bool, name: &str) -> usize {
        let expr = match expr {
            Expr::Unary {
                f: UnaryFn::Cast,
                x,
                precision: Precision::F32,
            } if rounds_to_f32 && matches!(*x, Expr::Column { .. }) => *x,
            other => other,
        };
        self.column_of(expr, name)
    }

    /// An identity estimator over `cols` (materialised as columns named by `name`):
    /// the raw scores are the columns themselves.
    pub fn identity_over(
        &mut self,
        cols: Vec<Expr>,
        elem: Elem,
        name: impl Fn(usize) -> String,
    ) -> (Estimator, Vec<usize>) {
        let n = cols.len();
        let columns = cols
            .into_iter()
            .enumerate()
            .map(|(j, e)| self.column_of(e, &name(j)))
            .collect();
        (identity(n, elem.precision()), columns)
    }

    /// The code of level `name` of string input `input`, adding the level if new.
    pub fn level_code(&mut self, input: usize, name: &str) -> f64 {
        let levels = &mut self.levels[input];
        match levels.iter().position(|l| l == name) {
            Some(code) => code as f64,
            None => {
                levels.push(name.to_string());
                (levels.len() - 1) as f64
            }
        }
    }
}

fn translate(model: &ModelProto) -> Result<Model, ImportError> {
    let graph = model.graph.as_ref().ok_or_else(|| ImportError::Parse {
        format: FORMAT,
        message: "the file has no graph".into(),
    })?;
    if graph.node.len() > MAX_NODES {
        return Err(ImportError::Parse {
            format: FORMAT,
            message: format!(
                "the graph has {} nodes; ferry reads at most {MAX_NODES}",
                graph.node.len()
            ),
        });
    }
    let opsets = model
        .opset_import
        .iter()
        .map(|o| (o.domain.clone().unwrap_or_default(), o.version.unwrap_or(0)))
        .map(|(d, v)| (if d == "ai.onnx" { String::new() } else { d }, v))
        .collect();
    let mut ctx = Ctx {
        opsets,
        inputs: Vec::new(),
        derived: Vec::new(),
        levels: Vec::new(),
        values: HashMap::new(),
        row_shapes: HashMap::new(),
        stacked: HashSet::new(),
        consumers: HashMap::new(),
        estimator: None,
        producer: model.producer_name.clone().unwrap_or_default(),
    };

    for init in &graph.initializer {
        let name = init.name.clone().unwrap_or_default();
        let t = tensor::tensor(init, &format!("initializer `{name}`"))?;
        ctx.values.insert(name, Value::Const(t));
    }
    for input in &graph.input {
        let name = input.name.clone().unwrap_or_default();
        if ctx.values.contains_key(&name) {
            continue; // an initializer listed as an input (old exporters)
        }
        let value = graph_input(&mut ctx, input)?;
        ctx.values.insert(name, value);
    }

    for node in &graph.node {
        for input in &node.input {
            ctx.consumers
                .entry(input.clone())
                .or_default()
                .push(node.op_type.clone().unwrap_or_default());
        }
    }
    for output in &graph.output {
        if let Some(name) = &output.name {
            ctx.consumers
                .entry(name.clone())
                .or_default()
                .push("graph output".into());
        }
    }
    for node in order(graph)? {
        ops::apply(&mut ctx, node)?;
    }

    let outputs: Vec<(&str, Value)> = graph
        .output
        .iter()
        .filter_map(|o| o.name.as_deref())
        .map(|n| {
            ctx.values
                .get(n)
                .map(|v| (n, v.clone()))
                .ok_or_else(|| ImportError::Parse {
                    format: FORMAT,
                    message: format!("graph output `{n}` is produced by no node"),
                })
        })
        .collect::<Result<_, _>>()?;
    let (task, transform) = outputs_to_task(&mut ctx, &outputs)?;

    let (estimator, features) = ctx
        .estimator
        .take()
        .ok_or_else(|| ImportError::Unsupported {
            format: FORMAT,
            what: "a graph without an estimator".into(),
            hint: String::new(),
        })?;
    let Ctx {
        mut inputs,
        derived,
        levels,
        ..
    } = ctx;
    for (input, levels) in inputs.iter_mut().zip(levels) {
        if input.dtype == DType::Categorical {
            input.levels = Some(levels);
        }
    }
    let identity =
        features.len() == inputs.len() && features.iter().enumerate().all(|(j, c)| j == *c);
    let producer = model.producer_name.clone().unwrap_or_default();
    Ok(Model {
        ir_version: IR_VERSION,
        source: Source {
            format: FORMAT.into(),
            library: if producer.is_empty() {
                "onnx".into()
            } else {
                producer
            },
            library_version: model.producer_version.clone().filter(|v| !v.is_empty()),
            objective: None,
        },
        inputs,
        derived,
        features: (!identity).then_some(features),
        estimator,
        transform,
        task,
    })
}

/// One graph input → IR inputs. A `[N, k]` tensor becomes `k` inputs `name_0…`; a
/// `[N]` or `[N, 1]` tensor one input with the tensor's name.
fn graph_input(ctx: &mut Ctx, input: &proto::ValueInfoProto) -> Result<Value, ImportError> {
    use proto::tensor_proto::DataType;
    use proto::type_proto::Value as TypeValue;
    let name = input.name.clone().unwrap_or_default();
    let bad = |message: String| ImportError::Field {
        format: FORMAT,
        field: format!("graph input `{name}`"),
        message,
    };
    let t = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(TypeValue::TensorType(t)) => t,
        Some(TypeValue::MapType(m)) => return map_input(m).map_err(bad),
        _ => return Err(bad("expected a tensor or a map input".into())),
    };
    let dims: Vec<Option<i64>> = t
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(proto::tensor_shape_proto::dimension::Value::DimValue(v)) => Some(v),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let width = match dims.as_slice() {
        [] | [_] => 1,
        [_, Some(k)] if *k >= 1 && (*k as usize) <= MAX_COLUMNS => *k as usize,
        [_, Some(k)] => return Err(bad(format!("has {k} columns; expected 1 to {MAX_COLUMNS}"))),
        [_, None] => {
            return Err(bad(
                "has an unknown number of columns; ferry needs the second dimension fixed".into(),
            ))
        }
        _ => {
            return Err(bad(format!(
                "has {} dimensions; ferry reads [rows] or [rows, columns] inputs",
                dims.len()
            )))
        }
    };
    let elem_type = t.elem_type.unwrap_or(0);
    let (elem, dtype) = match DataType::try_from(elem_type) {
        Ok(DataType::Float) => (Elem::F32, DType::Float32),
        Ok(DataType::Double) => (Elem::F64, DType::Float64),
        Ok(DataType::Int64 | DataType::Int32) => (Elem::Int, DType::Int64),
        Ok(DataType::Bool) => (Elem::Int, DType::Bool),
        Ok(DataType::String) => (Elem::Str, DType::Categorical),
        _ => {
            return Err(bad(format!(
                "has element type {elem_type}; expected float, double, int64, bool or string"
            )))
        }
    };
    let mut cols = Vec::with_capacity(width);
    let mut strs = Vec::new();
    for j in 0..width {
        let column_name = if width == 1 {
            name.clone()
        } else {
            format!("{name}_{j}")
        };
        if ctx.inputs.iter().any(|i| i.name == column_name) {
            return Err(bad(format!("column name `{column_name}` is used twice")));
        }
        let index = ctx.inputs.len();
        ctx.inputs.push(Input {
            name: column_name,
            dtype,
            nullable: true,
            levels: None,
            unseen: if elem == Elem::Str {
                Unseen::Other
            } else {
                Unseen::Missing
            },
            range: None,
        });
        ctx.levels.push(Vec::new());
        match elem {
            Elem::Str => strs.push(StrCol {
                input: index,
                subst: Vec::new(),
                unseen: None,
            }),
            // A float input is float32: every use sees the rounded value.
            Elem::F32 => cols.push(Expr::unary(
                UnaryFn::Cast,
                Expr::column(index),
                Precision::F32,
            )),
            _ => cols.push(Expr::column(index)),
        }
    }
    Ok(if elem == Elem::Str {
        Value::Str(strs)
    } else {
        Value::Num { cols, elem }
    })
}

/// A map input `map(string|int64, float|double)`: each key a column, named when a
/// DictVectorizer or CastMap lists the keys.
fn map_input(m: &proto::type_proto::Map) -> Result<Value, String> {
    use proto::tensor_proto::DataType;
    use proto::type_proto::Value as TypeValue;
    let string_keys = match DataType::try_from(m.key_type.unwrap_or(0)) {
        Ok(DataType::String) => true,
        Ok(DataType::Int64) => false,
        _ => return Err("a map input needs string or int64 keys".into()),
    };
    let value = m.value_type.as_ref().and_then(|t| t.value.as_ref());
    let elem = match value {
        Some(TypeValue::TensorType(t)) => match DataType::try_from(t.elem_type.unwrap_or(0)) {
            Ok(DataType::Float) => Elem::F32,
            Ok(DataType::Double) => Elem::F64,
            Ok(DataType::Int64 | DataType::Int32) => Elem::Int,
            _ => return Err("a map input needs float, double or integer values".into()),
        },
        _ => return Err("a map input needs tensor values".into()),
    };
    Ok(Value::Map { string_keys, elem })
}

/// The column of map key `key`: an input named after it (created on first use). A
/// key the row's map lacks is 0, as DictVectorizer and CastMap read it; in a table
/// that is an empty cell.
pub(crate) fn map_column(ctx: &mut Ctx, key: &str, elem: Elem) -> Expr {
    let index = match ctx.inputs.iter().position(|i| i.name == key) {
        Some(i) => i,
        None => {
            ctx.inputs.push(Input {
                name: key.to_string(),
                dtype: match elem {
                    Elem::F32 => DType::Float32,
                    Elem::Int => DType::Int64,
                    _ => DType::Float64,
                },
                nullable: true,
                levels: None,
                unseen: Unseen::Missing,
                range: None,
            });
            ctx.levels.push(Vec::new());
            ctx.inputs.len() - 1
        }
    };
    let x = Expr::column(index);
    let x = if elem == Elem::F32 {
        Expr::unary(UnaryFn::Cast, x, Precision::F32)
    } else {
        x
    };
    Expr::If {
        cond: Box::new(Expr::IsMissing {
            x: Box::new(Expr::column(index)),
        }),
        then: Box::new(Expr::constant(0.0)),
        otherwise: Box::new(x),
    }
}

/// Nodes in an order where every input is produced before it is read (Kahn's algorithm);
/// a cycle is an error.
fn order(graph: &proto::GraphProto) -> Result<Vec<&NodeProto>, ImportError> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, node) in graph.node.iter().enumerate() {
        for out in node.output.iter().filter(|o| !o.is_empty()) {
            if producer.insert(out.as_str(), i).is_some() {
                return Err(ImportError::Parse {
                    format: FORMAT,
                    message: format!("tensor `{out}` is produced by two nodes"),
                });
            }
        }
    }
    let n = graph.node.len();
    let mut waiting = vec![0usize; n];
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, node) in graph.node.iter().enumerate() {
        for input in &node.input {
            if let Some(&p) = producer.get(input.as_str()) {
                waiting[i] += 1;
                readers[p].push(i);
            }
        }
    }
    let mut ready: Vec<usize> = (0..n).rev().filter(|i| waiting[*i] == 0).collect();
    let mut out = Vec::with_capacity(n);
    while let Some(i) = ready.pop() {
        out.push(&graph.node[i]);
        for &r in readers[i].iter().rev() {
            waiting[r] -= 1;
            if waiting[r] == 0 {
                ready.push(r);
            }
        }
    }
    if out.len() != n {
        return Err(ImportError::Parse {
            format: FORMAT,
            message: "the graph has a cycle".into(),
        });
    }
    Ok(out)
}

/// Reads the task from the graph outputs: a label and probabilities (classifier), or one
/// numeric output (regressor).
fn outputs_to_task(
    ctx: &mut Ctx,
    outputs: &[(&str, Value)],
) -> Result<(Task, Transform), ImportError> {
    // A network's last activation that reached the output: the model's transform.
    if ctx.estimator.is_none() {
        if let Some((name, logits, elem, transform)) = outputs.iter().find_map(|(n, v)| match v {
            Value::Lazy {
                logits,
                elem,
                transform,
            } => Some((*n, logits.clone(), *elem, *transform)),
            _ => None,
        }) {
            ctx.estimator = Some(ctx.identity_over(logits, elem, |j| format!("{name}[{j}]")));
            let task = match label_of(outputs) {
                Some((classes, column)) => classification(classes, column),
                None => Task::Regression,
            };
            return Ok((task, transform));
        }
    }
    let scores = outputs.iter().find_map(|(_, v)| match v {
        Value::Scores(s) | Value::Picked { scores: s, .. } => Some(s.clone()),
        Value::Lazy { transform, .. } => Some(Scores {
            transform: *transform,
            classes: None,
        }),
        _ => None,
    });
    match (scores, label_of(outputs)) {
        (Some(scores), label) => {
            let column = label.as_ref().and_then(|(_, c)| *c);
            let task = match scores.classes.or(label.map(|(classes, _)| classes)) {
                Some(classes) => classification(classes, column),
                None => Task::Regression,
            };
            Ok((task, scores.transform))
        }
        // The class scores computed column by column after the estimator (an SVM's
        // one-vs-rest decision function): the estimator is the identity over them.
        (None, Some((classes, column))) => {
            let scores = outputs.iter().find_map(|(name, v)| match v {
                Value::Num { cols, elem }
                    if cols.len() == classes.len() && ctx.estimator.is_none() =>
                {
                    Some((*name, cols.clone(), *elem))
                }
                _ => None,
            });
            match scores {
                Some((name, cols, elem)) => {
                    ctx.estimator = Some(ctx.identity_over(cols, elem, |j| format!("{name}[{j}]")));
                    Ok((classification(classes, column), Transform::Identity))
                }
                None => Err(ImportError::Unsupported {
                    format: FORMAT,
                    what: "a classifier whose graph outputs only the label".into(),
                    hint: " (ferry needs one score or probability per class too)".into(),
                }),
            }
        }
        (None, None) => {
            // A regressor whose prediction is computed column by column (a network's
            // last layer, a pipeline ending in arithmetic): the estimator is the identity
            // over that column.
            let numeric: Vec<(&str, Vec<Expr>, Elem)> = outputs
                .iter()
                .filter_map(|(n, v)| match v {
                    Value::Num { cols, elem } => Some((*n, cols.clone(), *elem)),
                    _ => None,
                })
                .collect();
            match numeric.as_slice() {
                [(name, cols, elem)] if ctx.estimator.is_none() => {
                    let n = cols.len();
                    ctx.estimator = Some(ctx.identity_over(cols.clone(), *elem, |j| {
                        if n == 1 {
                            name.to_string()
                        } else {
                            format!("{name}[{j}]")
                        }
                    }));
                    Ok((Task::Regression, Transform::Identity))
                }
                _ => Err(ImportError::Unsupported {
                    format: FORMAT,
                    what: format!(
                        "graph outputs {}",
                        outputs.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                    ),
                    hint: " (ferry reads a classifier's label and probabilities, or a regressor's predictions)".into(),
                }),
            }
        }
    }
}

/// The classes a graph's label output names, with its label column if any.
fn label_of(outputs: &[(&str, Value)]) -> Option<(Vec<String>, Option<usize>)> {
    outputs.iter().find_map(|(_, v)| match v {
        Value::Label { classes, column } => Some((classes.clone(), *column)),
        _ => None,
    })
}

fn classification(classes: Vec<String>, label_column: Option<usize>) -> Task {
    Task::Classification {
        classes,
        label_order: None,
        label_column,
    }
}

/// A linear estimator that passes `n` features through as raw scores (evaluated as
/// that selection: see [`Linear::is_identity`]).
pub(crate) fn identity(n: usize, precision: Precision) -> Estimator {
    Estimator::Linear(Linear {
        coefficients: (0..n)
            .map(|k| (0..n).map(|j| if j == k { 1.0 } else { 0.0 }).collect())
            .collect(),
        intercepts: vec![0.0; n],
        score_precision: precision,
    })
}

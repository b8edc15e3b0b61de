//! Operators, one function each, dispatched on `(domain, op_type)`. Preprocessing ops
//! turn numeric columns into expressions (materialised as derived columns); the ops after
//! the estimator (casts, normalisers, ZipMap, argmax → class) only reshape its output.

use ferry_ir::{BinaryFn, CompareOp, Expr, Precision, Transform, UnaryFn};

use super::estimators;
use super::proto::NodeProto;
use super::shape;
use super::tensor::{Attrs, Data, Tensor};
use super::{Ctx, Elem, Scores, StrCol, Value, MAX_COLUMNS};
use crate::ImportError;

/// Interprets one node.
pub(crate) fn apply(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let domain = node.domain.as_deref().unwrap_or("");
    let op = node.op_type.as_deref().unwrap_or("");
    if node.input.iter().any(|name| ctx.stacked.contains(name)) {
        return stacked(ctx, node, domain, op);
    }
    if matches!(domain, "" | "ai.onnx") && super::fold::try_fold(ctx, node, op)? {
        return Ok(());
    }
    // A row of shape [1, k] (or [k, 1]) is read flat as before by every op; one whose
    // element pairing depends on its shape only by the ops that honour it.
    let layered = (0..node.input.len())
        .filter_map(|i| shape::row_dims(ctx, node, i))
        .find(|dims| shape::is_layered(dims));
    if let Some(dims) = layered {
        if !matches!(domain, "" | "ai.onnx") || !shape::handles_row_shapes(op) {
            return Err(ctx.unsupported(
                node,
                &format!(
                    "its input is a per-row tensor of shape {}",
                    shape::show(&dims)
                ),
            ));
        }
    }
    dispatch(ctx, node, domain, op)?;
    // Elementwise ops keep the shape of their input.
    if let Some(dims) = shape::row_dims(ctx, node, 0) {
        if shape::KEEPS_SHAPE.contains(&op) {
            shape::set_row_dims(ctx, node, dims);
        }
    }
    Ok(())
}

/// An op reading values with the batch axis second (`[E, N, …]`, see [`Ctx::stacked`]):
/// a Concat on axis 0 of such values appends their members; a reduction over axis 0
/// reduces over the members (for ferry, the first row dim).
pub(crate) fn stacked(
    ctx: &mut Ctx,
    node: &NodeProto,
    domain: &str,
    op: &str,
) -> Result<(), ImportError> {
    let refuse = |ctx: &Ctx, what: &str| {
        Err(ctx.unsupported(
            node,
            &format!(
                "{what} of a tensor whose batch axis is the second (bagging's Reshape to \
                 [1, -1, …], QDA's Concat on axis 0); ferry reads such a tensor only in a Concat \
                 on axis 0, a reduction over axis 0, a Reshape to [E, -1] and a Transpose [1, 0]"
            ),
        ))
    };
    if !matches!(domain, "" | "ai.onnx") {
        return refuse(ctx, "an ai.onnx.ml op");
    }
    let attrs = Attrs::new(node, ctx);
    let (axis, keepdims) = (attrs.int_or("axis", 0)?, attrs.int_or("keepdims", 1)? != 0);
    match op {
        "Concat" => {
            let all_stacked = node.input.iter().all(|name| ctx.stacked.contains(name));
            if axis != 0 || !all_stacked {
                return refuse(ctx, "a Concat on another axis, or with other tensors,");
            }
            let dims: Vec<Vec<usize>> = (0..node.input.len())
                .map(|i| shape::row_dims(ctx, node, i).unwrap_or_default())
                .collect();
            let rest = &dims[0][1..];
            if dims.iter().any(|d| d.is_empty() || &d[1..] != rest) {
                return Err(ctx.node_error(node, "the stacked tensors differ in shape"));
            }
            concat(ctx, node)?;
            let mut out = vec![dims.iter().map(|d| d[0]).sum()];
            out.extend_from_slice(rest);
            shape::set_row_dims(ctx, node, out);
        }
        // [E, N, 1] (a Concat of [N, 1] values on axis 0) to [E, N]: the same elements,
        // still held as [E, N, 1].
        "Reshape" => {
            let dims = shape::row_dims(ctx, node, 0).unwrap_or_default();
            let target = ints_input_or(ctx, node, &attrs, (1, "shape"))?.unwrap_or_default();
            match (dims.as_slice(), target.as_slice()) {
                ([e, 1], [t, -1]) if *t == *e as i64 => {
                    pass(ctx, node)?;
                    shape::set_row_dims(ctx, node, vec![*e, 1]);
                }
                _ => return refuse(ctx, &format!("a Reshape to {target:?}")),
            }
        }
        // [E, N] to [N, E]: the batch back in front, a row of E values.
        "Transpose" => {
            let dims = shape::row_dims(ctx, node, 0).unwrap_or_default();
            if attrs.ints("perm") != [1, 0] || !matches!(dims.as_slice(), [_, 1]) {
                return refuse(ctx, "a Transpose other than [E, N] to [N, E]");
            }
            pass(ctx, node)?;
            shape::set_row_dims(ctx, node, Vec::new());
            return Ok(());
        }
        "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceProd" => {
            let axes = ints_input_or(ctx, node, &attrs, (1, "axes"))?.unwrap_or_default();
            let rank = shape::row_dims(ctx, node, 0).map_or(0, |d| d.len()) as i64 + 1;
            if !matches!(axes.as_slice(), [a] if *a == 0 || *a == -rank) {
                return refuse(ctx, &format!("a reduction over axes {axes:?}"));
            }
            let how = match op {
                "ReduceSum" => Reduce::Sum,
                "ReduceMean" => Reduce::Mean,
                "ReduceMax" => Reduce::Max,
                "ReduceMin" => Reduce::Min,
                _ => Reduce::Prod,
            };
            // Axis 0 of [E, N, …] is the members: axis 1 of ferry's [N, E, …].
            reduce_over(ctx, node, how, &[1])?;
        }
        _ => return refuse(ctx, op),
    }
    if matches!(op, "Concat" | "Reshape") || keepdims {
        if let Some(name) = node.output.first() {
            ctx.stacked.insert(name.clone());
        }
    }
    Ok(())
}

fn dispatch(ctx: &mut Ctx, node: &NodeProto, domain: &str, op: &str) -> Result<(), ImportError> {
    match (domain, op) {
        ("ai.onnx.ml", "LinearRegressor") => estimators::linear_regressor(ctx, node),
        ("ai.onnx.ml", "LinearClassifier") => estimators::linear_classifier(ctx, node),
        ("ai.onnx.ml", "TreeEnsembleRegressor") => estimators::tree_regressor(ctx, node),
        ("ai.onnx.ml", "TreeEnsembleClassifier") => estimators::tree_classifier(ctx, node),
        ("ai.onnx.ml", "TreeEnsemble") => estimators::tree_ensemble_v5(ctx, node),
        ("ai.onnx.ml", "SVMRegressor") => super::svm::svm_regressor(ctx, node),
        ("ai.onnx.ml", "SVMClassifier") => super::svm::svm_classifier(ctx, node),
        ("ai.onnx.ml", "Scaler") => scaler(ctx, node),
        ("ai.onnx.ml", "Imputer") => imputer(ctx, node),
        ("ai.onnx.ml", "Normalizer") => normalizer(ctx, node),
        ("ai.onnx.ml", "Binarizer") => binarizer(ctx, node),
        ("ai.onnx.ml", "OneHotEncoder") => one_hot(ctx, node),
        ("ai.onnx.ml", "LabelEncoder") => label_encoder(ctx, node),
        ("ai.onnx.ml", "ArrayFeatureExtractor") => array_feature_extractor(ctx, node),
        ("ai.onnx.ml", "FeatureVectorizer") => concat(ctx, node),
        ("ai.onnx.ml", "ZipMap") => pass_scores(ctx, node),
        ("ai.onnx.ml", "DictVectorizer") => dict_vectorizer(ctx, node),
        ("ai.onnx.ml", "CastMap") => cast_map(ctx, node),
        ("" | "ai.onnx", "Identity" | "Flatten") => pass(ctx, node),
        ("" | "ai.onnx", "Reshape" | "Squeeze" | "Unsqueeze") => reshape(ctx, node, op),
        ("" | "ai.onnx", "Cast") => cast(ctx, node),
        ("" | "ai.onnx", "Concat") => concat(ctx, node),
        ("" | "ai.onnx", "Gather") => gather(ctx, node),
        ("" | "ai.onnx", "Slice") => slice(ctx, node),
        ("" | "ai.onnx", "Reciprocal") => reciprocal(ctx, node),
        ("" | "ai.onnx", "Sign") => sign(ctx, node),
        ("" | "ai.onnx", "Add") => arithmetic(ctx, node, BinaryFn::Add),
        ("" | "ai.onnx", "Sum") => sum(ctx, node),
        ("" | "ai.onnx", "Sub") => arithmetic(ctx, node, BinaryFn::Sub),
        ("" | "ai.onnx", "Mul") => arithmetic(ctx, node, BinaryFn::Mul),
        ("" | "ai.onnx", "Div") => arithmetic(ctx, node, BinaryFn::Div),
        ("" | "ai.onnx", "Max") => arithmetic(ctx, node, BinaryFn::Max),
        ("" | "ai.onnx", "Min") => arithmetic(ctx, node, BinaryFn::Min),
        ("" | "ai.onnx", "Pow") => arithmetic(ctx, node, BinaryFn::Pow),
        ("" | "ai.onnx", "MatMul") => matmul(ctx, node, false),
        ("" | "ai.onnx", "Gemm") => matmul(ctx, node, true),
        ("" | "ai.onnx", "Relu") => unary(ctx, node, UnaryFn::Relu),
        ("" | "ai.onnx", "Tanh") => unary(ctx, node, UnaryFn::Tanh),
        ("" | "ai.onnx", "Exp") => unary(ctx, node, UnaryFn::Exp),
        ("" | "ai.onnx", "Log") => unary(ctx, node, UnaryFn::Ln),
        ("" | "ai.onnx", "Abs") => unary(ctx, node, UnaryFn::Abs),
        ("" | "ai.onnx", "Neg") => unary(ctx, node, UnaryFn::Neg),
        ("" | "ai.onnx", "Sqrt") => unary(ctx, node, UnaryFn::Sqrt),
        ("" | "ai.onnx", "Floor") => unary(ctx, node, UnaryFn::Floor),
        ("" | "ai.onnx", "Ceil") => unary(ctx, node, UnaryFn::Ceil),
        ("" | "ai.onnx", "Sigmoid") => activation(ctx, node, Transform::Logistic { scale: 1.0 }),
        ("" | "ai.onnx", "Softmax") => activation(ctx, node, Transform::Softmax),
        ("" | "ai.onnx", "ArgMax") => argmax(ctx, node),
        ("" | "ai.onnx", "ArgMin") => argmin(ctx, node),
        ("" | "ai.onnx", "TopK") => top_k(ctx, node),
        ("" | "ai.onnx", "CumSum") => cum_sum(ctx, node),
        ("" | "ai.onnx", "GatherElements") => gather_elements(ctx, node),
        ("" | "ai.onnx", "Clip") => clip(ctx, node),
        ("" | "ai.onnx", "Split") => split(ctx, node),
        ("" | "ai.onnx", "Shape") => shape(ctx, node),
        ("" | "ai.onnx", "ConstantOfShape") => constant_of_shape(ctx, node),
        ("" | "ai.onnx", "ReduceSum") => reduce(ctx, node, Reduce::Sum),
        ("" | "ai.onnx", "ReduceProd") => reduce(ctx, node, Reduce::Prod),
        ("" | "ai.onnx", "ReduceMean") => reduce(ctx, node, Reduce::Mean),
        ("" | "ai.onnx", "ReduceMax") => reduce(ctx, node, Reduce::Max),
        ("" | "ai.onnx", "ReduceMin") => reduce(ctx, node, Reduce::Min),
        ("" | "ai.onnx", "ReduceLogSumExp") => reduce(ctx, node, Reduce::LogSumExp),
        ("" | "ai.onnx", "Where") => where_(ctx, node),
        ("" | "ai.onnx", "Equal") => compare(ctx, node, CompareOp::Eq),
        ("" | "ai.onnx", "Less") => compare(ctx, node, CompareOp::Lt),
        ("" | "ai.onnx", "LessOrEqual") => compare(ctx, node, CompareOp::Le),
        ("" | "ai.onnx", "Greater") => compare(ctx, node, CompareOp::Gt),
        ("" | "ai.onnx", "GreaterOrEqual") => compare(ctx, node, CompareOp::Ge),
        ("" | "ai.onnx", "IsNaN") => is_nan(ctx, node),
        ("" | "ai.onnx", "Not") => not(ctx, node),
        ("" | "ai.onnx", "Constant") => constant(ctx, node),
        _ => Err(ctx.unsupported(node, "ferry has no translation for this operator")),
    }
}

/// The numeric columns of input `i`, with the precision of their element type.
fn num(ctx: &mut Ctx, node: &NodeProto, i: usize) -> Result<(Vec<Expr>, Elem), ImportError> {
    // Computing with an estimator's scores: the estimator becomes columns.
    if matches!(
        ctx.input(node, i)?,
        Value::Scores(_) | Value::Picked { .. } | Value::Complement(_)
    ) {
        super::demote::demote(ctx, node)?;
    }
    match ctx.input(node, i)? {
        Value::Num { cols, elem } => Ok((cols.clone(), *elem)),
        Value::Const(t) => match &t.data {
            Data::Num(v) => Ok((
                v.iter().map(|x| Expr::constant(*x)).collect(),
                Elem::float(t.float32),
            )),
            Data::Str(_) => {
                Err(ctx.unsupported(node, "a string constant where numbers are expected"))
            }
        },
        Value::Lazy {
            logits,
            elem,
            transform,
        } => Ok((lazy_columns(logits, *transform, *elem), *elem)),
        _ => Err(ctx.unsupported(
            node,
            "its input is the model's output; ferry reads graphs whose estimator comes last",
        )),
    }
}

fn output_num(ctx: &mut Ctx, node: &NodeProto, cols: Vec<Expr>, elem: Elem) {
    let name = node.output.first().cloned().unwrap_or_default();
    let cols = ctx.columns(cols, &name);
    ctx.set_output(node, 0, Value::Num { cols, elem });
}

/// Identity-like ops: the value passes unchanged (shapes are per-row already).
fn pass(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let value = ctx.input(node, 0)?.clone();
    ctx.set_output(node, 0, value);
    Ok(())
}

/// Reshape, Squeeze, Unsqueeze: the elements stay as they are (row-major); a shape of
/// rank 3 or more is recorded for the ops that broadcast or reduce it. Anything that
/// moves the batch axis is refused.
fn reshape(ctx: &mut Ctx, node: &NodeProto, op: &str) -> Result<(), ImportError> {
    // A bagging member (`[1, -1, …]`, see `Ctx::stacked`) is computed with: an
    // estimator's scores become columns.
    if op == "Reshape"
        && matches!(
            ctx.input(node, 0)?,
            Value::Scores(_) | Value::Picked { .. } | Value::Complement(_)
        )
    {
        let attrs = Attrs::new(node, ctx);
        let target = ints_input_or(ctx, node, &attrs, (1, "shape"))?.unwrap_or_default();
        if target.starts_with(&[1, -1]) {
            super::demote::demote(ctx, node)?;
        }
    }
    pass(ctx, node)?;
    let len = match ctx.input(node, 0)? {
        Value::Num { cols, .. } => cols.len(),
        _ => return Ok(()),
    };
    let dims = shape::row_dims(ctx, node, 0).unwrap_or_else(|| vec![len]);
    let attrs = Attrs::new(node, ctx);
    let new_dims: Option<Vec<usize>> = match op {
        "Reshape" => {
            let target = ints_input_or(ctx, node, &attrs, (1, "shape"))?.unwrap_or_default();
            // [-1 or 0 (the batch), positive dims…] whose product is the row's length;
            // other targets ([-1] of an [N, 1] value, …) keep the value as it is.
            match target.split_first() {
                // [1, -1, dims…]: the batch becomes the second axis (a bagging member).
                Some((1, [-1, rest @ ..]))
                    if !rest.is_empty()
                        && rest.iter().all(|d| *d > 0)
                        && rest.iter().product::<i64>() == len as i64
                        && !shape::is_layered(&dims) =>
                {
                    if let Some(name) = node.output.first() {
                        ctx.stacked.insert(name.clone());
                    }
                    let mut out = vec![1];
                    out.extend(rest.iter().map(|d| *d as usize));
                    Some(out)
                }
                Some((&(-1 | 0), rest))
                    if rest.iter().all(|d| *d > 0)
                        && rest.iter().product::<i64>() == len as i64 =>
                {
                    Some(rest.iter().map(|d| *d as usize).collect())
                }
                _ if shape::is_layered(&dims) => {
                    return Err(ctx.unsupported(
                        node,
                        &format!("a reshape of a {} tensor to {target:?}", shape::show(&dims)),
                    ))
                }
                _ => None,
            }
        }
        _ => {
            let axes = ints_input_or(ctx, node, &attrs, (1, "axes"))?.unwrap_or_default();
            let rank = dims.len() as i64 + 1;
            let out_rank = if op == "Unsqueeze" {
                rank + axes.len() as i64
            } else {
                rank
            };
            let axes: Vec<i64> = axes
                .iter()
                .map(|a| if *a < 0 { a + out_rank } else { *a })
                .collect();
            if axes.contains(&0) {
                return Err(ctx.unsupported(node, &format!("{op} of the batch axis")));
            }
            if op == "Unsqueeze" {
                let mut out = dims.clone();
                let mut sorted = axes.clone();
                sorted.sort_unstable();
                for a in sorted {
                    let at = (a - 1) as usize;
                    if at > out.len() {
                        return Err(ctx.node_error(node, format!("axis {a} is out of range")));
                    }
                    out.insert(at, 1);
                }
                Some(out)
            } else if axes.is_empty() {
                Some(dims.iter().copied().filter(|d| *d != 1).collect())
            } else {
                Some(
                    dims.iter()
                        .enumerate()
                        .filter(|(k, _)| !axes.contains(&(*k as i64 + 1)))
                        .map(|(_, d)| *d)
                        .collect(),
                )
            }
        }
    };
    shape::set_row_dims(ctx, node, new_dims.unwrap_or_default());
    Ok(())
}

/// Ops that keep the model's scores as they are (ZipMap, an L1 normaliser on
/// probabilities).
fn pass_scores(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    match ctx.input(node, 0)? {
        Value::Scores(_) | Value::Lazy { .. } => pass(ctx, node),
        Value::Num { .. } => {
            commit_scores(ctx, node)?;
            pass(ctx, node)
        }
        _ => Err(ctx.unsupported(node, "ZipMap is read on the model's probabilities only")),
    }
}

/// Input 0 of `node`, plain numeric columns that the graph treats as a classifier's
/// output (ArgMax picks the label from them, ZipMap names them by class), becomes the
/// model's raw scores: skl2onnx writes linear classifiers without `predict_proba`
/// (SGD, Perceptron) and any classifier on a double input as MatMul + Add, whose
/// scores are then the model's output as they are.
fn commit_scores(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (cols, elem) = num(ctx, node, 0)?;
    let name = node.input[0].clone();
    estimators::commit_columns(ctx, node, cols, elem, &name)?;
    ctx.set_value(
        &name,
        Value::Scores(Scores {
            transform: Transform::Identity,
            classes: None,
        }),
    );
    Ok(())
}

fn cast(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    use super::proto::tensor_proto::DataType;
    let to = Attrs::new(node, ctx).int_or("to", 0)?;
    let value = ctx.input(node, 0)?.clone();
    let to_type = DataType::try_from(to as i32).ok();
    let out = match value {
        Value::Num { cols, elem } => match to_type {
            Some(DataType::Float) => Value::Num {
                cols: cols
                    .into_iter()
                    .map(|c| {
                        if elem == Elem::F32 {
                            c
                        } else {
                            Expr::unary(UnaryFn::Cast, c, Precision::F32)
                        }
                    })
                    .collect(),
                elem: Elem::F32,
            },
            Some(DataType::Double) => Value::Num {
                cols,
                elem: Elem::F64,
            },
            Some(DataType::Bool) => Value::Num {
                cols: cols
                    .into_iter()
                    .map(|c| Expr::compare(CompareOp::Ne, c, Expr::constant(0.0)))
                    .collect(),
                elem: Elem::Int,
            },
            Some(DataType::Int64 | DataType::Int32) if elem == Elem::Int => {
                Value::Num { cols, elem }
            }
            // Float to integer truncates towards zero (C's conversion, as onnxruntime).
            Some(DataType::Int64 | DataType::Int32) => Value::Num {
                cols: cols
                    .into_iter()
                    .map(|c| {
                        let p = elem.precision();
                        Expr::if_else(
                            Expr::compare(CompareOp::Lt, c.clone(), Expr::constant(0.0)),
                            Expr::unary(UnaryFn::Ceil, c.clone(), p),
                            Expr::unary(UnaryFn::Floor, c, p),
                        )
                    })
                    .collect(),
                elem: Elem::Int,
            },
            _ => return Err(ctx.unsupported(node, &format!("a cast of numbers to type {to}"))),
        },
        // Labels and scores keep their meaning through casts (int64 labels, float probabilities).
        v @ (Value::Label { .. }
        | Value::Scores(_)
        | Value::Picked { .. }
        | Value::Lazy { .. }
        | Value::ArgMax) => v,
        Value::Str(cols) if to_type == Some(DataType::String) => Value::Str(cols),
        _ => return Err(ctx.unsupported(node, &format!("a cast to type {to}"))),
    };
    if let Value::Num { cols, elem } = out {
        output_num(ctx, node, cols, elem);
    } else {
        ctx.set_output(node, 0, out);
    }
    Ok(())
}

fn concat(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let n = node.input.len();
    // The binary probabilities skl2onnx builds for a logistic output: [1 - p, p].
    if n == 2 {
        if let (Value::Complement(a), Value::Lazy { .. } | Value::Scores(_)) =
            (ctx.input(node, 0)?, ctx.input(node, 1)?)
        {
            let scores = a.clone();
            ctx.set_output(node, 0, Value::Scores(scores));
            return Ok(());
        }
    }
    // Along the batch axis: [N, k] values stacked as [E, N, k] (QDA's per-class norms
    // are concatenated so, then reshaped to [E, N] and transposed).
    // (Stacked inputs come here from `stacked`, whose members are appended.)
    let stacked_inputs = node.input.iter().any(|name| ctx.stacked.contains(name));
    if Attrs::new(node, ctx).int_or("axis", 1)? == 0 && !stacked_inputs {
        let mut all = Vec::new();
        let mut width = None;
        for i in 0..n {
            if matches!(ctx.input(node, i)?, Value::Const(_) | Value::Str(_))
                || shape::row_dims(ctx, node, i).is_some()
            {
                return Err(ctx.unsupported(node, "a Concat along the batch axis of these values"));
            }
            let (cols, elem) = num(ctx, node, i)?;
            if width.is_some_and(|(w, _)| w != cols.len()) {
                return Err(ctx.node_error(node, "the values differ in width"));
            }
            width = Some((cols.len(), elem));
            all.extend(cols);
        }
        let (k, elem) = width.unwrap_or((0, Elem::F32));
        output_num(ctx, node, all, elem);
        shape::set_row_dims(ctx, node, vec![n, k]);
        if let Some(name) = node.output.first() {
            ctx.stacked.insert(name.clone());
        }
        return Ok(());
    }
    let first = ctx.input(node, 0)?.clone();
    match first {
        Value::Str(_) => {
            let mut all = Vec::new();
            for i in 0..n {
                match ctx.input(node, i)? {
                    Value::Str(cols) => all.extend(cols.iter().cloned()),
                    _ => {
                        return Err(ctx.unsupported(node, "a concatenation of strings and numbers"))
                    }
                }
            }
            ctx.set_output(node, 0, Value::Str(all));
        }
        _ => {
            let mut all = Vec::new();
            let mut elem = None;
            for i in 0..n {
                let (cols, e) = num(ctx, node, i)?;
                all.extend(cols);
                elem = Some(match elem {
                    None => e,
                    Some(prev) if prev == e => prev,
                    Some(_) => Elem::F64,
                });
            }
            if all.len() > MAX_COLUMNS {
                return Err(ctx.node_error(node, format!("more than {MAX_COLUMNS} columns")));
            }
            ctx.set_output(
                node,
                0,
                Value::Num {
                    cols: all,
                    elem: elem.unwrap_or(Elem::F32),
                },
            );
        }
    }
    Ok(())
}

/// Constant column indices from input `i` (Gather, ArrayFeatureExtractor).
fn indices(ctx: &Ctx, node: &NodeProto, i: usize, width: usize) -> Result<Vec<usize>, ImportError> {
    match ctx.input(node, i)? {
        Value::Const(t) => t
            .numbers()
            .ok_or_else(|| ctx.node_error(node, "indices must be integers"))?
            .iter()
            .map(|v| {
                let k = if *v < 0.0 { *v + width as f64 } else { *v };
                if k >= 0.0 && k < width as f64 && k.fract() == 0.0 {
                    Ok(k as usize)
                } else {
                    Err(ctx.node_error(node, format!("index {v} is out of range 0..{width}")))
                }
            })
            .collect(),
        _ => Err(ctx.unsupported(node, "indices computed at run time")),
    }
}

fn select(ctx: &mut Ctx, node: &NodeProto, data: usize, index: usize) -> Result<(), ImportError> {
    pick(ctx, node, data, &|ctx: &Ctx, width| {
        indices(ctx, node, index, width)
    })
}

/// Chooses column positions from a value's width.
type Choose<'a> = &'a dyn Fn(&Ctx, usize) -> Result<Vec<usize>, ImportError>;

/// Columns of input `data`, chosen by `which` from its width.
fn pick(
    ctx: &mut Ctx,
    node: &NodeProto,
    data: usize,
    which: Choose<'_>,
) -> Result<(), ImportError> {
    let value = ctx.input(node, data)?.clone();
    match value {
        Value::Str(cols) => {
            let picked = which(ctx, cols.len())?
                .into_iter()
                .map(|k| cols[k].clone())
                .collect();
            ctx.set_output(node, 0, Value::Str(picked));
        }
        Value::Num { cols, elem } => {
            let picked = which(ctx, cols.len())?
                .into_iter()
                .map(|k| cols[k].clone())
                .collect();
            ctx.set_output(node, 0, Value::Num { cols: picked, elem });
        }
        // One class's column of the scores (skl2onnx's binary RidgeClassifier and
        // LinearSVC output the positive class's score): still the model's scores, all
        // of whose columns ferry reports.
        Value::Scores(scores) | Value::Picked { scores, .. } => {
            let width = match &scores.classes {
                Some(c) => c.len(),
                None => ctx.estimator.as_ref().map_or(0, |(e, _)| e.n_outputs()),
            };
            let columns = which(ctx, width)?;
            ctx.set_output(node, 0, Value::Picked { scores, columns });
        }
        _ => return Err(ctx.unsupported(node, "selecting from this input")),
    }
    Ok(())
}

fn gather(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let axis = Attrs::new(node, ctx).int_or("axis", 0)?;
    if axis != 1 && axis != -1 {
        return Err(ctx.unsupported(node, "Gather along the row axis"));
    }
    select(ctx, node, 0, 1)
}

/// `Slice` along the column axis with constant bounds (inputs from opset 10,
/// attributes before): the columns `start, start + step, …` short of `end`, the bounds
/// clamped as numpy clamps them.
fn slice(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let attrs = Attrs::new(node, ctx);
    let list = |i: usize, name: &str| ints_input_or(ctx, node, &attrs, (i, name));
    let starts = list(1, "starts")?.unwrap_or_default();
    let ends = list(2, "ends")?.unwrap_or_default();
    let axes = list(3, "axes")?.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = list(4, "steps")?.unwrap_or_else(|| vec![1; starts.len()]);
    if starts.len() != ends.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(ctx.node_error(node, "starts, ends, axes and steps differ in length"));
    }
    // Only the column axis may be cut; a row-axis range that keeps every row is fine.
    let mut column = None;
    for k in 0..axes.len() {
        match axes[k] {
            1 | -1 => column = Some((starts[k], ends[k], steps[k])),
            0 | -2 if starts[k] == 0 && ends[k] >= i64::from(i32::MAX) && steps[k] == 1 => {}
            _ => return Err(ctx.unsupported(node, "Slice along the row axis")),
        }
    }
    let Some((start, end, step)) = column else {
        return pass(ctx, node);
    };
    if step == 0 {
        return Err(ctx.node_error(node, "a step of 0"));
    }
    pick(ctx, node, 0, &|_: &Ctx, width| {
        let w = width as i64;
        let clamp = |v: i64, lo: i64, hi: i64| (if v < 0 { v + w } else { v }).clamp(lo, hi);
        let mut picked = Vec::new();
        if step > 0 {
            let (mut i, end) = (clamp(start, 0, w), clamp(end, 0, w));
            while i < end {
                picked.push(i as usize);
                i += step;
            }
        } else {
            let (mut i, end) = (clamp(start, -1, w - 1), clamp(end, -1, w - 1));
            while i > end {
                picked.push(i as usize);
                i += step;
            }
        }
        Ok(picked)
    })
}

fn array_feature_extractor(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    // classes[argmax]: the label of a network classifier.
    if let (Value::Const(classes), Value::ArgMax) = (ctx.input(node, 0)?, ctx.input(node, 1)?) {
        let classes = match &classes.data {
            Data::Num(v) => v.iter().map(|c| format_number(*c)).collect(),
            Data::Str(v) => v.clone(),
        };
        ctx.set_output(
            node,
            0,
            Value::Label {
                classes,
                column: None,
            },
        );
        return Ok(());
    }
    // table[i] with a per-row index (skl2onnx's isotonic calibration: the y of the
    // nearest calibration point).
    if let (Value::Const(table), Value::Num { cols, .. }) =
        (ctx.input(node, 0)?, ctx.input(node, 1)?)
    {
        if let Some(values) = table.numbers() {
            let lookups = cols
                .iter()
                .map(|index| Expr::Lookup {
                    x: Box::new(index.clone()),
                    table: values.to_vec(),
                    default: f64::NAN,
                })
                .collect();
            let elem = Elem::float(table.float32);
            output_num(ctx, node, lookups, elem);
            return Ok(());
        }
    }
    select(ctx, node, 0, 1)
}

fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Column `j` of a value broadcast to `n` columns (numpy rules on the column axis: one
/// column repeats), or `None` when the widths do not broadcast.
fn broadcast(v: &[Expr], n: usize, j: usize) -> Option<Expr> {
    match v.len() {
        1 => Some(v[0].clone()),
        len if len == n => Some(v[j].clone()),
        _ => None,
    }
}

/// Elementwise arithmetic with numpy broadcasting over columns: `[N, k] op [k]`,
/// `[N, k] op [N, k]`, `[N, k] op scalar`.
/// `f(a_j, b_j)` column by column, the columns broadcast (numpy rules on the column
/// axis).
fn elementwise(
    ctx: &Ctx,
    node: &NodeProto,
    (a, b): (&[Expr], &[Expr]),
    f: BinaryFn,
    precision: Precision,
) -> Result<Vec<Expr>, ImportError> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|j| match (broadcast(a, n, j), broadcast(b, n, j)) {
            (Some(x), Some(y)) => Ok(Expr::binary(f, x, y, precision)),
            _ => Err(ctx.node_error(
                node,
                format!("cannot broadcast {} columns with {}", a.len(), b.len()),
            )),
        })
        .collect()
}

/// `Sum` of any number of inputs, broadcast over columns, added left to right.
fn sum(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (mut acc, mut elem) = num(ctx, node, 0)?;
    for i in 1..node.input.len() {
        let (b, eb) = num(ctx, node, i)?;
        if eb == Elem::F32 {
            elem = Elem::F32;
        }
        acc = elementwise(ctx, node, (&acc, &b), BinaryFn::Add, elem.precision())?;
    }
    output_num(ctx, node, acc, elem);
    Ok(())
}

fn arithmetic(ctx: &mut Ctx, node: &NodeProto, f: BinaryFn) -> Result<(), ImportError> {
    // 1 - p of a logistic output (skl2onnx's binary network classifier).
    if f == BinaryFn::Sub {
        if let (
            Value::Const(t),
            Value::Lazy {
                logits,
                elem,
                transform,
            },
        ) = (ctx.input(node, 0)?, ctx.input(node, 1)?)
        {
            if t.numbers() == Some(&[1.0])
                && logits.len() == 1
                && matches!(transform, Transform::Logistic { .. })
            {
                let (logits, elem, transform) = (logits.clone(), *elem, *transform);
                let name = node.input[1].clone();
                estimators::commit_columns(ctx, node, logits, elem, &name)?;
                ctx.set_output(
                    node,
                    0,
                    Value::Complement(Scores {
                        transform,
                        classes: None,
                    }),
                );
                return Ok(());
            }
        }
    }
    // Multiplying probabilities by one (onnxmltools' LightGBM graphs).
    if f == BinaryFn::Mul {
        if let (Value::Scores(s), Value::Const(t)) = (ctx.input(node, 0)?, ctx.input(node, 1)?) {
            if t.numbers().is_some_and(|v| v.iter().all(|x| *x == 1.0)) {
                let s = s.clone();
                ctx.set_output(node, 0, Value::Scores(s));
                return Ok(());
            }
        }
    }
    let (a, ea) = num(ctx, node, 0)?;
    let (b, eb) = num(ctx, node, 1)?;
    let elem = if ea == Elem::F32 || eb == Elem::F32 {
        Elem::F32
    } else {
        ea
    };
    if let Some((dims, pairs)) = shape::broadcast(ctx, node, a.len(), b.len())? {
        let cols = pairs
            .into_iter()
            .map(|(i, j)| Expr::binary(f, a[i].clone(), b[j].clone(), elem.precision()))
            .collect();
        output_num(ctx, node, cols, elem);
        shape::set_row_dims(ctx, node, dims);
        return Ok(());
    }
    let cols = elementwise(ctx, node, (&a, &b), f, elem.precision())?;
    output_num(ctx, node, cols, elem);
    Ok(())
}

/// `X · W (+ C)` with a constant `W`: one dot product per output column, in the
/// precision of `X`. Gemm's `alpha`, `beta` and `transB` are honoured.
fn matmul(ctx: &mut Ctx, node: &NodeProto, gemm: bool) -> Result<(), ImportError> {
    let (x, elem) = num(ctx, node, 0)?;
    let w = match ctx.input(node, 1)? {
        Value::Const(t) => t.clone(),
        _ => {
            return Err(ctx.unsupported(node, "a matrix product with a matrix computed at run time"))
        }
    };
    let attrs = Attrs::new(node, ctx);
    let (alpha, beta, trans_a, trans_b) = if gemm {
        (
            attrs.float("alpha").unwrap_or(1.0),
            attrs.float("beta").unwrap_or(1.0),
            attrs.int_or("transA", 0)?,
            attrs.int_or("transB", 0)?,
        )
    } else {
        (1.0, 1.0, 0, 0)
    };
    if trans_a != 0 {
        return Err(ctx.unsupported(node, "transA"));
    }
    let weights = w
        .numbers()
        .ok_or_else(|| ctx.node_error(node, "the matrix must be numeric"))?;
    let k = x.len();
    let (rows, cols) = match (w.dims.as_slice(), trans_b != 0) {
        ([r], false) => (*r, 1),
        ([r, c], false) => (*r, *c),
        ([c, r], true) => (*r, *c),
        _ => return Err(ctx.node_error(node, format!("matrix of shape {:?}", w.dims))),
    };
    if rows != k {
        return Err(ctx.node_error(node, format!("{k} columns times a {rows}×{cols} matrix")));
    }
    let at = |i: usize, j: usize| -> f64 {
        if trans_b != 0 {
            weights[j * rows + i]
        } else {
            weights[i * cols + j]
        }
    };
    let bias: Vec<f64> = if gemm && ctx.has_input(node, 2) {
        match ctx.input(node, 2)? {
            Value::Const(t) => t.numbers().map(<[f64]>::to_vec).unwrap_or_default(),
            _ => return Err(ctx.unsupported(node, "a bias computed at run time")),
        }
    } else {
        Vec::new()
    };
    if !(bias.is_empty() || bias.len() == 1 || bias.len() == cols) {
        return Err(ctx.node_error(
            node,
            format!("{} bias values for {cols} columns", bias.len()),
        ));
    }
    // Dot products read columns; materialise the inputs first.
    let name = node.input[0].clone();
    let x = ctx.columns(x, &name);
    let inputs: Vec<usize> = x
        .iter()
        .map(|e| match e {
            Expr::Column { index } => Ok(*index),
            _ => Err(ctx.unsupported(node, "a constant input to a matrix product")),
        })
        .collect::<Result<_, _>>()?;
    let precision = elem.precision();
    let mut out = Vec::with_capacity(cols);
    for j in 0..cols {
        let b = match bias.len() {
            0 => 0.0,
            1 => bias[0],
            _ => bias[j],
        };
        out.push(Expr::Dot {
            columns: inputs.clone(),
            weights: (0..rows).map(|i| at(i, j) * f64::from(alpha)).collect(),
            bias: b * f64::from(beta),
            precision,
        });
    }
    output_num(ctx, node, out, elem);
    Ok(())
}

/// `1 / x` in the input's precision.
fn reciprocal(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (cols, elem) = num(ctx, node, 0)?;
    let p = elem.precision();
    let cols = cols
        .into_iter()
        .map(|c| Expr::binary(BinaryFn::Div, Expr::constant(1.0), c, p))
        .collect();
    output_num(ctx, node, cols, elem);
    Ok(())
}

/// 1 above zero, -1 below, the value itself otherwise (0, or NaN).
fn sign(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (cols, elem) = num(ctx, node, 0)?;
    let cols = cols
        .into_iter()
        .map(|c| {
            Expr::if_else(
                Expr::compare(CompareOp::Gt, c.clone(), Expr::constant(0.0)),
                Expr::constant(1.0),
                Expr::if_else(
                    Expr::compare(CompareOp::Lt, c.clone(), Expr::constant(0.0)),
                    Expr::constant(-1.0),
                    c,
                ),
            )
        })
        .collect();
    output_num(ctx, node, cols, elem);
    Ok(())
}

fn unary(ctx: &mut Ctx, node: &NodeProto, f: UnaryFn) -> Result<(), ImportError> {
    // exp of a GLM's linear predictor: the log link.
    if f == UnaryFn::Exp {
        if let Value::Scores(s) = ctx.input(node, 0)? {
            if s.transform == Transform::Identity && s.classes.is_none() {
                ctx.set_output(
                    node,
                    0,
                    Value::Scores(Scores {
                        transform: Transform::Exp,
                        classes: None,
                    }),
                );
                return Ok(());
            }
        }
    }
    let (cols, elem) = num(ctx, node, 0)?;
    let precision = elem.precision();
    let cols = cols
        .into_iter()
        .map(|c| Expr::unary(f, c, precision))
        .collect();
    output_num(ctx, node, cols, elem);
    Ok(())
}

/// Sigmoid and Softmax: kept lazy, because on a network's last layer they are the
/// model's output transform, and anywhere else ordinary columns.
fn activation(ctx: &mut Ctx, node: &NodeProto, transform: Transform) -> Result<(), ImportError> {
    if transform == Transform::Softmax {
        let axis = Attrs::new(node, ctx).int_or("axis", -1)?;
        if axis != 1 && axis != -1 {
            return Err(ctx.unsupported(node, "Softmax over the row axis"));
        }
    }
    // On scores that ArgMax has already made the model's output: their transform.
    if let Value::Scores(Scores {
        transform: Transform::Identity,
        classes,
    }) = ctx.input(node, 0)?
    {
        let classes = classes.clone();
        ctx.set_output(node, 0, Value::Scores(Scores { transform, classes }));
        return Ok(());
    }
    let (cols, elem) = num(ctx, node, 0)?;
    let name = node.input[0].clone();
    let logits = ctx.columns(cols, &name);
    ctx.set_output(
        node,
        0,
        Value::Lazy {
            logits,
            elem,
            transform,
        },
    );
    Ok(())
}

/// A lazy activation as plain columns.
pub(crate) fn lazy_columns(logits: &[Expr], transform: Transform, elem: Elem) -> Vec<Expr> {
    let p = elem.precision();
    match transform {
        Transform::Softmax => {
            let max = logits
                .iter()
                .cloned()
                .reduce(|a, b| Expr::binary(BinaryFn::Max, a, b, p))
                .unwrap_or(Expr::constant(0.0));
            let exps: Vec<Expr> = logits
                .iter()
                .map(|l| {
                    Expr::unary(
                        UnaryFn::Exp,
                        Expr::binary(BinaryFn::Sub, l.clone(), max.clone(), p),
                        p,
                    )
                })
                .collect();
            let sum = exps
                .iter()
                .cloned()
                .reduce(|a, b| Expr::binary(BinaryFn::Add, a, b, p))
                .unwrap_or(Expr::constant(1.0));
            exps.into_iter()
                .map(|e| Expr::binary(BinaryFn::Div, e, sum.clone(), p))
                .collect()
        }
        _ => logits
            .iter()
            .map(|l| Expr::unary(UnaryFn::Logistic, l.clone(), p))
            .collect(),
    }
}

fn argmax(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let axis = Attrs::new(node, ctx).int_or("axis", 0)?;
    if axis != 1 && axis != -1 {
        return Err(ctx.unsupported(node, "ArgMax over the row axis"));
    }
    match ctx.input(node, 0)?.clone() {
        Value::Lazy {
            logits,
            elem,
            transform,
        } => {
            let name = node.input[0].clone();
            estimators::commit_columns(ctx, node, logits, elem, &name)?;
            // The same tensor, read as the model's probabilities by later nodes.
            ctx.set_value(
                &name,
                Value::Scores(Scores {
                    transform,
                    classes: None,
                }),
            );
        }
        // An estimator's class compared with each class (AdaBoost's SAMME votes, hard
        // voting): the estimator becomes columns, and its class an index feature.
        Value::Scores(_) if only_compared(ctx, node) => {
            super::demote::demote(ctx, node)?;
            let (cols, _) = num(ctx, node, 0)?;
            let index = first_extreme(ctx, node, cols, BinaryFn::Max);
            output_num(ctx, node, vec![index], Elem::Int);
            return Ok(());
        }
        Value::Scores(_) => {}
        // The index of the largest column as a feature (KBinsDiscretizer: the bin of a
        // value is the first of its `x < edge` indicators that holds), where nothing
        // picks a class with it.
        Value::Num { cols, .. } if !picks_a_class(ctx, node) => {
            if Attrs::new(node, ctx).int_or("select_last_index", 0)? != 0 {
                return Err(ctx.unsupported(node, "ArgMax with select_last_index"));
            }
            let index = first_extreme(ctx, node, cols, BinaryFn::Max);
            output_num(ctx, node, vec![index], Elem::Int);
            return Ok(());
        }
        Value::Num { .. } if ctx.estimator.is_none() => commit_scores(ctx, node)?,
        _ => {
            return Err(ctx.unsupported(node, "ArgMax over columns that are not the model's scores"))
        }
    }
    ctx.set_output(node, 0, Value::ArgMax);
    Ok(())
}

/// Whether the output of `node` (an ArgMax) names the model's class: it is read by an
/// ArrayFeatureExtractor (`classes[argmax]`) or is a graph output.
fn picks_a_class(ctx: &Ctx, node: &NodeProto) -> bool {
    let Some(out) = node.output.first() else {
        return false;
    };
    ctx.consumers.get(out).is_some_and(|readers| {
        readers
            .iter()
            .any(|r| r == "ArrayFeatureExtractor" || r == "graph output")
    })
}

/// Whether the output of `node` is only compared (`Equal`) with constants.
fn only_compared(ctx: &Ctx, node: &NodeProto) -> bool {
    let Some(out) = node.output.first() else {
        return false;
    };
    ctx.consumers
        .get(out)
        .is_some_and(|readers| !readers.is_empty() && readers.iter().all(|r| r == "Equal"))
}

/// The columns of a row (`axis` 1) for TopK, CumSum and GatherElements: a plain
/// `[N, k]` value.
fn row_columns(
    ctx: &mut Ctx,
    node: &NodeProto,
    i: usize,
) -> Result<(Vec<Expr>, Elem), ImportError> {
    let attrs = Attrs::new(node, ctx);
    let axis = match node.op_type.as_deref() {
        Some("CumSum") => match ctx.input(node, 1)? {
            Value::Const(t) => t.numbers().and_then(|v| v.first().copied()).unwrap_or(-1.0) as i64,
            _ => return Err(ctx.unsupported(node, "an axis computed at run time")),
        },
        // GatherElements' default axis is 0, the batch: refused below.
        Some("GatherElements") => attrs.int_or("axis", 0)?,
        _ => attrs.int_or("axis", -1)?,
    };
    if axis != 1 && axis != -1 {
        return Err(ctx.unsupported(
            node,
            &format!("axis {axis} (ferry reads along a row's columns)"),
        ));
    }
    if shape::row_dims(ctx, node, i).is_some() {
        return Err(ctx.unsupported(node, "a per-row tensor of rank 3 or more"));
    }
    num(ctx, node, i)
}

/// A value chosen per row by an index column: `values[index]`, missing outside.
fn select_by(index: &Expr, values: &[Expr]) -> Expr {
    values
        .iter()
        .enumerate()
        .rev()
        .fold(Expr::constant(f64::NAN), |rest, (k, v)| {
            Expr::if_else(
                Expr::compare(CompareOp::Eq, index.clone(), Expr::constant(k as f64)),
                v.clone(),
                rest,
            )
        })
}

/// TopK along a row (AdaBoostRegressor's weighted median sorts its estimators'
/// predictions so): each column's place in the order is the number of columns before
/// it (larger, or smaller with `largest` 0; an equal one before it in the row counts as
/// before it, ONNX's tie rule), then the j-th output is the column whose place is j.
/// Values and indices, `k` of each.
fn top_k(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (cols, elem) = row_columns(ctx, node, 0)?;
    let attrs = Attrs::new(node, ctx);
    let largest = attrs.int_or("largest", 1)? != 0;
    if attrs.int_or("sorted", 1)? == 0 {
        return Err(ctx.unsupported(node, "TopK with sorted=0 (an unspecified order)"));
    }
    let n = cols.len();
    let k = ints_input_or(ctx, node, &attrs, (1, "k"))?
        .and_then(|v| v.first().copied())
        .unwrap_or(0);
    if k < 1 || k as usize > n {
        return Err(ctx.node_error(node, format!("k = {k} for a row of {n} values")));
    }
    let name = node.output.first().cloned().unwrap_or_default();
    let places: Vec<Expr> = (0..n)
        .map(|i| {
            let count = (0..n)
                .filter(|l| *l != i)
                .map(|l| {
                    let op = match (largest, l < i) {
                        (true, true) => CompareOp::Ge,
                        (true, false) => CompareOp::Gt,
                        (false, true) => CompareOp::Le,
                        (false, false) => CompareOp::Lt,
                    };
                    // 1 when column l comes before column i, else 0.
                    Expr::compare(op, cols[l].clone(), cols[i].clone())
                })
                .reduce(|a, b| Expr::binary(BinaryFn::Add, a, b, Precision::F64))
                .unwrap_or(Expr::constant(0.0));
            Expr::column(ctx.column_of(count, &format!("{name}~place{i}")))
        })
        .collect();
    let pick = |j: usize, of: &dyn Fn(usize) -> Expr| {
        (0..n).rev().fold(Expr::constant(f64::NAN), |rest, i| {
            Expr::if_else(
                Expr::compare(CompareOp::Eq, places[i].clone(), Expr::constant(j as f64)),
                of(i),
                rest,
            )
        })
    };
    let values = (0..k as usize)
        .map(|j| pick(j, &|i| cols[i].clone()))
        .collect();
    let indices: Vec<Expr> = (0..k as usize)
        .map(|j| pick(j, &|i| Expr::constant(i as f64)))
        .collect();
    output_num(ctx, node, values, elem);
    let index_name = node.output.get(1).cloned().unwrap_or_default();
    let indices = ctx.columns(indices, &index_name);
    ctx.set_output(
        node,
        1,
        Value::Num {
            cols: indices,
            elem: Elem::Int,
        },
    );
    Ok(())
}

/// Running sums along a row, left to right in the value's precision.
fn cum_sum(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (cols, elem) = row_columns(ctx, node, 0)?;
    let attrs = Attrs::new(node, ctx);
    if attrs.int_or("exclusive", 0)? != 0 || attrs.int_or("reverse", 0)? != 0 {
        return Err(ctx.unsupported(node, "CumSum with exclusive or reverse"));
    }
    let name = node.output.first().cloned().unwrap_or_default();
    let mut sums: Vec<Expr> = Vec::with_capacity(cols.len());
    for (j, c) in cols.into_iter().enumerate() {
        let sum = match sums.last() {
            None => c,
            Some(previous) => Expr::binary(BinaryFn::Add, previous.clone(), c, elem.precision()),
        };
        sums.push(Expr::column(ctx.column_of(sum, &format!("{name}[{j}]"))));
    }
    output_num(ctx, node, sums, elem);
    Ok(())
}

/// GatherElements along a row with one index per row: the indexed column.
fn gather_elements(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (data, elem) = row_columns(ctx, node, 0)?;
    let (index, _) = num(ctx, node, 1)?;
    let [index] = index.as_slice() else {
        return Err(ctx.unsupported(node, "GatherElements with more than one index per row"));
    };
    let picked = select_by(index, &data);
    output_num(ctx, node, vec![picked], elem);
    Ok(())
}

/// ArgMin over the columns of a row, as a feature (skl2onnx's isotonic calibration:
/// the index of the nearest of its points).
fn argmin(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let attrs = Attrs::new(node, ctx);
    let axis = attrs.int_or("axis", 0)?;
    if axis != 1 && axis != -1 {
        return Err(ctx.unsupported(node, "ArgMin over the row axis"));
    }
    if attrs.int_or("select_last_index", 0)? != 0 {
        return Err(ctx.unsupported(node, "ArgMin with select_last_index"));
    }
    if shape::row_dims(ctx, node, 0).is_some() {
        return Err(ctx.unsupported(node, "ArgMin over a per-row tensor"));
    }
    let (cols, _) = num(ctx, node, 0)?;
    let index = first_extreme(ctx, node, cols, BinaryFn::Min);
    output_num(ctx, node, vec![index], Elem::Int);
    Ok(())
}

/// The index of the first largest (`extreme` Max: ONNX ArgMax) or smallest (Min:
/// ArgMin) of `cols`, `select_last_index` 0: the first column equal to their extreme;
/// the last index when the extreme is missing.
fn first_extreme(ctx: &mut Ctx, node: &NodeProto, cols: Vec<Expr>, extreme: BinaryFn) -> Expr {
    let Some(best) = cols
        .iter()
        .cloned()
        .reduce(|a, b| Expr::binary(extreme, a, b, Precision::F64))
    else {
        return Expr::constant(0.0);
    };
    let best = shared(ctx, node, best);
    let last = cols.len() - 1;
    cols.into_iter().enumerate().take(last).rev().fold(
        Expr::constant(last as f64),
        |rest, (k, c)| {
            Expr::if_else(
                Expr::compare(CompareOp::Eq, c, best.clone()),
                Expr::constant(k as f64),
                rest,
            )
        },
    )
}

fn scaler(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (cols, elem) = num(ctx, node, 0)?;
    let attrs = Attrs::new(node, ctx);
    let offset = attrs.floats("offset");
    let scale = attrs.floats("scale");
    let n = cols.len();
    let at = |v: &[f64], j: usize, default: f64, name: &str| -> Result<f64, ImportError> {
        match v.len() {
            0 => Ok(default),
            1 => Ok(v[0]),
            len if len == n => Ok(v[j]),
            len => Err(attrs.error(name, format!("{len} values for {n} columns"))),
        }
    };
    // onnxruntime computes (x - offset) * scale in float32 whatever the input type.
    let p = Precision::F32;
    let mut out = Vec::with_capacity(n);
    for (j, c) in cols.into_iter().enumerate() {
        let shifted = Expr::binary(
            BinaryFn::Sub,
            c,
            Expr::constant(at(&offset, j, 0.0, "offset")?),
            p,
        );
        out.push(Expr::binary(
            BinaryFn::Mul,
            shifted,
            Expr::constant(at(&scale, j, 1.0, "scale")?),
            p,
        ));
    }
    let _ = elem;
    output_num(ctx, node, out, Elem::F32);
    Ok(())
}

fn imputer(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (cols, elem) = num(ctx, node, 0)?;
    let attrs = Attrs::new(node, ctx);
    let values = attrs.floats("imputed_value_floats");
    let ints = attrs.ints("imputed_value_int64s");
    let replaced = attrs
        .float("replaced_value_float")
        .map_or(f64::NAN, f64::from);
    let replaced_int = attrs.int("replaced_value_int64")?;
    let n = cols.len();
    let values: Vec<f64> = if values.is_empty() {
        ints.iter().map(|v| *v as f64).collect()
    } else {
        values
    };
    let mut out = Vec::with_capacity(n);
    for (j, c) in cols.into_iter().enumerate() {
        let v = match values.len() {
            1 => values[0],
            len if len == n => values[j],
            len => {
                return Err(attrs.error(
                    "imputed_value_floats",
                    format!("{len} values for {n} columns"),
                ))
            }
        };
        let is_replaced = if elem == Elem::Int {
            match replaced_int {
                Some(r) => Expr::compare(CompareOp::Eq, c.clone(), Expr::constant(r as f64)),
                None => Expr::IsMissing {
                    x: Box::new(c.clone()),
                },
            }
        } else if replaced.is_nan() {
            Expr::IsMissing {
                x: Box::new(c.clone()),
            }
        } else {
            Expr::compare(CompareOp::Eq, c.clone(), Expr::constant(replaced))
        };
        let v = if elem == Elem::F32 {
            f64::from(v as f32)
        } else {
            v
        };
        out.push(Expr::if_else(is_replaced, Expr::constant(v), c));
    }
    output_num(ctx, node, out, elem);
    Ok(())
}

fn normalizer(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let norm = Attrs::new(node, ctx).string_or("norm", "MAX")?;
    if matches!(ctx.input(node, 0)?, Value::Scores(_)) {
        // L1 on probabilities that already sum to one (skl2onnx's classifiers).
        if norm == "L1" {
            return pass(ctx, node);
        }
        return Err(ctx.unsupported(node, "a normaliser on the model's scores other than L1"));
    }
    let (cols, _) = num(ctx, node, 0)?;
    // onnxruntime normalises in float32.
    let p = Precision::F32;
    let name = node.input[0].clone();
    let cols = ctx.columns(cols, &name);
    let total = match norm.as_str() {
        "MAX" => cols
            .iter()
            .cloned()
            .reduce(|a, b| Expr::binary(BinaryFn::Max, a, b, p)),
        "L1" => cols
            .iter()
            .map(|c| Expr::unary(UnaryFn::Abs, c.clone(), p))
            .reduce(|a, b| Expr::binary(BinaryFn::Add, a, b, p)),
        "L2" => cols
            .iter()
            .map(|c| Expr::binary(BinaryFn::Mul, c.clone(), c.clone(), p))
            .reduce(|a, b| Expr::binary(BinaryFn::Add, a, b, p))
            .map(|s| Expr::unary(UnaryFn::Sqrt, s, p)),
        other => return Err(ctx.unsupported(node, &format!("norm {other}"))),
    }
    .ok_or_else(|| ctx.node_error(node, "no columns"))?;
    let total = Expr::column(ctx.column_of(total, &format!("{name}~norm")));
    let out = cols
        .into_iter()
        .map(|c| Expr::binary(BinaryFn::Div, c, total.clone(), p))
        .collect();
    output_num(ctx, node, out, Elem::F32);
    Ok(())
}

fn binarizer(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (cols, elem) = num(ctx, node, 0)?;
    let threshold = Attrs::new(node, ctx)
        .float("threshold")
        .map_or(0.0, f64::from);
    let out = cols
        .into_iter()
        .map(|c| Expr::compare(CompareOp::Gt, c, Expr::constant(threshold)))
        .collect();
    output_num(ctx, node, out, elem);
    Ok(())
}

/// The level codes of input `input` whose value, after `col`'s substitutions, equals
/// `target`; `""` (missing) is reported separately as `missing`.
fn originals(ctx: &mut Ctx, col: &StrCol, target: &str) -> (Vec<f64>, bool) {
    let mut codes = Vec::new();
    let mut missing = false;
    let mut consider = |ctx: &mut Ctx, original: &str, codes: &mut Vec<f64>| {
        if original.is_empty() {
            missing = true;
        }
        codes.push(ctx.level_code(col.input, original));
    };
    for (from, to) in &col.subst {
        if to == target {
            consider(ctx, from, &mut codes);
        }
    }
    if !col.subst.iter().any(|(from, _)| from == target) && col.unseen.is_none() {
        consider(ctx, target, &mut codes);
    }
    (codes, missing)
}

/// 1.0 where the string column equals `target`, else 0.0.
fn string_equals(ctx: &mut Ctx, col: &StrCol, target: &str) -> Expr {
    let x = Expr::column(col.input);
    let (codes, missing) = originals(ctx, col, target);
    let mut terms: Vec<Expr> = codes
        .into_iter()
        .map(|code| Expr::compare(CompareOp::Eq, x.clone(), Expr::constant(code)))
        .collect();
    if missing {
        terms.push(Expr::IsMissing {
            x: Box::new(x.clone()),
        });
    }
    // Values unseen when the substitution was made (code -1, or a level added later).
    if let Some((fill, known)) = &col.unseen {
        if fill == target {
            terms.push(Expr::compare(
                CompareOp::Eq,
                x.clone(),
                Expr::constant(-1.0),
            ));
            terms.push(Expr::compare(
                CompareOp::Ge,
                x.clone(),
                Expr::constant(*known as f64),
            ));
        }
    }
    // Any of the indicators: their sum is positive (linear in size, in SQL too).
    match terms.len() {
        0 => Expr::constant(0.0),
        1 => terms.pop().expect("one term"),
        _ => Expr::compare(
            CompareOp::Gt,
            terms
                .into_iter()
                .reduce(|a, b| Expr::binary(BinaryFn::Add, a, b, Precision::F64))
                .expect("terms"),
            Expr::constant(0.0),
        ),
    }
}

fn one_hot(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let attrs = Attrs::new(node, ctx);
    let cats = attrs.strings("cats_strings")?;
    let cat_ints = attrs.ints("cats_int64s").to_vec();
    // zeros=0: an unknown category is an error in onnxruntime (scikit-learn's
    // handle_unknown="error", which skl2onnx writes for drop="if_binary" too).
    let unknown_fails = attrs.int_or("zeros", 1)? == 0;
    let value = ctx.input(node, 0)?.clone();
    // One group of indicator columns per input column.
    let mut groups: Vec<Vec<Expr>> = Vec::new();
    match value {
        Value::Str(cols) => {
            for col in &cols {
                groups.push(cats.iter().map(|c| string_equals(ctx, col, c)).collect());
            }
        }
        Value::Num { cols, .. } => {
            for col in &cols {
                groups.push(
                    cat_ints
                        .iter()
                        .map(|cat| {
                            Expr::compare(CompareOp::Eq, col.clone(), Expr::constant(*cat as f64))
                        })
                        .collect(),
                );
            }
        }
        _ => return Err(ctx.unsupported(node, "one-hot encoding of this input")),
    }
    let name = node.output.first().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for (g, group) in groups.into_iter().enumerate() {
        if !unknown_fails {
            out.extend(group);
            continue;
        }
        // The row has no prediction (missing indicators) instead of the error.
        let group = ctx.columns(group, &format!("{name}~{g}"));
        let known = group
            .iter()
            .cloned()
            .reduce(|a, b| Expr::binary(BinaryFn::Add, a, b, Precision::F64))
            .unwrap_or(Expr::constant(0.0));
        let known = Expr::column(ctx.column_of(known, &format!("{name}~{g}~known")));
        out.extend(group.into_iter().map(|e| Expr::If {
            cond: Box::new(known.clone()),
            then: Box::new(e),
            otherwise: Box::new(Expr::constant(f64::NAN)),
        }));
    }
    output_num(ctx, node, out, Elem::F32);
    Ok(())
}

fn label_encoder(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let attrs = Attrs::new(node, ctx);
    let keys_s = attrs.strings("keys_strings")?;
    let keys_i = attrs.ints("keys_int64s").to_vec();
    let values_s = attrs.strings("values_strings")?;
    let values_i = attrs.ints("values_int64s").to_vec();
    let values_f = attrs.floats("values_floats");
    let default_s = attrs.string_or("default_string", "_Unused")?;
    let default_i = attrs.int_or("default_int64", -1)?;
    let default_f = attrs.float("default_float").map_or(-0.0, f64::from);
    let value = ctx.input(node, 0)?.clone();
    match value {
        // A constant in, a constant out (skl2onnx builds its fill strings this way).
        Value::Const(t) => {
            let n = t.len();
            let data = match (&t.data, values_s.is_empty()) {
                (Data::Num(v), false) => Data::Str(
                    v.iter()
                        .map(|x| {
                            keys_i
                                .iter()
                                .position(|k| *k as f64 == *x)
                                .map_or(default_s.clone(), |i| values_s[i].clone())
                        })
                        .collect(),
                ),
                _ => return Err(ctx.unsupported(node, "this constant label encoding")),
            };
            let _ = n;
            ctx.set_output(
                node,
                0,
                Value::Const(Tensor {
                    dims: t.dims.clone(),
                    data,
                    float32: false,
                }),
            );
        }
        // Strings to numbers: a lookup by level code.
        Value::Str(cols)
            if !keys_s.is_empty() && (!values_i.is_empty() || !values_f.is_empty()) =>
        {
            let numbers: Vec<f64> = if values_i.is_empty() {
                values_f.clone()
            } else {
                values_i.iter().map(|v| *v as f64).collect()
            };
            if numbers.len() != keys_s.len() {
                return Err(attrs.error("values", "as many values as keys are needed"));
            }
            let default = if values_i.is_empty() {
                default_f
            } else {
                default_i as f64
            };
            let mut out = Vec::new();
            for col in &cols {
                let mut expr = Expr::constant(default);
                for (key, v) in keys_s.iter().zip(&numbers).rev() {
                    let hit = string_equals(ctx, col, key);
                    expr = Expr::if_else(hit, Expr::constant(*v), expr);
                }
                out.push(expr);
            }
            let elem = if values_i.is_empty() {
                Elem::F32
            } else {
                Elem::Int
            };
            output_num(ctx, node, out, elem);
        }
        _ => return Err(ctx.unsupported(node, "this kind of label encoding")),
    }
    Ok(())
}

fn clip(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (cols, elem) = num(ctx, node, 0)?;
    let attrs = Attrs::new(node, ctx);
    let bound = |ctx: &Ctx, i: usize, attr: &str| -> Result<Option<f64>, ImportError> {
        if ctx.has_input(node, i) {
            match ctx.input(node, i)? {
                Value::Const(t) => Ok(t.numbers().and_then(|v| v.first().copied())),
                _ => Err(ctx.unsupported(node, "bounds computed at run time")),
            }
        } else {
            Ok(attrs.float(attr).map(f64::from))
        }
    };
    let low = bound(ctx, 1, "min")?;
    let high = bound(ctx, 2, "max")?;
    let p = elem.precision();
    let out = cols
        .into_iter()
        .map(|c| {
            let c = match low {
                Some(l) => Expr::binary(BinaryFn::Max, c, Expr::constant(l), p),
                None => c,
            };
            match high {
                Some(h) => Expr::binary(BinaryFn::Min, c, Expr::constant(h), p),
                None => c,
            }
        })
        .collect();
    output_num(ctx, node, out, elem);
    Ok(())
}

/// DictVectorizer: one column per vocabulary key, in vocabulary order.
fn dict_vectorizer(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let Value::Map { string_keys, elem } = ctx.input(node, 0)?.clone() else {
        return Err(ctx.unsupported(node, "DictVectorizer of an input that is not a map"));
    };
    let attrs = Attrs::new(node, ctx);
    let keys: Vec<String> = if string_keys {
        attrs.strings("string_vocabulary")?
    } else {
        attrs
            .ints("int64_vocabulary")
            .iter()
            .map(i64::to_string)
            .collect()
    };
    if keys.is_empty() || keys.len() > MAX_COLUMNS {
        return Err(attrs.error("string_vocabulary", format!("{} keys", keys.len())));
    }
    let cols = keys
        .iter()
        .map(|k| super::map_column(ctx, k, elem))
        .collect();
    output_num(
        ctx,
        node,
        cols,
        if elem == Elem::F32 {
            Elem::F32
        } else {
            Elem::F64
        },
    );
    Ok(())
}

/// CastMap of an int64-keyed map in SPARSE form: columns `0 … max_map-1`, a key the
/// map lacks being 0. The DENSE form takes as many columns as the row's map has keys,
/// which no fixed table has.
fn cast_map(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let Value::Map {
        string_keys: false,
        elem,
    } = ctx.input(node, 0)?.clone()
    else {
        return Err(ctx.unsupported(node, "CastMap of an input that is not an int64-keyed map"));
    };
    let attrs = Attrs::new(node, ctx);
    if attrs.string_or("map_form", "DENSE")? != "SPARSE" {
        return Err(ctx.unsupported(
            node,
            "CastMap map_form DENSE (as many columns as the row's map has keys); ferry reads SPARSE",
        ));
    }
    let cast_to = attrs.string_or("cast_to", "TO_FLOAT")?;
    if cast_to != "TO_FLOAT" {
        return Err(ctx.unsupported(node, &format!("CastMap cast_to {cast_to}")));
    }
    let n = attrs.int_or("max_map", 1)?;
    let n = usize::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_COLUMNS).contains(n))
        .ok_or_else(|| attrs.error("max_map", format!("{n} columns")))?;
    let cols = (0..n)
        .map(|k| {
            let x = super::map_column(ctx, &k.to_string(), elem);
            Expr::unary(UnaryFn::Cast, x, Precision::F32)
        })
        .collect();
    output_num(ctx, node, cols, Elem::F32);
    Ok(())
}

/// Constant integers that newer opsets pass as input `i` and older ones as the
/// attribute `name` (Split's sizes, a reduction's axes, Slice's bounds, Reshape's
/// shape); `None` when neither is given.
fn ints_input_or(
    ctx: &Ctx,
    node: &NodeProto,
    attrs: &Attrs<'_>,
    (i, name): (usize, &str),
) -> Result<Option<Vec<i64>>, ImportError> {
    if ctx.has_input(node, i) {
        return match ctx.input(node, i)? {
            Value::Const(t) => Ok(Some(
                t.numbers()
                    .map(|v| v.iter().map(|x| *x as i64).collect())
                    .unwrap_or_default(),
            )),
            _ => Err(ctx.unsupported(node, &format!("{name} computed at run time"))),
        };
    }
    let list = attrs.ints(name);
    Ok((!list.is_empty()).then(|| list.to_vec()))
}

/// Split along the column axis into the sizes given (input 1, or the `split`
/// attribute before opset 13), or into equal parts, one per output.
fn split(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (cols, elem) = num(ctx, node, 0)?;
    let attrs = Attrs::new(node, ctx);
    let axis = attrs.int_or("axis", 0)?;
    if axis != 1 && axis != -1 {
        return Err(ctx.unsupported(node, "Split along the row axis"));
    }
    let parts = node.output.len();
    let sizes: Vec<i64> = if let Some(sizes) = ints_input_or(ctx, node, &attrs, (1, "split"))? {
        sizes
    } else if parts > 0 && cols.len() % parts == 0 {
        vec![(cols.len() / parts) as i64; parts]
    } else {
        return Err(ctx.node_error(
            node,
            format!(
                "{} columns do not split into {parts} equal parts",
                cols.len()
            ),
        ));
    };
    if sizes.len() != parts
        || sizes.iter().any(|s| *s < 0)
        || sizes.iter().sum::<i64>() != cols.len() as i64
    {
        return Err(ctx.node_error(
            node,
            format!(
                "split sizes {sizes:?} for {} columns and {parts} outputs",
                cols.len()
            ),
        ));
    }
    let mut start = 0;
    for (i, size) in sizes.iter().enumerate() {
        let end = start + *size as usize;
        ctx.set_output(
            node,
            i,
            Value::Num {
                cols: cols[start..end].to_vec(),
                elem,
            },
        );
        start = end;
    }
    Ok(())
}

/// The shape of a per-row tensor, for `ConstantOfShape` (skl2onnx's column of ones
/// in PolynomialFeatures).
fn shape(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (cols, _) = num(ctx, node, 0)?;
    ctx.set_output(node, 0, Value::Shape { width: cols.len() });
    Ok(())
}

fn constant_of_shape(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let Value::Shape { width } = ctx.input(node, 0)?.clone() else {
        return Err(ctx.unsupported(node, "a shape that is not a row tensor's"));
    };
    let attrs = Attrs::new(node, ctx);
    let (value, elem) = match attrs.tensor("value")? {
        None => (0.0, Elem::F32),
        Some(t) => {
            let v = t
                .numbers()
                .and_then(|v| v.first().copied())
                .ok_or_else(|| attrs.error("value", "expected one number"))?;
            (v, Elem::float(t.float32))
        }
    };
    ctx.set_output(
        node,
        0,
        Value::Num {
            cols: vec![Expr::constant(value); width],
            elem,
        },
    );
    Ok(())
}

#[derive(Clone, Copy)]
enum Reduce {
    Sum,
    Prod,
    Mean,
    Max,
    Min,
    /// `m + ln(sum(exp(x - m)))` with `m` the largest `x`, as onnxruntime computes it
    /// (no overflow or underflow to `ln(0)` for log-likelihoods far from 0).
    LogSumExp,
}

/// A reduction within a row: over the column axis (PolynomialFeatures multiplies the
/// columns it selects with ReduceProd) or over axes of a per-row tensor (naive Bayes),
/// each output folded left to right in the input's precision.
fn reduce(ctx: &mut Ctx, node: &NodeProto, how: Reduce) -> Result<(), ImportError> {
    let attrs = Attrs::new(node, ctx);
    // `axes` is an attribute up to opset 12 (ReduceSum) / 17 (the others), then input 1.
    let axes = ints_input_or(ctx, node, &attrs, (1, "axes"))?.unwrap_or_default();
    if axes.is_empty() && attrs.int_or("noop_with_empty_axes", 0)? != 0 {
        let (cols, elem) = num(ctx, node, 0)?;
        output_num(ctx, node, cols, elem);
        return Ok(());
    }
    reduce_over(ctx, node, how, &axes)
}

/// The reduction of input 0 over `axes` of its full shape `[N, …]`.
fn reduce_over(
    ctx: &mut Ctx,
    node: &NodeProto,
    how: Reduce,
    axes: &[i64],
) -> Result<(), ImportError> {
    let (cols, elem) = num(ctx, node, 0)?;
    let attrs = Attrs::new(node, ctx);
    // Over the columns of an [N, k] row, or over axes of a per-row tensor.
    let dims = shape::row_dims(ctx, node, 0).unwrap_or_else(|| vec![cols.len()]);
    let keepdims = attrs.int_or("keepdims", 1)? != 0;
    let (groups, out_dims) =
        shape::reduce_groups(&dims, axes, keepdims).map_err(|why| ctx.unsupported(node, &why))?;
    let p = elem.precision();
    let mut out = Vec::with_capacity(groups.len());
    for g in &groups {
        let items: Vec<Expr> = g.iter().map(|k| cols[*k].clone()).collect();
        let reduced = fold_reduce(&how, &items, p, &mut |m| shared(ctx, node, m))
            .ok_or_else(|| ctx.node_error(node, "a reduction of no elements"))?;
        out.push(reduced);
    }
    output_num(ctx, node, out, elem);
    shape::set_row_dims(ctx, node, out_dims);
    Ok(())
}

/// `e`, a row's maximum read several times (ArgMax, ReduceLogSumExp), as a derived
/// column of its own.
fn shared(ctx: &mut Ctx, node: &NodeProto, e: Expr) -> Expr {
    let name = format!("{}~max", node.output.first().map_or("", String::as_str));
    Expr::column(ctx.column_of(e, &name))
}

/// One reduction of `items`, folded left to right in precision `p`; `share` makes a
/// value read several times a column of its own.
fn fold_reduce(
    how: &Reduce,
    items: &[Expr],
    p: Precision,
    share: &mut dyn FnMut(Expr) -> Expr,
) -> Option<Expr> {
    let fold = |f: BinaryFn, items: &[Expr]| {
        items
            .iter()
            .cloned()
            .reduce(|a, b| Expr::binary(f, a, b, p))
    };
    match how {
        Reduce::Sum => fold(BinaryFn::Add, items),
        Reduce::Prod => fold(BinaryFn::Mul, items),
        Reduce::Max => fold(BinaryFn::Max, items),
        Reduce::Min => fold(BinaryFn::Min, items),
        Reduce::Mean => fold(BinaryFn::Add, items)
            .map(|s| Expr::binary(BinaryFn::Div, s, Expr::constant(items.len() as f64), p)),
        Reduce::LogSumExp => {
            let m = share(fold(BinaryFn::Max, items)?);
            let terms: Vec<Expr> = items
                .iter()
                .map(|x| {
                    let shifted = Expr::binary(BinaryFn::Sub, x.clone(), m.clone(), p);
                    Expr::unary(UnaryFn::Exp, shifted, p)
                })
                .collect();
            let sum = fold(BinaryFn::Add, &terms)?;
            Some(Expr::binary(
                BinaryFn::Add,
                m,
                Expr::unary(UnaryFn::Ln, sum, p),
                p,
            ))
        }
    }
}

fn compare(ctx: &mut Ctx, node: &NodeProto, cmp: CompareOp) -> Result<(), ImportError> {
    let (a, _) = num(ctx, node, 0)?;
    let (b, _) = num(ctx, node, 1)?;
    let n = a.len().max(b.len());
    let out = (0..n)
        .map(|j| match (broadcast(&a, n, j), broadcast(&b, n, j)) {
            (Some(x), Some(y)) => Ok(Expr::compare(cmp, x, y)),
            _ => Err(ctx.node_error(node, "cannot broadcast the operands")),
        })
        .collect::<Result<_, _>>()?;
    output_num(ctx, node, out, Elem::Int);
    Ok(())
}

fn is_nan(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (cols, _) = num(ctx, node, 0)?;
    let out = cols
        .into_iter()
        .map(|c| Expr::IsMissing { x: Box::new(c) })
        .collect();
    output_num(ctx, node, out, Elem::Int);
    Ok(())
}

fn not(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let (cols, _) = num(ctx, node, 0)?;
    let out = cols
        .into_iter()
        .map(|c| Expr::compare(CompareOp::Eq, c, Expr::constant(0.0)))
        .collect();
    output_num(ctx, node, out, Elem::Int);
    Ok(())
}

/// `Where(cond, a, b)`. On numbers an `If` per column. On strings (skl2onnx's string
/// imputer: `Where(x == "", fill, x)`), the condition must depend on the same string
/// column; it is evaluated for every level so the result is again a substitution.
fn where_(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let b = ctx.input(node, 2)?.clone();
    if let Value::Str(cols) = b {
        let fill = match ctx.input(node, 1)? {
            Value::Const(Tensor {
                data: Data::Str(v), ..
            }) if v.len() == 1 => v[0].clone(),
            _ => {
                return Err(ctx.unsupported(
                    node,
                    "Where on strings with a fill that is not one constant string",
                ))
            }
        };
        let (cond, _) = num(ctx, node, 0)?;
        if cond.len() != cols.len() && cond.len() != 1 {
            return Err(ctx.node_error(node, "condition and strings differ in width"));
        }
        let mut out = Vec::with_capacity(cols.len());
        for (j, col) in cols.iter().enumerate() {
            let cond = if cond.len() == 1 { &cond[0] } else { &cond[j] };
            out.push(substitute(ctx, node, col, cond, &fill)?);
        }
        ctx.set_output(node, 0, Value::Str(out));
        return Ok(());
    }
    let (cond, _) = num(ctx, node, 0)?;
    let (a, ea) = num(ctx, node, 1)?;
    let (b, eb) = num(ctx, node, 2)?;
    let n = cond.len().max(a.len()).max(b.len());
    let mut out = Vec::with_capacity(n);
    for j in 0..n {
        match (
            broadcast(&cond, n, j),
            broadcast(&a, n, j),
            broadcast(&b, n, j),
        ) {
            (Some(c), Some(x), Some(y)) => out.push(Expr::if_else(c, x, y)),
            _ => return Err(ctx.node_error(node, "cannot broadcast the operands")),
        }
    }
    let elem = if ea == eb { ea } else { Elem::F64 };
    output_num(ctx, node, out, elem);
    Ok(())
}

/// The string column `col` with `fill` wherever `cond` holds. `cond` may read only
/// `col`'s input; it is evaluated at every known level, at missing and at unseen.
fn substitute(
    ctx: &mut Ctx,
    node: &NodeProto,
    col: &StrCol,
    cond: &Expr,
    fill: &str,
) -> Result<StrCol, ImportError> {
    let levels = ctx.levels[col.input].clone();
    let mut out = col.clone();
    let current = |s: &str| -> String {
        col.subst
            .iter()
            .find(|(from, _)| from == s)
            .map_or_else(|| s.to_string(), |(_, to)| to.clone())
    };
    let set = |out: &mut StrCol, from: &str, to: String| {
        out.subst.retain(|(f, _)| f != from);
        out.subst.push((from.to_string(), to));
    };
    for (code, level) in levels.iter().enumerate() {
        if ctx
            .eval_at(cond, col.input, code as f64)
            .ok_or_else(|| ctx.unsupported(node, "a string condition that reads other columns"))?
            != 0.0
        {
            set(&mut out, level, fill.to_string());
        } else {
            set(&mut out, level, current(level));
        }
    }
    let missing = ctx
        .eval_at(cond, col.input, f64::NAN)
        .ok_or_else(|| ctx.unsupported(node, "a string condition that reads other columns"))?;
    if missing != 0.0 {
        set(&mut out, "", fill.to_string());
    }
    let unseen = ctx
        .eval_at(cond, col.input, -1.0)
        .ok_or_else(|| ctx.unsupported(node, "a string condition that reads other columns"))?;
    if unseen != 0.0 {
        out.unseen = Some((fill.to_string(), levels.len()));
    }
    Ok(out)
}

fn constant(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let attrs = Attrs::new(node, ctx);
    let t = if let Some(t) = attrs.tensor("value")? {
        t
    } else if let Some(f) = attrs.float("value_float") {
        Tensor {
            dims: vec![],
            data: Data::Num(vec![f64::from(f)]),
            float32: true,
        }
    } else if let Some(i) = attrs.int("value_int")? {
        Tensor {
            dims: vec![],
            data: Data::Num(vec![i as f64]),
            float32: false,
        }
    } else if attrs.has("value_floats") {
        let v = attrs.floats("value_floats");
        Tensor {
            dims: vec![v.len()],
            data: Data::Num(v),
            float32: true,
        }
    } else if attrs.has("value_ints") {
        let v: Vec<f64> = attrs.ints("value_ints").iter().map(|i| *i as f64).collect();
        Tensor {
            dims: vec![v.len()],
            data: Data::Num(v),
            float32: false,
        }
    } else if let Some(s) = attrs.string("value_string")? {
        Tensor {
            dims: vec![],
            data: Data::Str(vec![s]),
            float32: false,
        }
    } else {
        return Err(ctx.unsupported(node, "this form of Constant"));
    };
    ctx.set_output(node, 0, Value::Const(t));
    Ok(())
}

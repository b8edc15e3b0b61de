//! ai.onnx.ml `SVMRegressor` and `SVMClassifier` (scikit-learn's SVR, NuSVR, SVC,
//! NuSVC through skl2onnx), as onnxruntime computes them: every support vector's
//! kernel value is a derived column, and each machine is a dot product of those
//! columns with its coefficients plus its `rho`.
//!
//! * Kernels (`kernel_params` = γ, coef0, degree): LINEAR `x·v`, POLY `(γ·x·v + c)^d`,
//!   RBF `exp(-γ·|x - v|²)`, SIGMOID `tanh(γ·x·v + c)`, summed in float64 and rounded
//!   to float32 as onnxruntime returns them.
//! * A regressor is one machine (or, without support vectors, a linear model over the
//!   inputs).
//! * A classifier is one-against-one: the machine for classes `i < j` votes for `i`
//!   when its value is positive, else for `j`; the label is the class with the most
//!   votes, the first in class order on a tie (libsvm's, so scikit-learn's `predict`).
//!   Its second output holds the machines' values (two classes: `[-v, v]`), which
//!   skl2onnx turns into scikit-learn's one-vs-rest `decision_function` with
//!   elementwise operators read as usual.
//! * Probabilities (`prob_a`, `SVC(probability=True)`) are computed as scikit-learn's
//!   libsvm does ([`libsvm_probabilities`]): pairwise Platt sigmoids, coupled by an
//!   iterative descent that ferry unrolls.

use ferry_ir::{BinaryFn, CompareOp, Expr, Precision, UnaryFn};

use super::proto::NodeProto;
use super::tensor::Attrs;
use super::{Ctx, Elem, Value, MAX_COLUMNS};
use crate::kernel::Kernel;
use crate::ImportError;

const F64: Precision = Precision::F64;

/// What both SVM operators share: the kernel and the support vectors.
struct Machines {
    kernel: Kernel,
    /// One row per support vector.
    vectors: Vec<Vec<f64>>,
}

fn machines(ctx: &Ctx, node: &NodeProto, width: usize) -> Result<Machines, ImportError> {
    let attrs = Attrs::new(node, ctx);
    let params = attrs.floats("kernel_params");
    let param = |k: usize, default: f64| params.get(k).copied().unwrap_or(default);
    let (gamma, coef0, degree) = (param(0, 0.0), param(1, 0.0), param(2, 0.0));
    let kernel = match attrs.string_or("kernel_type", "LINEAR")?.as_str() {
        "LINEAR" => Kernel::Linear,
        "POLY" => Kernel::Poly {
            gamma,
            coef0,
            degree,
        },
        "RBF" => Kernel::Rbf { gamma },
        "SIGMOID" => Kernel::Sigmoid { gamma, coef0 },
        other => return Err(attrs.error("kernel_type", format!("unknown kernel {other}"))),
    };
    let flat = attrs.floats("support_vectors");
    if width == 0 || !flat.len().is_multiple_of(width) || flat.len() / width > MAX_COLUMNS {
        return Err(attrs.error(
            "support_vectors",
            format!("{} values for inputs of {width} columns", flat.len()),
        ));
    }
    let vectors = flat.chunks(width).map(<[f64]>::to_vec).collect();
    Ok(Machines { kernel, vectors })
}

/// `K(x, v)` as onnxruntime computes it: in float64 from the float32 inputs, the
/// result rounded to float32.
fn kernel_expr(kernel: Kernel, x: &[Expr], v: &[f64]) -> Expr {
    let dot = || {
        x.iter()
            .zip(v)
            .map(|(xj, vj)| Expr::binary(BinaryFn::Mul, xj.clone(), Expr::constant(*vj), F64))
            .reduce(|a, b| Expr::binary(BinaryFn::Add, a, b, F64))
            .unwrap_or(Expr::constant(0.0))
    };
    let affine = |gamma: f64, coef0: f64| {
        Expr::binary(
            BinaryFn::Add,
            Expr::binary(BinaryFn::Mul, Expr::constant(gamma), dot(), F64),
            Expr::constant(coef0),
            F64,
        )
    };
    let k = match kernel {
        Kernel::Linear => dot(),
        Kernel::Poly {
            gamma,
            coef0,
            degree,
        } => Expr::binary(
            BinaryFn::Pow,
            affine(gamma, coef0),
            Expr::constant(degree),
            F64,
        ),
        Kernel::Rbf { gamma } => {
            let squared = x
                .iter()
                .zip(v)
                .map(|(xj, vj)| {
                    let d = Expr::binary(BinaryFn::Sub, xj.clone(), Expr::constant(*vj), F64);
                    Expr::binary(BinaryFn::Mul, d.clone(), d, F64)
                })
                .reduce(|a, b| Expr::binary(BinaryFn::Add, a, b, F64))
                .unwrap_or(Expr::constant(0.0));
            Expr::unary(
                UnaryFn::Exp,
                Expr::binary(BinaryFn::Mul, Expr::constant(-gamma), squared, F64),
                F64,
            )
        }
        Kernel::Sigmoid { gamma, coef0 } => Expr::unary(UnaryFn::Tanh, affine(gamma, coef0), F64),
    };
    Expr::unary(UnaryFn::Cast, k, Precision::F32)
}

/// The numeric input columns of an SVM node.
fn inputs(ctx: &Ctx, node: &NodeProto) -> Result<Vec<Expr>, ImportError> {
    match ctx.input(node, 0)? {
        Value::Num { cols, .. } => Ok(cols.clone()),
        _ => Err(ctx.unsupported(node, "its input is not a numeric tensor")),
    }
}

/// One derived column per support vector: its kernel value, named after the node's
/// score output.
fn kernel_columns(ctx: &mut Ctx, node: &NodeProto, m: &Machines, x: &[Expr]) -> Vec<usize> {
    let name = node.output.last().cloned().unwrap_or_default();
    m.vectors
        .iter()
        .enumerate()
        .map(|(s, v)| ctx.column_of(kernel_expr(m.kernel, x, v), &format!("{name}~k{s}")))
        .collect()
}

/// `Σ w_s·K_s + rho` in `precision`, then float32. Measured against onnxruntime 1.31:
/// its regressor sums in float32 (within one float32 ulp of this), its classifier in
/// float64 (within 4 ulps; a float32 sum is 100 ulps off on unscaled inputs).
fn machine(kernels: &[usize], weights: &[f64], rho: f64, precision: Precision) -> Expr {
    let sum = Expr::Dot {
        columns: kernels.to_vec(),
        weights: weights.to_vec(),
        bias: 0.0,
        precision,
    };
    let value = Expr::binary(BinaryFn::Add, sum, Expr::constant(rho), precision);
    match precision {
        Precision::F32 => value,
        Precision::F64 => Expr::unary(UnaryFn::Cast, value, Precision::F32),
    }
}

fn refuse_post_transform(
    ctx: &Ctx,
    node: &NodeProto,
    attrs: &Attrs<'_>,
) -> Result<(), ImportError> {
    match attrs.string_or("post_transform", "NONE")?.as_str() {
        "NONE" => Ok(()),
        other => Err(ctx.unsupported(node, &format!("post_transform {other} on an SVM"))),
    }
}

pub(crate) fn svm_regressor(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let x = inputs(ctx, node)?;
    let attrs = Attrs::new(node, ctx);
    refuse_post_transform(ctx, node, &attrs)?;
    if !attrs.floats("prob_a").is_empty() {
        return Err(attrs.error("prob_a", "probabilities on a regressor"));
    }
    if attrs.int_or("one_class", 0)? != 0 {
        return Err(ctx.unsupported(node, "a one-class SVM (OneClassSVM)"));
    }
    let coefficients = attrs.floats("coefficients");
    let rho = match attrs.floats("rho").as_slice() {
        [] => 0.0,
        [r] => *r,
        _ => return Err(attrs.error("rho", "expected one value")),
    };
    let n_supports = attrs.int_or("n_supports", 0)?;
    let value = if n_supports == 0 {
        // No support vectors: a linear model over the inputs.
        if coefficients.len() != x.len() {
            return Err(attrs.error(
                "coefficients",
                format!("{} values for {} inputs", coefficients.len(), x.len()),
            ));
        }
        let m = Machines {
            kernel: Kernel::Linear,
            vectors: vec![coefficients],
        };
        let k = kernel_columns(ctx, node, &m, &x);
        machine(&k, &[1.0], rho, Precision::F32)
    } else {
        let m = machines(ctx, node, x.len())?;
        if m.vectors.len() as i64 != n_supports || coefficients.len() != m.vectors.len() {
            return Err(attrs.error(
                "coefficients",
                format!(
                    "{} coefficients and {} support vectors for n_supports {n_supports}",
                    coefficients.len(),
                    m.vectors.len()
                ),
            ));
        }
        let k = kernel_columns(ctx, node, &m, &x);
        machine(&k, &coefficients, rho, Precision::F32)
    };
    let name = node.output.first().cloned().unwrap_or_default();
    let column = ctx.column_of(value, &name);
    ctx.set_output(
        node,
        0,
        Value::Num {
            cols: vec![Expr::column(column)],
            elem: Elem::F32,
        },
    );
    Ok(())
}

pub(crate) fn svm_classifier(ctx: &mut Ctx, node: &NodeProto) -> Result<(), ImportError> {
    let x = inputs(ctx, node)?;
    let attrs = Attrs::new(node, ctx);
    refuse_post_transform(ctx, node, &attrs)?;
    let classes =
        super::estimators::class_labels(&attrs, "classlabels_ints", "classlabels_strings")?;
    let n = classes.len();
    if n < 2 {
        return Err(attrs.error("classlabels", "a classifier needs at least two classes"));
    }
    let (prob_a, prob_b) = (attrs.floats("prob_a"), attrs.floats("prob_b"));
    let platt = if prob_a.is_empty() {
        None
    } else if n > MAX_COUPLED_CLASSES {
        return Err(ctx.unsupported(
            node,
            &format!(
                "SVM probabilities of {n} classes (ferry unrolls libsvm's pairwise coupling \
                 up to {MAX_COUPLED_CLASSES} classes; export with probability=False)"
            ),
        ));
    } else if prob_a.len() != n * (n - 1) / 2 || prob_b.len() != prob_a.len() {
        return Err(attrs.error(
            "prob_b",
            format!(
                "{} prob_a and {} prob_b values for {} pairs of classes",
                prob_a.len(),
                prob_b.len(),
                n * (n - 1) / 2
            ),
        ));
    } else {
        Some((prob_a.to_vec(), prob_b.to_vec()))
    };
    let per_class = attrs.ints("vectors_per_class").to_vec();
    if per_class.is_empty() {
        return Err(ctx.unsupported(
            node,
            "a linear SVMClassifier without support vectors (ferry reads kernel machines)",
        ));
    }
    let m = machines(ctx, node, x.len())?;
    if per_class.len() != n
        || per_class.iter().any(|c| *c < 0)
        || per_class.iter().sum::<i64>() != m.vectors.len() as i64
    {
        return Err(attrs.error(
            "vectors_per_class",
            format!(
                "{per_class:?} for {n} classes and {} support vectors",
                m.vectors.len()
            ),
        ));
    }
    let coefficients = attrs.floats("coefficients");
    let n_vectors = m.vectors.len();
    if coefficients.len() != (n - 1) * n_vectors {
        return Err(attrs.error(
            "coefficients",
            format!(
                "{} values; {n} classes and {n_vectors} support vectors need {}",
                coefficients.len(),
                (n - 1) * n_vectors
            ),
        ));
    }
    let rho = attrs.floats("rho");
    let pairs = n * (n - 1) / 2;
    if rho.len() != pairs {
        return Err(attrs.error(
            "rho",
            format!("{} values for {pairs} class pairs", rho.len()),
        ));
    }
    let kernels = kernel_columns(ctx, node, &m, &x);
    let mut start = vec![0usize];
    for c in &per_class {
        start.push(start.last().copied().unwrap_or(0) + *c as usize);
    }
    let name = node.output.get(1).cloned().unwrap_or_default();
    // The machines in onnxruntime's order: (0,1), (0,2), …, (1,2), …
    let mut values = Vec::with_capacity(pairs);
    let mut votes: Vec<Vec<Expr>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in i + 1..n {
            let p = values.len();
            // Class i's vectors weighted by row j-1, class j's by row i.
            let mut columns = Vec::new();
            let mut weights = Vec::new();
            for (class, row) in [(i, j - 1), (j, i)] {
                for s in start[class]..start[class + 1] {
                    columns.push(kernels[s]);
                    weights.push(coefficients[row * n_vectors + s]);
                }
            }
            let value = machine(&columns, &weights, rho[p], F64);
            let v = Expr::column(ctx.column_of(value, &format!("{name}[{p}]")));
            let positive = Expr::compare(CompareOp::Gt, v.clone(), Expr::constant(0.0));
            let not_positive = Expr::compare(CompareOp::Le, v.clone(), Expr::constant(0.0));
            votes[i].push(positive);
            votes[j].push(not_positive);
            values.push(v);
        }
    }
    let label = first_most_votes(ctx, votes, &name);
    // Two classes: onnxruntime writes [-v, v].
    let scores = if let Some((a, b)) = platt {
        libsvm_probabilities(ctx, &values, (&a, &b), n, &name)
    } else if n == 2 {
        let v = values[0].clone();
        vec![Expr::unary(UnaryFn::Neg, v.clone(), Precision::F32), v]
    } else {
        values
    };
    ctx.set_output(
        node,
        0,
        Value::Label {
            classes,
            column: Some(label),
        },
    );
    ctx.set_output(
        node,
        1,
        Value::Num {
            cols: scores,
            elem: Elem::F32,
        },
    );
    Ok(())
}

/// scikit-learn's class probabilities from the pairwise machine values `v` (in the
/// order (0,1), (0,2), …, (1,2), …; positive for the first class of the pair), as its
/// bundled libsvm computes them, all in float64:
/// * each pair's probability of its first class, `r = 1 / (1 + exp(A·v + B))` (written
///   as libsvm's `sigmoid_predict` does on each side of `A·v + B = 0`), held within
///   [1e-7, 1 - 1e-7];
/// * then libsvm's `multiclass_probability`, which scikit-learn's libsvm runs for two
///   classes as well: from `p = 1/k`, passes of a coordinate descent until the error is
///   below `0.005 / k` (up to 100 passes). For two classes that leaves `p` up to 0.004
///   from `(r, 1 - r)`.
///
/// The descent stopped after at most four passes for every matrix tried (a million
/// random two-class `r`; 20,000 random, extreme and U-shaped matrices for each of 3–10
/// classes). ferry unrolls [`PASSES`], each kept only where the one before had not
/// stopped; a row that would need more has missing probabilities, not different ones.
/// The label stays the vote's: scikit-learn's `predict` does not read the probabilities.
fn libsvm_probabilities(
    ctx: &mut Ctx,
    v: &[Expr],
    (prob_a, prob_b): (&[f64], &[f64]),
    k: usize,
    name: &str,
) -> Vec<Expr> {
    const MIN_PROB: f64 = 1e-7;
    let eps = 0.005 / k as f64;
    let c = Expr::constant;
    let add = |x, y| Expr::binary(BinaryFn::Add, x, y, F64);
    let sub = |x, y| Expr::binary(BinaryFn::Sub, x, y, F64);
    let mul = |x, y| Expr::binary(BinaryFn::Mul, x, y, F64);
    let div = |x, y| Expr::binary(BinaryFn::Div, x, y, F64);
    let exp = |x| Expr::unary(UnaryFn::Exp, x, F64);
    let mut count = 0;
    let mut col = |ctx: &mut Ctx, e: Expr| {
        count += 1;
        Expr::column(ctx.column_of(e, &format!("{name}~prob{count}")))
    };
    // Sums as libsvm accumulates them: left to right (its `0 +` first term is exact).
    let sum = |terms: Vec<Expr>| terms.into_iter().reduce(add).unwrap_or(c(0.0));

    // r[i][j]: the pairwise probability of class i against class j.
    let mut r = vec![vec![c(0.0); k]; k];
    let pairs = (0..k).flat_map(|i| (i + 1..k).map(move |j| (i, j)));
    for (pair, (i, j)) in pairs.enumerate() {
        let f = add(mul(v[pair].clone(), c(prob_a[pair])), c(prob_b[pair]));
        let f = col(ctx, f);
        let e = exp(Expr::unary(UnaryFn::Neg, f.clone(), F64));
        let sigmoid = Expr::if_else(
            Expr::compare(CompareOp::Ge, f.clone(), c(0.0)),
            div(e.clone(), add(c(1.0), e)),
            div(c(1.0), add(c(1.0), exp(f))),
        );
        let clamped = Expr::binary(
            BinaryFn::Min,
            Expr::binary(BinaryFn::Max, sigmoid, c(MIN_PROB), F64),
            c(1.0 - MIN_PROB),
            F64,
        );
        r[i][j] = col(ctx, clamped);
        r[j][i] = col(ctx, sub(c(1.0), r[i][j].clone()));
    }
    // Q[t][t] = Σ_{j≠t} r[j][t]²; Q[t][j] = -r[j][t]·r[t][j].
    let mut q = vec![vec![c(0.0); k]; k];
    for t in 0..k {
        let squares = (0..k)
            .filter(|&j| j != t)
            .map(|j| mul(r[j][t].clone(), r[j][t].clone()))
            .collect();
        q[t][t] = col(ctx, sum(squares));
        for j in t + 1..k {
            let product = mul(r[j][t].clone(), r[t][j].clone());
            q[t][j] = col(ctx, Expr::unary(UnaryFn::Neg, product, F64));
            q[j][t] = q[t][j].clone();
        }
    }
    // Qp and pQp of a p, and whether the descent stops there.
    let stops = |ctx: &mut Ctx, p: &[Expr], col: &mut dyn FnMut(&mut Ctx, Expr) -> Expr| {
        let qp: Vec<Expr> = (0..k)
            .map(|t| {
                let terms = (0..k).map(|j| mul(q[t][j].clone(), p[j].clone())).collect();
                col(ctx, sum(terms))
            })
            .collect();
        let pqp = col(
            ctx,
            sum((0..k).map(|t| mul(p[t].clone(), qp[t].clone())).collect()),
        );
        let error = (0..k)
            .map(|t| Expr::unary(UnaryFn::Abs, sub(qp[t].clone(), pqp.clone()), F64))
            .reduce(|a, b| Expr::binary(BinaryFn::Max, a, b, F64))
            .expect("two classes or more");
        let stop = col(ctx, Expr::compare(CompareOp::Lt, error, c(eps)));
        (qp, pqp, stop)
    };

    let mut p = vec![c(1.0 / k as f64); k];
    for _ in 0..PASSES {
        let (mut qp, mut pqp, stop) = stops(ctx, &p, &mut col);
        let mut next = p.clone();
        for t in 0..k {
            let diff = col(ctx, div(sub(pqp.clone(), qp[t].clone()), q[t][t].clone()));
            let one_diff = add(c(1.0), diff.clone());
            next[t] = add(next[t].clone(), diff.clone());
            let grown = mul(
                diff.clone(),
                add(
                    mul(diff.clone(), q[t][t].clone()),
                    mul(c(2.0), qp[t].clone()),
                ),
            );
            pqp = col(
                ctx,
                div(div(add(pqp, grown), one_diff.clone()), one_diff.clone()),
            );
            for j in 0..k {
                let moved = add(qp[j].clone(), mul(diff.clone(), q[t][j].clone()));
                qp[j] = col(ctx, div(moved, one_diff.clone()));
                next[j] = col(ctx, div(next[j].clone(), one_diff.clone()));
            }
        }
        p = (0..k)
            .map(|j| {
                col(
                    ctx,
                    Expr::if_else(stop.clone(), p[j].clone(), next[j].clone()),
                )
            })
            .collect();
    }
    let (_, _, stopped) = stops(ctx, &p, &mut col);
    p.into_iter()
        .map(|pj| {
            let pj = Expr::if_else(stopped.clone(), pj, c(f64::NAN));
            Expr::unary(UnaryFn::Cast, pj, Precision::F32)
        })
        .collect()
}

/// Passes of libsvm's coupling descent that [`libsvm_probabilities`] unrolls.
const PASSES: usize = 6;

/// Most classes whose probabilities are coupled: each pass of the descent is about
/// 2k² derived columns.
const MAX_COUPLED_CLASSES: usize = 32;

/// A column holding the index of the class with the most votes, the first in class
/// order on a tie: a running maximum over the classes, one column per step.
fn first_most_votes(ctx: &mut Ctx, votes: Vec<Vec<Expr>>, name: &str) -> usize {
    let mut best = Expr::constant(0.0);
    let mut most = Expr::constant(-1.0);
    for (k, terms) in votes.into_iter().enumerate() {
        let count = terms
            .into_iter()
            .reduce(|a, b| Expr::binary(BinaryFn::Add, a, b, F64))
            .unwrap_or(Expr::constant(0.0));
        let count = Expr::column(ctx.column_of(count, &format!("{name}~votes{k}")));
        let more = Expr::compare(CompareOp::Gt, count.clone(), most.clone());
        best = Expr::column(ctx.column_of(
            Expr::If {
                cond: Box::new(more),
                then: Box::new(Expr::constant(k as f64)),
                otherwise: Box::new(best),
            },
            &format!("{name}~best{k}"),
        ));
        most = Expr::column(ctx.column_of(
            Expr::binary(BinaryFn::Max, most, count, F64),
            &format!("{name}~most{k}"),
        ));
    }
    match best {
        Expr::Column { index } => index,
        _ => unreachable!("column_of gives a column"),
    }
}

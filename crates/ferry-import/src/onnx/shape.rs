//! Per-row tensors of rank 3 or more. ferry holds a numeric value as one expression per
//! element of a row, row-major; most graphs only ever have `[N, k]`, and the ops treat
//! them as `k` columns. Some converters compute with `[N, a, b]` (skl2onnx's naive Bayes
//! reshapes X to `[N, 1, k]` and subtracts a `[1, classes, k]` table), and there the
//! element pairing of a broadcast depends on the shape, not only on the lengths. So a
//! value of such a shape carries its row dims (`Ctx::row_shapes`), the ops below honour
//! them, and every other op refuses one whose pairing depends on them ([`is_layered`])
//! rather than misread it.

use super::proto::NodeProto;
use super::{Ctx, Value};
use crate::ImportError;

/// Elementwise ops of one operand: their output has the shape of their input.
pub(crate) const KEEPS_SHAPE: &[&str] = &[
    "Exp", "Log", "Abs", "Neg", "Sqrt", "Relu", "Tanh", "Floor", "Ceil", "Cast", "Identity",
];

/// Ops that read values with recorded row dims correctly: elementwise ops, broadcasting
/// arithmetic, reductions, and the reshapes.
pub(crate) fn handles_row_shapes(op: &str) -> bool {
    KEEPS_SHAPE.contains(&op)
        || matches!(
            op,
            "Add"
                | "Sub"
                | "Mul"
                | "Div"
                | "Pow"
                | "Max"
                | "Min"
                | "Reshape"
                | "Flatten"
                | "Squeeze"
                | "Unsqueeze"
                | "ReduceSum"
                | "ReduceMean"
                | "ReduceMax"
                | "ReduceMin"
                | "ReduceProd"
                | "ReduceLogSumExp"
        )
}

/// Whether the pairing of a row's elements depends on its dims: more than one of them
/// is above 1. A `[1, k]` or `[k, 1]` row reads as `k` columns anywhere.
pub(crate) fn is_layered(dims: &[usize]) -> bool {
    dims.iter().filter(|d| **d != 1).count() > 1
}

/// `[N, 3, 4]` for row dims `[3, 4]`.
pub(crate) fn show(dims: &[usize]) -> String {
    let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
    format!("[N, {}]", dims.join(", "))
}

/// The recorded row dims of input `i` of `node` (absent for an `[N, k]` value).
pub(crate) fn row_dims(ctx: &Ctx, node: &NodeProto, i: usize) -> Option<Vec<usize>> {
    let name = node.input.get(i)?;
    ctx.row_shapes.get(name).cloned()
}

/// Records the row dims of output 0 of `node`: only shapes of rank 3 or more are kept,
/// an `[N, k]` value needs none.
pub(crate) fn set_row_dims(ctx: &mut Ctx, node: &NodeProto, dims: Vec<usize>) {
    if let Some(name) = node.output.first().filter(|n| !n.is_empty()) {
        if dims.len() >= 2 {
            ctx.row_shapes.insert(name.clone(), dims);
        } else {
            ctx.row_shapes.remove(name);
        }
    }
}

/// The full shape of operand `i` for broadcasting, `None` standing for the batch
/// axis: `[N] + row dims` for per-row numbers, the tensor's dims for a constant.
fn full_shape(ctx: &Ctx, node: &NodeProto, i: usize, len: usize) -> Option<Vec<Option<usize>>> {
    match ctx.input(node, i).ok()? {
        Value::Const(t) => Some(t.dims.iter().map(|d| Some(*d)).collect()),
        _ => {
            let dims = row_dims(ctx, node, i).unwrap_or_else(|| vec![len]);
            Some(
                std::iter::once(None)
                    .chain(dims.into_iter().map(Some))
                    .collect(),
            )
        }
    }
}

/// A broadcast's output row dims, and for each output element the elements of the
/// two operands it combines.
pub(crate) type Pairing = (Vec<usize>, Vec<(usize, usize)>);

/// Numpy broadcasting of inputs 0 and 1 of `node` (of `a_len` and `b_len` elements per
/// row) when either has recorded row dims: the output's row dims and, for each output
/// element, the elements of `a` and `b` it combines. `None` when neither has row dims
/// (the ops pair `[N, k]` columns themselves).
pub(crate) fn broadcast(
    ctx: &Ctx,
    node: &NodeProto,
    a_len: usize,
    b_len: usize,
) -> Result<Option<Pairing>, ImportError> {
    if row_dims(ctx, node, 0).is_none() && row_dims(ctx, node, 1).is_none() {
        return Ok(None);
    }
    let (Some(a), Some(b)) = (
        full_shape(ctx, node, 0, a_len),
        full_shape(ctx, node, 1, b_len),
    ) else {
        return Ok(None);
    };
    let rank = a.len().max(b.len());
    let align = |s: &[Option<usize>]| -> Vec<Option<usize>> {
        std::iter::repeat_n(Some(1), rank - s.len())
            .chain(s.iter().copied())
            .collect()
    };
    let (a, b) = (align(&a), align(&b));
    let show = |s: &[Option<usize>]| -> String {
        let dims: Vec<String> = s
            .iter()
            .map(|d| d.map_or("N".to_string(), |d| d.to_string()))
            .collect();
        format!("[{}]", dims.join(", "))
    };
    let mismatch = || {
        ctx.node_error(
            node,
            format!("cannot broadcast {} with {}", show(&a), show(&b)),
        )
    };
    let mut out = Vec::with_capacity(rank);
    for (x, y) in a.iter().zip(&b) {
        out.push(match (x, y) {
            (None, None) | (None, Some(1)) | (Some(1), None) => None,
            (Some(x), Some(y)) if x == y || *y == 1 => Some(*x),
            (Some(1), Some(y)) => Some(*y),
            _ => return Err(mismatch()),
        });
    }
    // The batch axis must stay first.
    if out[0].is_some() || out[1..].iter().any(Option::is_none) {
        return Err(mismatch());
    }
    let dims: Vec<usize> = out[1..].iter().map(|d| d.unwrap_or(1)).collect();
    let index = |s: &[Option<usize>], at: &[usize]| -> usize {
        // Row-major over the operand's own row dims; a dim of 1 repeats.
        let mut flat = 0;
        for (d, i) in s[1..].iter().zip(at) {
            let d = d.unwrap_or(1);
            flat = flat * d + if d == 1 { 0 } else { *i };
        }
        flat
    };
    let pairs = indices(&dims)
        .map(|at| (index(&a, &at), index(&b, &at)))
        .collect();
    Ok(Some((dims, pairs)))
}

/// The element groups a reduction over `axes` (of the full shape, batch axis 0) of a
/// value with row dims `dims` folds, in output order, and the output's row dims.
pub(crate) fn reduce_groups(
    dims: &[usize],
    axes: &[i64],
    keepdims: bool,
) -> Result<(Vec<Vec<usize>>, Vec<usize>), String> {
    if axes.is_empty() {
        return Err("a reduction over every axis, the batch axis included".into());
    }
    let rank = dims.len() as i64 + 1;
    let mut reduced = vec![false; dims.len()];
    for &axis in axes {
        let a = if axis < 0 { axis + rank } else { axis };
        if a <= 0 || a >= rank {
            return Err(format!(
                "a reduction over axis {axis} of a {} tensor (ferry reduces within a row)",
                show(dims)
            ));
        }
        reduced[(a - 1) as usize] = true;
    }
    let out_dims: Vec<usize> = dims
        .iter()
        .zip(&reduced)
        .filter_map(|(d, r)| match (r, keepdims) {
            (false, _) => Some(*d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    let kept: Vec<usize> = (0..dims.len()).filter(|k| !reduced[*k]).collect();
    let n_out: usize = kept.iter().map(|k| dims[*k]).product();
    let mut groups = vec![Vec::new(); n_out];
    for (flat, at) in indices(dims).enumerate() {
        let group = kept.iter().fold(0, |g, k| g * dims[*k] + at[*k]);
        groups[group].push(flat);
    }
    Ok((groups, out_dims))
}

/// Every multi-index of a tensor of `dims`, in row-major order.
fn indices(dims: &[usize]) -> impl Iterator<Item = Vec<usize>> + '_ {
    let total: usize = dims.iter().product();
    let mut at = vec![0usize; dims.len()];
    (0..total).map(move |_| {
        let current = at.clone();
        for k in (0..dims.len()).rev() {
            at[k] += 1;
            if at[k] < dims[k] {
                break;
            }
            at[k] = 0;
        }
        current
    })
}

#[cfg(test)]
mod tests {
    use super::reduce_groups;

    #[test]
    fn reducing_the_last_axis_groups_each_row_of_the_table() {
        let (groups, dims) = reduce_groups(&[2, 3], &[2], false).unwrap();
        assert_eq!(groups, vec![vec![0, 1, 2], vec![3, 4, 5]]);
        assert_eq!(dims, vec![2]);
        let (groups, dims) = reduce_groups(&[2, 3], &[-2], true).unwrap();
        assert_eq!(groups, vec![vec![0, 3], vec![1, 4], vec![2, 5]]);
        assert_eq!(dims, vec![1, 3]);
        assert!(reduce_groups(&[2, 3], &[0], false).is_err());
    }
}

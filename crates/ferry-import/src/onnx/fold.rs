//! Ops whose inputs are all constants, computed at import. Converters build some
//! tables in the graph rather than storing them: skl2onnx's BernoulliNB takes
//! `log(1 - exp(log p))` of its feature table and sums it over the features. Such a
//! table is a constant tensor of its own shape, not per-row columns: a reduction over
//! its axis 0 is over the table's rows, not over the batch.
//!
//! Values follow the IR's reference arithmetic ([`UnaryFn::apply`],
//! [`BinaryFn::apply`]) in float32 where an operand is float32, so a folded table holds
//! what evaluating the same ops per row would give.

use ferry_ir::{BinaryFn, UnaryFn};

use super::proto::NodeProto;
use super::tensor::{Attrs, Data, Tensor};
use super::{Ctx, Elem, Value};
use crate::ImportError;

/// Largest tensor a fold may produce (elements, 32 MB).
const MAX_ELEMENTS: usize = 1 << 22;

/// Computes `node` when it is a foldable op and every input is a numeric constant;
/// `Ok(false)` leaves it to the ops.
pub(crate) fn try_fold(ctx: &mut Ctx, node: &NodeProto, op: &str) -> Result<bool, ImportError> {
    let unary = match op {
        "Exp" => Some(UnaryFn::Exp),
        "Log" => Some(UnaryFn::Ln),
        "Neg" => Some(UnaryFn::Neg),
        "Abs" => Some(UnaryFn::Abs),
        "Sqrt" => Some(UnaryFn::Sqrt),
        _ => None,
    };
    let binary = match op {
        "Add" => Some(BinaryFn::Add),
        "Sub" => Some(BinaryFn::Sub),
        "Mul" => Some(BinaryFn::Mul),
        "Div" => Some(BinaryFn::Div),
        "Pow" => Some(BinaryFn::Pow),
        _ => None,
    };
    let reduce = matches!(op, "ReduceSum" | "ReduceMean");
    if op == "Concat" {
        return concat(ctx, node);
    }
    if unary.is_none() && binary.is_none() && !reduce {
        return Ok(false);
    }
    let arity = if binary.is_some() { 2 } else { 1 };
    let mut operands = Vec::with_capacity(arity);
    for i in 0..arity {
        match ctx.input(node, i)? {
            Value::Const(t) if t.numbers().is_some() => operands.push(t.clone()),
            _ => return Ok(false),
        }
    }
    let out = if let Some(f) = unary {
        let t = &operands[0];
        let p = Elem::float(t.float32).precision();
        let values = numbers(t).iter().map(|x| f.apply(*x, p)).collect();
        tensor(t.dims.clone(), values, t.float32)
    } else if let Some(f) = binary {
        let (a, b) = (&operands[0], &operands[1]);
        let float32 = a.float32 || b.float32;
        let dims = broadcast(&a.dims, &b.dims)
            .ok_or_else(|| ctx.node_error(node, "cannot broadcast the constant operands"))?;
        let len: usize = dims.iter().product();
        if len > MAX_ELEMENTS {
            return Err(ctx.node_error(node, format!("a constant of {len} elements")));
        }
        let (ia, ib) = (source_index(&a.dims, &dims), source_index(&b.dims, &dims));
        let (va, vb) = (numbers(a), numbers(b));
        let p = Elem::float(float32).precision();
        let values = (0..len).map(|k| f.apply(va[ia(k)], vb[ib(k)], p)).collect();
        tensor(dims, values, float32)
    } else {
        let attrs = Attrs::new(node, ctx);
        let axes = match ctx.has_input(node, 1) {
            true => match ctx.input(node, 1)? {
                Value::Const(t) => numbers(t).iter().map(|x| *x as i64).collect(),
                _ => return Ok(false),
            },
            false => attrs.ints("axes").to_vec(),
        };
        let keepdims = attrs.int_or("keepdims", 1)? != 0;
        if axes.is_empty() && attrs.int_or("noop_with_empty_axes", 0)? != 0 {
            operands[0].clone()
        } else {
            reduce_const(&operands[0], &axes, keepdims, op == "ReduceMean")
                .map_err(|why| ctx.node_error(node, why))?
        }
    };
    ctx.set_output(node, 0, Value::Const(out));
    Ok(true)
}

/// A Concat of constants along its axis.
fn concat(ctx: &mut Ctx, node: &NodeProto) -> Result<bool, ImportError> {
    let mut parts = Vec::with_capacity(node.input.len());
    for i in 0..node.input.len() {
        match ctx.input(node, i)? {
            Value::Const(t) if t.numbers().is_some() => parts.push(t.clone()),
            _ => return Ok(false),
        }
    }
    let Some(first) = parts.first() else {
        return Ok(false);
    };
    let rank = first.dims.len();
    let axis = Attrs::new(node, ctx).int_or("axis", 0)?;
    let axis = if axis < 0 { axis + rank as i64 } else { axis };
    let same_except_axis = |d: &[usize]| {
        d.len() == rank && (0..rank).all(|k| k as i64 == axis || d[k] == first.dims[k])
    };
    if axis < 0 || axis >= rank as i64 || !parts.iter().all(|t| same_except_axis(&t.dims)) {
        return Err(ctx.node_error(node, "constants of shapes that do not concatenate"));
    }
    let axis = axis as usize;
    // Row-major: blocks of the axis and everything after it, taken in turn.
    let outer: usize = first.dims[..axis].iter().product();
    let mut values = Vec::new();
    for o in 0..outer {
        for t in &parts {
            let block: usize = t.dims[axis..].iter().product();
            values.extend_from_slice(&numbers(t)[o * block..(o + 1) * block]);
        }
    }
    let mut dims = first.dims.clone();
    dims[axis] = parts.iter().map(|t| t.dims[axis]).sum();
    let float32 = parts.iter().any(|t| t.float32);
    ctx.set_output(node, 0, Value::Const(tensor(dims, values, float32)));
    Ok(true)
}

fn numbers(t: &Tensor) -> &[f64] {
    t.numbers().unwrap_or_default()
}

fn tensor(dims: Vec<usize>, values: Vec<f64>, float32: bool) -> Tensor {
    Tensor {
        dims,
        data: Data::Num(values),
        float32,
    }
}

/// numpy's broadcast of two shapes.
fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let at = |d: &[usize], k: usize| {
        let pad = rank - d.len();
        if k < pad {
            1
        } else {
            d[k - pad]
        }
    };
    (0..rank)
        .map(|k| match (at(a, k), at(b, k)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// Maps a row-major index of the broadcast shape `out` to the index of the element of
/// a tensor of shape `dims` it reads.
fn source_index(dims: &[usize], out: &[usize]) -> impl Fn(usize) -> usize {
    let pad = out.len() - dims.len();
    let dims: Vec<usize> = std::iter::repeat_n(1, pad)
        .chain(dims.iter().copied())
        .collect();
    let out = out.to_vec();
    move |mut k| {
        let (mut index, mut stride) = (0, 1);
        for axis in (0..out.len()).rev() {
            let coordinate = k % out[axis];
            k /= out[axis];
            if dims[axis] != 1 {
                index += coordinate * stride;
            }
            stride *= dims[axis];
        }
        index
    }
}

/// A sum (or mean) over `axes` of a constant (every axis when none), in its precision,
/// each group summed in index order.
fn reduce_const(t: &Tensor, axes: &[i64], keepdims: bool, mean: bool) -> Result<Tensor, String> {
    let rank = t.dims.len() as i64;
    let mut shifted = Vec::with_capacity(axes.len().max(t.dims.len()));
    for &a in axes {
        let axis = if a < 0 { a + rank } else { a };
        if axis < 0 || axis >= rank {
            return Err(format!(
                "axis {a} is out of range for a constant of rank {rank}"
            ));
        }
        shifted.push(axis + 1);
    }
    if axes.is_empty() {
        shifted.extend(1..=rank);
    }
    // A constant has no batch axis: its axis k is axis k + 1 of a value with row dims
    // `t.dims`.
    let (groups, dims) = super::shape::reduce_groups(&t.dims, &shifted, keepdims)?;
    let p = Elem::float(t.float32).precision();
    let v = numbers(t);
    let values = groups
        .iter()
        .map(|g| {
            let sum = g
                .iter()
                .map(|k| v[*k])
                .reduce(|a, b| BinaryFn::Add.apply(a, b, p))
                .unwrap_or(0.0);
            if mean {
                BinaryFn::Div.apply(sum, g.len() as f64, p)
            } else {
                sum
            }
        })
        .collect();
    Ok(tensor(dims, values, t.float32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_follows_numpy() {
        assert_eq!(broadcast(&[10, 2], &[]), Some(vec![10, 2]));
        assert_eq!(broadcast(&[1, 2], &[10, 1]), Some(vec![10, 2]));
        assert_eq!(broadcast(&[3], &[10, 2]), None);
        let read = source_index(&[1, 2], &[3, 2]);
        assert_eq!((0..6).map(read).collect::<Vec<_>>(), [0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn a_sum_over_the_rows_of_a_table() {
        let t = tensor(vec![3, 2], vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0], false);
        let over_rows = reduce_const(&t, &[0], false, false).unwrap();
        assert_eq!(over_rows.dims, [2]);
        assert_eq!(numbers(&over_rows), [6.0, 60.0]);
        let mean_of_columns = reduce_const(&t, &[-1], true, true).unwrap();
        assert_eq!(mean_of_columns.dims, [3, 1]);
        assert_eq!(numbers(&mean_of_columns), [5.5, 11.0, 16.5]);
        assert!(reduce_const(&t, &[2], false, false).is_err());
    }
}

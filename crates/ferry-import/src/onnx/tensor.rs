//! Node attributes and constant tensors, read with the checks a hostile file needs: a
//! tensor's declared shape must match the data actually present, and no size is trusted
//! before it is checked.

use super::proto::{self, tensor_proto::DataType, AttributeProto, NodeProto, TensorProto};
use super::{Ctx, FORMAT};
use crate::ImportError;

/// Largest number of elements ferry accepts in one tensor or attribute list.
pub(crate) const MAX_ELEMENTS: usize = 50_000_000;

/// A constant tensor's data, widened: numbers to f64 (int64 beyond 2^53 are refused),
/// strings as UTF-8.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Data {
    Num(Vec<f64>),
    Str(Vec<String>),
}

/// A constant tensor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tensor {
    pub dims: Vec<usize>,
    pub data: Data,
    /// Whether the values are float32 (so arithmetic with them is float32).
    pub float32: bool,
}

impl Tensor {
    pub fn len(&self) -> usize {
        match &self.data {
            Data::Num(v) => v.len(),
            Data::Str(v) => v.len(),
        }
    }

    pub fn numbers(&self) -> Option<&[f64]> {
        match &self.data {
            Data::Num(v) => Some(v),
            Data::Str(_) => None,
        }
    }
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, ImportError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ImportError::Parse {
        format: FORMAT,
        message: format!("{what} is not UTF-8"),
    })
}

/// Reads a constant tensor (an initializer or a `value` attribute).
pub(crate) fn tensor(t: &TensorProto, what: &str) -> Result<Tensor, ImportError> {
    let bad = |message: String| ImportError::Field {
        format: FORMAT,
        field: what.to_string(),
        message,
    };
    if t.data_location == Some(proto::tensor_proto::DataLocation::External as i32)
        || !t.external_data.is_empty()
    {
        return Err(bad(
            "the tensor's data is stored in an external file; ferry reads self-contained models only (save with all tensors inside)".into(),
        ));
    }
    let mut count: usize = 1;
    let mut dims = Vec::with_capacity(t.dims.len());
    for d in &t.dims {
        let d = usize::try_from(*d).map_err(|_| bad(format!("negative dimension {d}")))?;
        count = count
            .checked_mul(d)
            .filter(|c| *c <= MAX_ELEMENTS)
            .ok_or_else(|| {
                bad(format!(
                    "declares more than {MAX_ELEMENTS} elements (dimensions {:?})",
                    t.dims
                ))
            })?;
        dims.push(d);
    }
    let data_type = t.data_type.unwrap_or(0);
    let raw = t.raw_data.as_deref();
    let from_raw = |width: usize| -> Result<Option<&[u8]>, ImportError> {
        match raw {
            Some(raw) if raw.len() != count * width => Err(bad(format!(
                "raw data has {} bytes; dimensions {:?} need {}",
                raw.len(),
                t.dims,
                count * width
            ))),
            other => Ok(other),
        }
    };
    let check = |n: usize| -> Result<(), ImportError> {
        if n == count {
            Ok(())
        } else {
            Err(bad(format!(
                "holds {n} values; dimensions {:?} need {count}",
                t.dims
            )))
        }
    };
    let int64 = |v: i64| -> Result<f64, ImportError> {
        if v.unsigned_abs() > (1u64 << 53) {
            Err(bad(format!("integer {v} is too large to be exact")))
        } else {
            Ok(v as f64)
        }
    };
    let (data, float32) = match DataType::try_from(data_type) {
        Ok(DataType::Float) => {
            let values: Vec<f64> = match from_raw(4)? {
                Some(raw) => raw
                    .chunks_exact(4)
                    .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    .collect(),
                None => t.float_data.iter().map(|v| f64::from(*v)).collect(),
            };
            check(values.len())?;
            (Data::Num(values), true)
        }
        Ok(DataType::Double) => {
            let values: Vec<f64> = match from_raw(8)? {
                Some(raw) => raw
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect(),
                None => t.double_data.clone(),
            };
            check(values.len())?;
            (Data::Num(values), false)
        }
        Ok(DataType::Int64) => {
            let values: Vec<f64> = match from_raw(8)? {
                Some(raw) => raw
                    .chunks_exact(8)
                    .map(|b| int64(i64::from_le_bytes(b.try_into().expect("8 bytes"))))
                    .collect::<Result<_, _>>()?,
                None => t
                    .int64_data
                    .iter()
                    .map(|v| int64(*v))
                    .collect::<Result<_, _>>()?,
            };
            check(values.len())?;
            (Data::Num(values), false)
        }
        Ok(
            DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::Uint8 | DataType::Bool,
        ) => {
            let width = match DataType::try_from(data_type) {
                Ok(DataType::Int32) => 4,
                Ok(DataType::Int16) => 2,
                _ => 1,
            };
            let signed = !matches!(
                DataType::try_from(data_type),
                Ok(DataType::Uint8 | DataType::Bool)
            );
            let values: Vec<f64> = match from_raw(width)? {
                Some(raw) => raw
                    .chunks_exact(width)
                    .map(|b| match (width, signed) {
                        (4, _) => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                        (2, _) => f64::from(i16::from_le_bytes([b[0], b[1]])),
                        (_, true) => f64::from(b[0] as i8),
                        (_, false) => f64::from(b[0]),
                    })
                    .collect(),
                None => t.int32_data.iter().map(|v| f64::from(*v)).collect(),
            };
            check(values.len())?;
            (Data::Num(values), false)
        }
        Ok(DataType::String) => {
            check(t.string_data.len())?;
            let values = t
                .string_data
                .iter()
                .map(|s| utf8(s, what))
                .collect::<Result<_, _>>()?;
            (Data::Str(values), false)
        }
        _ => {
            return Err(ImportError::Unsupported {
                format: FORMAT,
                what: format!("{what}: tensor data type {data_type}"),
                hint: " (float, double, integers, bool and string tensors are)".into(),
            })
        }
    };
    Ok(Tensor {
        dims,
        data,
        float32,
    })
}

/// Typed attribute access for one node; every error names the node and the attribute.
pub(crate) struct Attrs<'a> {
    node: &'a NodeProto,
    ctx: &'a Ctx,
}

impl<'a> Attrs<'a> {
    pub fn new(node: &'a NodeProto, ctx: &'a Ctx) -> Attrs<'a> {
        Attrs { node, ctx }
    }

    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.node
            .attribute
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn error(&self, name: &str, message: impl Into<String>) -> ImportError {
        ImportError::Field {
            format: FORMAT,
            field: format!("{}, attribute `{name}`", self.ctx.describe(self.node)),
            message: message.into(),
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ImportError> {
        Ok(self.get(name).and_then(|a| a.i))
    }

    pub fn int_or(&self, name: &str, default: i64) -> Result<i64, ImportError> {
        Ok(self.int(name)?.unwrap_or(default))
    }

    pub fn float(&self, name: &str) -> Option<f32> {
        self.get(name).and_then(|a| a.f)
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, ImportError> {
        match self.get(name).and_then(|a| a.s.as_deref()) {
            Some(s) => Ok(Some(utf8(s, name)?)),
            None => Ok(None),
        }
    }

    pub fn string_or(&self, name: &str, default: &str) -> Result<String, ImportError> {
        Ok(self.string(name)?.unwrap_or_else(|| default.to_string()))
    }

    pub fn ints(&self, name: &str) -> &'a [i64] {
        self.get(name).map_or(&[], |a| a.ints.as_slice())
    }

    /// Float list widened to f64 (exact).
    pub fn floats(&self, name: &str) -> Vec<f64> {
        self.get(name).map_or_else(Vec::new, |a| {
            a.floats.iter().map(|f| f64::from(*f)).collect()
        })
    }

    pub fn strings(&self, name: &str) -> Result<Vec<String>, ImportError> {
        self.get(name).map_or(Ok(Vec::new()), |a| {
            a.strings.iter().map(|s| utf8(s, name)).collect()
        })
    }

    pub fn tensor(&self, name: &str) -> Result<Option<Tensor>, ImportError> {
        match self.get(name).and_then(|a| a.t.as_ref()) {
            Some(t) => Ok(Some(tensor(
                t,
                &format!("{}, attribute `{name}`", self.ctx.describe(self.node)),
            )?)),
            None => Ok(None),
        }
    }

    /// `name` as floats, or `name_as_tensor` (double) when present: ONNX-ML opset 3 adds
    /// the tensor forms for double precision.
    pub fn floats_or_tensor(&self, name: &str) -> Result<(Vec<f64>, bool), ImportError> {
        match self.tensor(&format!("{name}_as_tensor"))? {
            Some(t) => match t.data {
                Data::Num(v) => Ok((v, t.float32)),
                Data::Str(_) => Err(self.error(name, "expected numbers, found strings")),
            },
            None => Ok((self.floats(name), true)),
        }
    }

    /// An index attribute as usize, refusing negative or absurd values.
    pub fn index(&self, name: &str, value: i64, bound: usize) -> Result<usize, ImportError> {
        usize::try_from(value)
            .ok()
            .filter(|v| *v < bound)
            .ok_or_else(|| self.error(name, format!("index {value} is out of range 0..{bound}")))
    }
}

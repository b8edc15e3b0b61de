//! Binds the columns of a record batch to the model's inputs, producing one float64
//! column per input (NaN = missing, categories as codes).

use std::borrow::Cow;
use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use ferry_ir::{DType, Input, Model};

use crate::EvalError;

/// Level name → code for each categorical input with levels, built once per model.
pub(crate) struct Binder {
    levels: Vec<Option<LevelIndex>>,
}

struct LevelIndex {
    by_name: HashMap<String, f64>,
    /// The code of a value that is no level: NaN (missing) or -1.
    unseen: f64,
    /// Levels that are numbers, for matching `"1"` against `1.0` and numeric columns.
    by_number: Vec<(f64, f64)>,
}

impl LevelIndex {
    fn new(levels: &[String], unseen: ferry_ir::Unseen) -> LevelIndex {
        let by_name = levels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), i as f64))
            .collect();
        let by_number = levels
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.trim().parse::<f64>().ok().map(|n| (n, i as f64)))
            .collect();
        LevelIndex {
            by_name,
            by_number,
            unseen: unseen.code(),
        }
    }

    fn code_of_name(&self, name: &str) -> f64 {
        if let Some(code) = self.by_name.get(name) {
            return *code;
        }
        match name.trim().parse::<f64>() {
            Ok(n) => self.code_of_number(n),
            Err(_) => self.unseen,
        }
    }

    fn code_of_number(&self, n: f64) -> f64 {
        self.by_number
            .iter()
            .find(|(value, _)| *value == n)
            .map_or(self.unseen, |(_, code)| *code)
    }
}

impl Binder {
    pub(crate) fn new(model: &Model) -> Binder {
        Binder {
            levels: model
                .inputs
                .iter()
                .map(|i| i.levels.as_deref().map(|l| LevelIndex::new(l, i.unseen)))
                .collect(),
        }
    }

    /// One float64 column per model input, in input order.
    pub(crate) fn bind<'a>(
        &self,
        model: &Model,
        batch: &'a RecordBatch,
    ) -> Result<Vec<Cow<'a, [f64]>>, EvalError> {
        model
            .inputs
            .iter()
            .zip(&self.levels)
            .map(|(input, levels)| {
                let column =
                    batch
                        .column_by_name(&input.name)
                        .ok_or_else(|| EvalError::MissingColumn {
                            name: input.name.clone(),
                            inputs: model
                                .inputs
                                .iter()
                                .map(|i| i.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                        })?;
                to_f64(input, levels.as_ref(), column)
            })
            .collect()
    }
}

fn numeric<T>(array: &arrow_array::PrimitiveArray<T>, f: impl Fn(T::Native) -> f64) -> Vec<f64>
where
    T: arrow_array::ArrowPrimitiveType,
{
    if array.null_count() == 0 {
        array.values().iter().map(|v| f(*v)).collect()
    } else {
        array.iter().map(|v| v.map_or(f64::NAN, &f)).collect()
    }
}

fn to_f64<'a>(
    input: &Input,
    levels: Option<&LevelIndex>,
    column: &'a ArrayRef,
) -> Result<Cow<'a, [f64]>, EvalError> {
    let type_error = |expected: &str| EvalError::ColumnType {
        name: input.name.clone(),
        expected: expected.into(),
        found: column.data_type().to_string(),
    };
    // Strings are category names; they only make sense for a categorical input.
    // Dictionary-encoded strings (pandas categoricals in Parquet) are decoded first.
    let decoded = match column.data_type() {
        DataType::Dictionary(_, value) if value.is_string() => {
            Some(arrow_cast::cast(column, &DataType::Utf8)?)
        }
        _ => None,
    };
    let text = decoded.as_ref().unwrap_or(column);
    let strings: Option<Vec<Option<&str>>> = match text.data_type() {
        DataType::Utf8 => Some(text.as_string::<i32>().iter().collect()),
        DataType::LargeUtf8 => Some(text.as_string::<i64>().iter().collect()),
        DataType::Utf8View => Some(text.as_string_view().iter().collect()),
        _ => None,
    };
    if let Some(strings) = strings {
        return match (input.dtype, levels) {
            (DType::Categorical, Some(levels)) => Ok(Cow::Owned(
                strings
                    .into_iter()
                    .map(|s| s.map_or(f64::NAN, |s| levels.code_of_name(s)))
                    .collect(),
            )),
            (DType::Categorical, None) => strings
                .into_iter()
                .map(|s| match s {
                    None => Ok(f64::NAN),
                    Some("") => Ok(f64::NAN),
                    Some(s) => s.trim().parse::<f64>().map_err(|_| EvalError::Column {
                        name: input.name.clone(),
                        message: format!(
                            "the model knows no category names, so values must be integer codes; found \"{s}\""
                        ),
                    }),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Cow::Owned),
            _ => Err(type_error("numbers")),
        };
    }
    let values: Cow<'a, [f64]> = match column.data_type() {
        DataType::Float64 => {
            let array = column.as_primitive::<Float64Type>();
            if array.null_count() == 0 {
                Cow::Borrowed(array.values().as_ref())
            } else {
                Cow::Owned(numeric(array, |v| v))
            }
        }
        DataType::Float32 => Cow::Owned(numeric(column.as_primitive::<Float32Type>(), f64::from)),
        DataType::Float16 => {
            let cast = arrow_cast::cast(column, &DataType::Float64)?;
            Cow::Owned(numeric(cast.as_primitive::<Float64Type>(), |v| v))
        }
        DataType::Int8 => Cow::Owned(numeric(column.as_primitive::<Int8Type>(), f64::from)),
        DataType::Int16 => Cow::Owned(numeric(column.as_primitive::<Int16Type>(), f64::from)),
        DataType::Int32 => Cow::Owned(numeric(column.as_primitive::<Int32Type>(), f64::from)),
        DataType::Int64 => Cow::Owned(numeric(column.as_primitive::<Int64Type>(), |v| v as f64)),
        DataType::UInt8 => Cow::Owned(numeric(column.as_primitive::<UInt8Type>(), f64::from)),
        DataType::UInt16 => Cow::Owned(numeric(column.as_primitive::<UInt16Type>(), f64::from)),
        DataType::UInt32 => Cow::Owned(numeric(column.as_primitive::<UInt32Type>(), f64::from)),
        DataType::UInt64 => Cow::Owned(numeric(column.as_primitive::<UInt64Type>(), |v| v as f64)),
        DataType::Boolean => Cow::Owned(
            column
                .as_boolean()
                .iter()
                .map(|v| v.map_or(f64::NAN, |b| if b { 1.0 } else { 0.0 }))
                .collect(),
        ),
        DataType::Null => Cow::Owned(vec![f64::NAN; column.len()]),
        _ => return Err(type_error("numbers")),
    };
    // A categorical input with named levels given as numbers: the numbers are category
    // values (pandas categories of integers), mapped to their codes.
    if let (DType::Categorical, Some(levels)) = (input.dtype, levels) {
        return Ok(Cow::Owned(
            values
                .iter()
                .map(|v| {
                    if v.is_nan() {
                        f64::NAN
                    } else {
                        levels.code_of_number(*v)
                    }
                })
                .collect(),
        ));
    }
    Ok(values)
}

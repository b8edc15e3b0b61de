//! An identity estimator (scores that a graph computed already) selects its columns:
//! a missing or infinite value in one score does not leak into the others, as it
//! would through products with 0 (`0 * inf` and `0 * NaN` are NaN).

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use ferry_eval::Evaluator;
use ferry_ir::{
    DType, Estimator, Input, Linear, Model, Precision, Source, Task, Transform, IR_VERSION,
};

fn model(score_precision: Precision) -> Model {
    let input = |name: &str| Input {
        range: None,
        unseen: Default::default(),
        name: name.into(),
        dtype: DType::Float64,
        nullable: true,
        levels: None,
    };
    Model {
        ir_version: IR_VERSION,
        source: Source::default(),
        inputs: vec![input("a"), input("b")],
        derived: Vec::new(),
        features: None,
        estimator: Estimator::Linear(Linear {
            coefficients: vec![vec![1.0, 0.0], vec![0.0, 1.0]],
            intercepts: vec![0.0, 0.0],
            score_precision,
        }),
        transform: Transform::Identity,
        task: Task::Regression,
    }
}

fn raw(precision: Precision, a: Vec<Option<f64>>, b: Vec<Option<f64>>) -> Vec<f64> {
    let batch = RecordBatch::try_from_iter([
        ("a", Arc::new(Float64Array::from(a)) as ArrayRef),
        ("b", Arc::new(Float64Array::from(b)) as ArrayRef),
    ])
    .unwrap();
    Evaluator::new(&model(precision))
        .unwrap()
        .predict(&batch)
        .unwrap()
        .raw
}

#[test]
fn each_score_is_its_own_column() {
    let got = raw(
        Precision::F64,
        vec![Some(1.5), None, Some(0.1)],
        vec![Some(f64::INFINITY), Some(-2.0), Some(f64::NEG_INFINITY)],
    );
    assert_eq!(got[0], 1.5);
    assert_eq!(got[1], f64::INFINITY);
    assert!(got[2].is_nan());
    assert_eq!(got[3], -2.0);
    assert_eq!(got[4], 0.1);
    assert_eq!(got[5], f64::NEG_INFINITY);
}

#[test]
fn float32_scores_are_rounded() {
    let got = raw(Precision::F32, vec![Some(0.1)], vec![Some(1e300)]);
    assert_eq!(got, vec![0.1f32 as f64, f64::INFINITY]);
}

//! Column binding: categories arrive as names (plain or dictionary-encoded strings, as
//! pandas categoricals do in Parquet) or as numbers; unseen names and nulls are missing.

use std::sync::Arc;

use arrow_array::types::Int8Type;
use arrow_array::{ArrayRef, DictionaryArray, Float64Array, RecordBatch, StringArray};
use ferry_eval::Evaluator;
use ferry_ir::{
    Aggregation, DType, Direction, Estimator, Input, Missing, Model, Node, Precision, Source,
    Split, Task, Test, Transform, Tree, TreeEnsemble, IR_VERSION,
};

/// One split: colour codes {1, 2} ("green", "blue") go left (leaf 10), everything else
/// right (leaf 20); a missing colour goes right too.
fn model() -> Model {
    Model {
        ir_version: IR_VERSION,
        source: Source::default(),
        inputs: vec![Input {
            range: None,
            unseen: Default::default(),
            name: "colour".into(),
            dtype: DType::Categorical,
            nullable: true,
            levels: Some(vec![
                "red".into(),
                "green".into(),
                "blue".into(),
                "7".into(),
            ]),
        }],
        derived: Vec::new(),
        features: None,
        estimator: Estimator::Trees(TreeEnsemble {
            n_outputs: 1,
            base_score: vec![0.0],
            feature_precision: Precision::F64,
            score_precision: Precision::F64,
            aggregation: Aggregation::Sum,
            tiny_as_zero: None,
            trees: vec![Tree {
                stats: None,
                output: 0,
                weight: 1.0,
                nodes: vec![
                    Node::Split(Split {
                        feature: 0,
                        test: Test::Categorical {
                            categories: vec![1, 2],
                            listed: Direction::Left,
                        },
                        missing: Missing::To(Direction::Right),
                        left: 1,
                        right: 2,
                    }),
                    Node::Leaf { value: 10.0 },
                    Node::Leaf { value: 20.0 },
                ],
            }],
        }),
        transform: Transform::Identity,
        task: Task::Regression,
    }
}

fn predict(column: ArrayRef) -> Vec<f64> {
    let batch = RecordBatch::try_from_iter([("colour", column)]).unwrap();
    Evaluator::new(&model())
        .unwrap()
        .predict(&batch)
        .unwrap()
        .values
}

#[test]
fn names_plain_and_dictionary_encoded_agree() {
    let names = ["green", "red", "blue", "purple", "7"];
    let plain = predict(Arc::new(StringArray::from_iter(
        names.iter().map(|n| Some(*n)).chain([None]),
    )));
    assert_eq!(plain, vec![10.0, 20.0, 10.0, 20.0, 20.0, 20.0]);
    let dictionary: DictionaryArray<Int8Type> =
        names.iter().map(|n| Some(*n)).chain([None]).collect();
    assert_eq!(predict(Arc::new(dictionary)), plain);
}

#[test]
fn numbers_are_matched_to_numeric_level_names() {
    // 7.0 is the level "7" (code 3), not code 7.
    let values = predict(Arc::new(Float64Array::from(vec![
        Some(7.0),
        None,
        Some(1.0),
    ])));
    assert_eq!(values, vec![20.0, 20.0, 20.0]);
}

#[test]
fn a_missing_input_column_is_named() {
    let batch = RecordBatch::try_from_iter([(
        "other",
        Arc::new(Float64Array::from(vec![1.0])) as ArrayRef,
    )])
    .unwrap();
    let err = Evaluator::new(&model())
        .unwrap()
        .predict(&batch)
        .unwrap_err();
    assert!(err.to_string().contains("no column `colour`"), "{err}");
}

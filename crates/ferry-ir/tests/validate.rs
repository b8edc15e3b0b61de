//! Validation rejects inconsistent models with a message naming the part, and IR JSON
//! round-trips exactly (including non-finite thresholds).

use ferry_ir::{
    Aggregation, Cmp, DType, Direction, Estimator, Input, LinearLeaf, Missing, Model, Node,
    Precision, Source, Split, Task, Test, Transform, Tree, TreeEnsemble, IR_VERSION,
};

fn split(left: u32, right: u32, threshold: f64) -> Node {
    Node::Split(Split {
        feature: 0,
        test: Test::Numeric {
            cmp: Cmp::Le,
            threshold,
        },
        missing: Missing::To(Direction::Left),
        left,
        right,
    })
}

fn leaf(value: f64) -> Node {
    Node::Leaf { value }
}

fn model(nodes: Vec<Node>) -> Model {
    Model {
        ir_version: IR_VERSION,
        source: Source::default(),
        inputs: vec![Input {
            range: None,
            unseen: Default::default(),
            name: "x".into(),
            dtype: DType::Float64,
            nullable: true,
            levels: None,
        }],
        derived: Vec::new(),
        features: None,
        estimator: Estimator::Trees(TreeEnsemble {
            n_outputs: 1,
            base_score: vec![0.5],
            feature_precision: Precision::F32,
            score_precision: Precision::F64,
            aggregation: Aggregation::Sum,
            tiny_as_zero: None,
            trees: vec![Tree {
                stats: None,
                output: 0,
                weight: 1.0,
                nodes,
            }],
        }),
        transform: Transform::Logistic { scale: 1.0 },
        task: Task::classification(vec!["no".into(), "yes".into()]),
    }
}

#[test]
fn a_proper_tree_is_valid_and_round_trips() {
    let m = model(vec![
        split(1, 2, f64::INFINITY),
        leaf(-1.0),
        leaf(0.1 + 0.2),
    ]);
    m.validate().unwrap();
    let back = Model::from_json(m.to_json().as_bytes()).unwrap();
    assert_eq!(back, m);
}

#[test]
fn linear_leaves_round_trip_and_are_checked() {
    let linear = |features: Vec<usize>, coefficients: Vec<f64>| {
        Node::LinearLeaf(LinearLeaf {
            value: 2.5,
            constant: 0.1 + 0.2,
            features,
            coefficients,
        })
    };
    let m = model(vec![
        split(1, 2, 0.5),
        leaf(-1.0),
        linear(vec![0], vec![1e-300]),
    ]);
    m.validate().unwrap();
    let back = Model::from_json(m.to_json().as_bytes()).unwrap();
    assert_eq!(back, m);

    let err = model(vec![linear(vec![0, 0], vec![1.0])])
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 features and 1 coefficients"), "{err}");
    let err = model(vec![linear(vec![3], vec![1.0])])
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("reads feature 3"), "{err}");
    let err = model(vec![linear(vec![0], vec![f64::NAN])])
        .validate()
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a finite number"), "{err}");
}

#[test]
fn cycles_shared_children_and_orphans_are_rejected() {
    let cycle = model(vec![split(0, 1, 0.0), leaf(1.0)]);
    assert!(cycle
        .validate()
        .unwrap_err()
        .to_string()
        .contains("reached twice"));

    let shared = model(vec![split(1, 1, 0.0), leaf(1.0)]);
    assert!(shared
        .validate()
        .unwrap_err()
        .to_string()
        .contains("reached twice"));

    let orphan = model(vec![split(1, 2, 0.0), leaf(1.0), leaf(2.0), leaf(3.0)]);
    let err = orphan.validate().unwrap_err().to_string();
    assert!(
        err.contains("node 3") && err.contains("not reachable"),
        "{err}"
    );

    let out_of_range = model(vec![split(1, 7, 0.0), leaf(1.0)]);
    assert!(out_of_range
        .validate()
        .unwrap_err()
        .to_string()
        .contains("out of range"));
}

#[test]
fn outputs_must_match_the_task() {
    let mut m = model(vec![leaf(1.0)]);
    m.task = Task::classification(vec!["a".into(), "b".into(), "c".into()]);
    let err = m.validate().unwrap_err().to_string();
    assert!(err.contains("3 classes need 3 raw scores"), "{err}");

    let mut m = model(vec![split(1, 2, f64::NAN), leaf(1.0), leaf(2.0)]);
    assert!(m.validate().unwrap_err().to_string().contains("NaN"));
    m = model(vec![leaf(f64::INFINITY)]);
    assert!(m.validate().unwrap_err().to_string().contains("not finite"));
}

#[test]
fn newer_ir_versions_are_refused() {
    let mut m = model(vec![leaf(1.0)]);
    m.ir_version = IR_VERSION + 1;
    let err = Model::from_json(m.to_json().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(err.contains("newer"), "{err}");
}

#[test]
fn a_label_order_must_order_the_classes() {
    let mut m = model(vec![leaf(1.0)]);
    for (order, ok) in [
        (vec![1, 0], true),
        (vec![0, 1], true),
        (vec![1, 1], false),
        (vec![0], false),
        (vec![0, 1, 2], false),
        (vec![2, 0], false),
    ] {
        m.task = Task::Classification {
            classes: vec!["no".into(), "yes".into()],
            label_order: Some(order.clone()),
            label_column: None,
        };
        match m.validate() {
            Ok(()) => assert!(ok, "{order:?} accepted"),
            Err(e) => {
                assert!(!ok, "{order:?} refused: {e}");
                assert!(e.to_string().contains("label_order"), "{e}");
            }
        }
    }
    // It survives the JSON round trip; without it the JSON has no such key.
    m.task = Task::Classification {
        classes: vec!["no".into(), "yes".into()],
        label_order: Some(vec![1, 0]),
        label_column: None,
    };
    assert_eq!(Model::from_json(m.to_json().as_bytes()).unwrap(), m);
    m.task = Task::classification(vec!["no".into(), "yes".into()]);
    assert!(!m.to_json().contains("label_order"));
}

#[test]
fn a_label_column_must_be_a_column() {
    let mut m = model(vec![leaf(1.0)]);
    m.task = Task::Classification {
        classes: vec!["no".into(), "yes".into()],
        label_order: None,
        label_column: Some(0),
    };
    m.validate().unwrap();
    assert_eq!(Model::from_json(m.to_json().as_bytes()).unwrap(), m);
    m.task = Task::Classification {
        classes: vec!["no".into(), "yes".into()],
        label_order: None,
        label_column: Some(1),
    };
    let err = m.validate().unwrap_err().to_string();
    assert!(err.contains("label_column 1 is out of range"), "{err}");
}

#[test]
fn a_regressor_may_have_several_targets_but_no_softmax_across_them() {
    let mut m = model(vec![leaf(1.0)]);
    let Estimator::Trees(ensemble) = &mut m.estimator else {
        unreachable!()
    };
    ensemble.n_outputs = 2;
    ensemble.base_score = vec![0.0, 0.0];
    let second = Tree {
        output: 1,
        ..ensemble.trees[0].clone()
    };
    ensemble.trees.push(second);
    m.task = Task::Regression;
    m.transform = Transform::Identity;
    m.validate().unwrap();
    let names: Vec<String> = ferry_ir::output_columns(&m, false)
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["prediction_0", "prediction_1"]);

    m.transform = Transform::Softmax;
    let err = m.validate().unwrap_err().to_string();
    assert!(err.contains("2 targets cannot have a softmax"), "{err}");
}

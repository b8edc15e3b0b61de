//! Property tests on the parsers: whatever the bytes, importing returns a model or an
//! error, never a panic, a hang or a huge allocation. Mutations start from real fixture
//! files so that the inputs get deep into each parser.

use std::path::Path;

use ferry_import::{import, ImportOptions};
use proptest::prelude::*;

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(path),
    )
    .unwrap()
}

/// Small real models of each format.
fn seeds() -> Vec<Vec<u8>> {
    vec![
        fixture("xgboost/xgb_multi_softprob/model.json"),
        fixture("xgboost/xgb_binary_logistic_nan/model.ubj"),
        fixture("lightgbm/lgb_categorical/model.txt"),
        fixture("lightgbm/lgb_linear_tree/model.txt"),
        fixture("xgboost/xgb_categorical_binary/model.json"),
        fixture("onnx/skl_pipeline_penguins/model.onnx"),
        fixture("onnx/skl_decision_tree_clf/model.onnx"),
        fixture("onnx/skl_mlp_logistic/model.onnx"),
    ]
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    for (at, value) in edits {
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] = *value;
        }
    }
    if let Some(cut) = cut {
        let len = bytes.len();
        bytes.truncate(cut % (len + 1));
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = import(&bytes, &ImportOptions::default());
    }

    #[test]
    fn mutated_models_never_panic(
        seed in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let bytes = mutate(seeds()[seed].clone(), &edits, cut);
        let _ = import(&bytes, &ImportOptions::default());
    }

    /// Digits replaced by other digits keep the files well-formed but change numbers,
    /// child indices and counts: the validator must catch what is inconsistent.
    #[test]
    fn renumbered_models_never_panic(
        seed in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), b'0'..=b'9'), 1..16),
    ) {
        let mut bytes = seeds()[seed].clone();
        let digits: Vec<usize> = bytes.iter().enumerate().filter(|(_, b)| b.is_ascii_digit()).map(|(i, _)| i).collect();
        for (at, digit) in edits {
            if !digits.is_empty() {
                bytes[digits[at % digits.len()]] = digit;
            }
        }
        if let Ok(model) = import(&bytes, &ImportOptions::default()) {
            prop_assert!(model.validate().is_ok());
        }
    }
}

#[test]
fn deeply_nested_json_is_rejected_cleanly() {
    let mut bytes = b"{\"learner\":".to_vec();
    bytes.extend(std::iter::repeat_n(b'[', 100_000));
    let err = import(&bytes, &ImportOptions::default()).unwrap_err();
    assert!(err.to_string().contains("xgboost-json"), "{err}");
}

#[test]
fn non_finite_statistics_in_xgboost_json_are_ignored() {
    let original = fixture("xgboost/xgb_multi_softprob/model.json");
    let text = String::from_utf8(original.clone()).unwrap();
    let patched = text.replacen("\"loss_changes\":[", "\"loss_changes\":[NaN,-Infinity,", 1);
    assert_ne!(patched, text, "the fixture has loss_changes");
    let options = ImportOptions::default();
    let a = import(&original, &options).unwrap();
    let b = import(patched.as_bytes(), &options).unwrap();
    // The scoring part is the same; the statistics (read by `ferry explain` only) of
    // the patched tree are dropped, since they no longer fit its nodes.
    let strip = |mut m: ferry_ir::Model| {
        if let ferry_ir::Estimator::Trees(e) = &mut m.estimator {
            e.trees.iter_mut().for_each(|t| t.stats = None);
        }
        m
    };
    let tree0 = |m: &ferry_ir::Model| match &m.estimator {
        ferry_ir::Estimator::Trees(e) => e.trees[0].stats.clone(),
        _ => None,
    };
    assert!(tree0(&a).is_some() && tree0(&b).is_none());
    assert_eq!(strip(a), strip(b));
}

#[test]
fn inconsistent_linear_leaves_name_the_field() {
    let text = String::from_utf8(fixture("lightgbm/lgb_linear_tree/model.txt")).unwrap();
    let error = |from: &str, to: &str| {
        let patched = text.replacen(from, to, 1);
        assert_ne!(patched, text, "the fixture holds {from:?}");
        import(patched.as_bytes(), &ImportOptions::default())
            .unwrap_err()
            .to_string()
    };
    // A feature index past the model's ten features.
    let err = error("leaf_features=2 6 8 ", "leaf_features=2 6 80 ");
    assert!(
        err.contains("leaf_features") && err.contains("feature 80 is out of range"),
        "{err}"
    );
    // One more feature counted than listed.
    let err = error("num_features=3 2 3 3 3 4", "num_features=3 2 3 3 3 5");
    assert!(
        err.contains("leaf_features") && err.contains("expected"),
        "{err}"
    );
    // A coefficient that is not a number.
    let err = error("leaf_coeff=71.446310096314022", "leaf_coeff=seventy");
    assert!(
        err.contains("leaf_coeff") && err.contains("seventy"),
        "{err}"
    );
}

/// Protobuf field with a length-delimited payload.
fn field(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let mut len = payload.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(payload);
    out
}

/// `ModelProto { ir_version: 8, graph }`.
fn onnx_model(graph: &[u8]) -> Vec<u8> {
    let mut out = vec![0x08, 0x08];
    out.extend(field(0x3A, graph));
    out
}

fn onnx_error(bytes: &[u8]) -> String {
    match import(bytes, &ImportOptions::default()) {
        Ok(_) => panic!("a hostile ONNX file was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn onnx_tensor_claiming_two_gigabytes_is_refused_before_allocating() {
    // TensorProto { dims: [2^31], data_type: FLOAT, name: "w" } and no data.
    let mut tensor = vec![0x08, 0x80, 0x80, 0x80, 0x80, 0x08, 0x10, 0x01];
    tensor.extend(field(0x42, b"w"));
    let message = onnx_error(&onnx_model(&field(0x2A, &tensor)));
    assert!(message.contains("initializer `w`"), "{message}");
    assert!(message.contains("more than"), "{message}");
}

#[test]
fn onnx_graph_with_a_cycle_is_refused() {
    // Two nodes, each reading the other's output.
    let node = |input: &[u8], output: &[u8]| {
        let mut n = field(0x0A, input);
        n.extend(field(0x12, output));
        n.extend(field(0x22, b"Relu"));
        field(0x0A, &n)
    };
    let mut graph = node(b"b", b"a");
    graph.extend(node(b"a", b"b"));
    let message = onnx_error(&onnx_model(&graph));
    assert!(message.contains("cycle"), "{message}");
}

#[test]
fn onnx_unknown_operator_is_named_with_domain_and_opset() {
    // A graph whose only node is an operator ferry does not translate.
    let mut node = field(0x0A, b"X");
    node.extend(field(0x12, b"Y"));
    node.extend(field(0x1A, b"conv1"));
    node.extend(field(0x22, b"Conv"));
    // graph input X: ValueInfoProto { name: "X", type: tensor(float, [N, 3]) }
    let dim = |v: u8| field(0x0A, &[0x08, v]);
    let mut shape = field(0x0A, &field(0x12, b"N"));
    shape.extend(dim(3));
    let mut tensor_type = vec![0x08, 0x01];
    tensor_type.extend(field(0x12, &shape));
    let mut input = field(0x0A, b"X");
    input.extend(field(0x12, &field(0x0A, &tensor_type)));
    let mut graph = field(0x0A, &node);
    graph.extend(field(0x5A, &input));
    let mut model = onnx_model(&graph);
    // opset_import { domain: "", version: 17 }
    model.extend(field(0x42, &[0x10, 17]));
    let message = onnx_error(&model);
    assert!(
        message.contains("conv1") && message.contains("Conv") && message.contains("opset 17"),
        "{message}"
    );
}

#[test]
fn every_truncation_of_an_onnx_file_is_an_error_not_a_panic() {
    let bytes = fixture("onnx/skl_logistic_binary/model.onnx");
    let accepted: Vec<usize> = (0..bytes.len())
        .step_by(7)
        .filter(|cut| import(&bytes[..*cut], &ImportOptions::default()).is_ok())
        .collect();
    // The graph comes before the trailing opset imports: only cuts after the whole
    // graph can still be a complete model.
    assert!(
        accepted.iter().all(|cut| *cut > bytes.len() * 9 / 10),
        "truncated files accepted at {accepted:?} of {}",
        bytes.len()
    );
}

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
        fixture("xgboost/xgb_categorical_binary/model.json"),
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
    assert_eq!(a, b);
}

//! Hostile and broken PMML files: each is refused with one clear error line (exit 1),
//! without a panic, without reading a huge file into memory, and without writing an
//! output file.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/pmml")
        .join(case)
}

/// `ferry predict` on `model` (input from a real fixture): the one error line, after
/// checking that nothing was written.
fn refused(model: &Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.csv");
    let out = Command::cargo_bin("ferry")
        .unwrap()
        .args(["predict", model.to_str().unwrap(), "--input"])
        .arg(fixture("pmml_linear_regression").join("input.csv"))
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one error line expected: {stderr}");
    assert!(!output.exists(), "a refused model left an output file");
    lines[0].to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The linear regression fixture with `edit` applied to its text.
fn edited(dir: &Path, edit: impl Fn(&str) -> String) -> PathBuf {
    let text =
        std::fs::read_to_string(fixture("pmml_linear_regression").join("model.pmml")).unwrap();
    write(dir, "edited.pmml", &edit(&text))
}

#[test]
fn entity_expansion_and_external_entities_are_refused_before_any_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut laughs =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE PMML [\n<!ENTITY l0 \"lol\">\n");
    for i in 1..10 {
        let prev = format!("&l{};", i - 1);
        laughs.push_str(&format!("<!ENTITY l{i} \"{}\">\n", prev.repeat(10)));
    }
    laughs.push_str("]>\n<PMML version=\"4.4\"><Header description=\"&l9;\"/></PMML>\n");
    let err = refused(&write(dir.path(), "laughs.pmml", &laughs));
    assert!(err.contains("DTD"), "{err}");

    let xxe =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE PMML [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n\
               <PMML version=\"4.4\"><Header description=\"&x;\"/></PMML>\n";
    let err = refused(&write(dir.path(), "xxe.pmml", xxe));
    assert!(err.contains("DTD"), "{err}");
    assert!(!err.contains("root:"), "{err}");
}

#[test]
fn deep_nesting_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let depth = 100_000;
    let text = format!(
        "<PMML version=\"4.4\"><Extension>{}{}</Extension></PMML>",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    );
    let err = refused(&write(dir.path(), "deep.pmml", &text));
    assert!(err.contains("nested more than"), "{err}");
}

#[test]
fn a_gigabyte_attribute_is_refused_from_the_file_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.pmml");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(b"<?xml version=\"1.0\"?>\n<PMML version=\"4.4\" x=\"")
        .unwrap();
    // A sparse file: 1 GiB of attribute costs no disk, and ferry must not read it.
    file.seek(SeekFrom::Current(1 << 30)).unwrap();
    file.write_all(b"\"/>\n").unwrap();
    drop(file);
    let err = refused(&path);
    assert!(err.contains("MiB limit for a pmml model"), "{err}");
}

#[test]
fn unknown_elements_inside_extensions_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let model = edited(dir.path(), |t| {
        t.replacen(
            "<MiningSchema>",
            "<MiningSchema><Extension name=\"vendor\"><Anything deep=\"1\"><Nested/></Anything></Extension>",
            1,
        )
    });
    let output = dir.path().join("out.csv");
    Command::cargo_bin("ferry")
        .unwrap()
        .args(["predict", model.to_str().unwrap(), "--input"])
        .arg(fixture("pmml_linear_regression").join("input.csv"))
        .arg("--output")
        .arg(&output)
        .assert()
        .success();
    let got = std::fs::read_to_string(&output).unwrap();
    let want =
        std::fs::read_to_string(fixture("pmml_linear_regression").join("expected_jpmml.csv"))
            .unwrap();
    let numbers = |s: &str| -> Vec<f64> { s.lines().skip(1).map(|l| l.parse().unwrap()).collect() };
    let (got, want) = (numbers(&got), numbers(&want));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{g} vs {w}");
    }
}

#[test]
fn unsupported_and_broken_documents_name_the_element_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "knn.pmml",
            "<PMML version=\"4.4\">\n<DataDictionary><DataField name=\"x\" optype=\"continuous\" dataType=\"double\"/></DataDictionary>\n<NearestNeighborModel functionName=\"classification\"/>\n</PMML>",
            "<NearestNeighborModel> at line 3 is not supported",
        ),
        (
            "nb.pmml",
            concat!(
                "<PMML version=\"4.4\"><DataDictionary>",
                "<DataField name=\"x\" optype=\"continuous\" dataType=\"double\"/>",
                "<DataField name=\"y\" optype=\"categorical\" dataType=\"string\"><Value value=\"a\"/><Value value=\"b\"/></DataField>",
                "</DataDictionary>\n<NaiveBayesModel functionName=\"classification\" threshold=\"0\">",
                "<MiningSchema><MiningField name=\"y\" usageType=\"target\"/><MiningField name=\"x\"/></MiningSchema>",
                "<BayesInputs><BayesInput fieldName=\"x\"><TargetValueStats>",
                "<TargetValueStat value=\"a\"><GaussianDistribution mean=\"0\" variance=\"1\"/></TargetValueStat>",
                "<TargetValueStat value=\"b\">\n<GaussianDistribution mean=\"1\" variance=\"0\"/></TargetValueStat>",
                "</TargetValueStats></BayesInput></BayesInputs>",
                "<BayesOutput fieldName=\"y\"><TargetValueCounts><TargetValueCount value=\"a\" count=\"3\"/>",
                "<TargetValueCount value=\"b\" count=\"2\"/></TargetValueCounts></BayesOutput>",
                "</NaiveBayesModel></PMML>"
            ),
            "<GaussianDistribution> at line 3",
        ),
        (
            "version.pmml",
            "<PMML version=\"2.0\"><DataDictionary/></PMML>",
            "PMML version `2.0`",
        ),
        (
            "unclosed.pmml",
            "<PMML version=\"4.4\"><DataDictionary>",
            "not well-formed XML",
        ),
        (
            "nomodel.pmml",
            "<PMML version=\"4.4\"><DataDictionary/></PMML>",
            "holds no model element",
        ),
        (
            "badtype.pmml",
            "<PMML version=\"4.4\">\n<DataDictionary>\n<DataField name=\"x\" optype=\"continuous\" dataType=\"dateTime\"/></DataDictionary><RegressionModel functionName=\"regression\"><MiningSchema/></RegressionModel></PMML>",
            "<DataField> at line 3 is not supported: dataType `dateTime`",
        ),
    ];
    for (name, text, want) in cases {
        let err = refused(&write(dir.path(), name, text));
        assert!(err.contains(want), "{name}: {err}");
    }
    // A bad number in a real model: the attribute, the element and its line.
    let model = edited(dir.path(), |t| {
        t.replacen("coefficient=\"", "coefficient=\"x", 1)
    });
    let err = refused(&model);
    assert!(err.contains("<NumericPredictor> at line"), "{err}");
    assert!(err.contains("is not a number"), "{err}");
}

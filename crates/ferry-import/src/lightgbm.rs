//! LightGBM text models, as written by `Booster.save_model("m.txt")` or `lgb.save()`.
//!
//! LightGBM arithmetic recorded in the IR: features and thresholds are float64, splits are
//! `x <= threshold`, missing values follow the node's `missing_type` (None: NaN becomes
//! 0.0; Zero: NaN and |x| <= 1e-35 take the default child; NaN: NaN takes the default
//! child), categorical splits send the categories in their bitset left and everything
//! else (NaN, negative, unseen) right, and leaf values are summed in float64.

use std::collections::{BTreeMap, HashMap};

use ferry_ir::{
    Aggregation, Cmp, DType, Direction, Estimator, Input, LinearLeaf, Link, Missing, Model, Node,
    NodeStats, Precision, Source, Split, Task, Test, Transform, Tree, TreeEnsemble, IR_VERSION,
};

use crate::{trim_start, Format, ImportError, ImportOptions};

pub(crate) struct LightgbmText;

const FORMAT: &str = "lightgbm-text";

impl Format for LightgbmText {
    fn name(&self) -> &'static str {
        FORMAT
    }

    fn sniff(&self, bytes: &[u8]) -> bool {
        let head = trim_start(&bytes[..bytes.len().min(64)]);
        head.starts_with(b"tree\n") || head.starts_with(b"tree\r\n")
    }

    fn import(&self, bytes: &[u8], _options: &ImportOptions) -> Result<Model, ImportError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ImportError::Parse {
            format: FORMAT,
            message: format!("not UTF-8 text: {e}"),
        })?;
        translate(&parse(text)?)
    }
}

/// `key=value` lines of one section (the header or one `Tree=` block).
struct Section {
    /// 1-based line number of the section start, for messages.
    line: usize,
    name: String,
    values: HashMap<String, String>,
    flags: Vec<String>,
}

struct File {
    header: Section,
    trees: Vec<Section>,
    parameters: BTreeMap<String, String>,
    pandas_categorical: Option<String>,
}

fn field_error(section: &Section, key: &str, message: impl Into<String>) -> ImportError {
    ImportError::Field {
        format: FORMAT,
        field: format!("{} (line {}): {key}", section.name, section.line),
        message: message.into(),
    }
}

fn parse(text: &str) -> Result<File, ImportError> {
    let mut header = Section {
        line: 1,
        name: "header".into(),
        values: HashMap::new(),
        flags: Vec::new(),
    };
    let mut trees: Vec<Section> = Vec::new();
    let mut parameters = BTreeMap::new();
    let mut pandas_categorical = None;
    let mut ended = false;
    let mut in_parameters = false;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let number = index + 1;
        if in_parameters {
            if line == "end of parameters" {
                in_parameters = false;
            } else if let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                if let Some((k, v)) = inner.split_once(": ") {
                    parameters.insert(k.to_string(), v.to_string());
                }
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("pandas_categorical:") {
            pandas_categorical = Some(rest.to_string());
            continue;
        }
        if ended {
            if line == "parameters:" {
                in_parameters = true;
            }
            continue;
        }
        if line == "end of trees" {
            ended = true;
            continue;
        }
        if line.is_empty() || (index == 0 && line == "tree") {
            continue;
        }
        if let Some(id) = line.strip_prefix("Tree=") {
            trees.push(Section {
                line: number,
                name: format!("Tree={id}"),
                values: HashMap::new(),
                flags: Vec::new(),
            });
            continue;
        }
        let section = trees.last_mut().unwrap_or(&mut header);
        match line.split_once('=') {
            Some((key, value)) => {
                section.values.insert(key.to_string(), value.to_string());
            }
            None => section.flags.push(line.to_string()),
        }
    }
    if !ended {
        return Err(ImportError::Parse {
            format: FORMAT,
            message: "the file ends before `end of trees` (truncated?)".into(),
        });
    }
    Ok(File {
        header,
        trees,
        parameters,
        pandas_categorical,
    })
}

fn get<'a>(section: &'a Section, key: &str) -> Result<&'a str, ImportError> {
    section
        .values
        .get(key)
        .map(String::as_str)
        .ok_or_else(|| field_error(section, key, "missing"))
}

fn number<T: std::str::FromStr>(section: &Section, key: &str) -> Result<T, ImportError> {
    let raw = get(section, key)?;
    raw.trim()
        .parse()
        .map_err(|_| field_error(section, key, format!("expected a number, found \"{raw}\"")))
}

fn list<T: std::str::FromStr>(
    section: &Section,
    key: &str,
    len: usize,
) -> Result<Vec<T>, ImportError> {
    let raw = get(section, key)?;
    let values = raw
        .split_whitespace()
        .enumerate()
        .map(|(i, v)| {
            v.parse().map_err(|_| {
                field_error(
                    section,
                    key,
                    format!("element {i}: expected a number, found \"{v}\""),
                )
            })
        })
        .collect::<Result<Vec<T>, _>>()?;
    if values.len() != len {
        return Err(field_error(
            section,
            key,
            format!("expected {len} values, found {}", values.len()),
        ));
    }
    Ok(values)
}

/// The objective line, e.g. `binary sigmoid:1` or `multiclass num_class:3`.
struct Objective {
    name: String,
    params: HashMap<String, String>,
}

fn objective(header: &Section) -> Result<Objective, ImportError> {
    let raw = header
        .values
        .get("objective")
        .map_or("custom", String::as_str);
    let mut parts = raw.split_whitespace();
    let name = parts.next().unwrap_or("custom").to_string();
    let params = parts
        .map(|p| match p.split_once(':') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect();
    Ok(Objective { name, params })
}

fn translate(file: &File) -> Result<Model, ImportError> {
    let header = &file.header;
    let version = header.values.get("version").cloned();
    let num_class: usize = number(header, "num_class")?;
    let per_iteration: usize = number(header, "num_tree_per_iteration")?;
    let max_feature_idx: usize = number(header, "max_feature_idx")?;
    let n_features = max_feature_idx + 1;
    if per_iteration == 0 {
        return Err(field_error(
            header,
            "num_tree_per_iteration",
            "must be at least 1",
        ));
    }
    let names: Vec<String> = match header.values.get("feature_names") {
        Some(names) => names.split_whitespace().map(str::to_string).collect(),
        None => (0..n_features).map(|i| format!("Column_{i}")).collect(),
    };
    if names.len() != n_features {
        return Err(field_error(
            header,
            "feature_names",
            format!(
                "{} names for max_feature_idx={max_feature_idx}",
                names.len()
            ),
        ));
    }

    let objective = objective(header)?;
    let param_f64 = |key: &str, default: f64| -> Result<f64, ImportError> {
        match objective.params.get(key) {
            Some(v) => v.parse().map_err(|_| {
                field_error(header, "objective", format!("`{key}:{v}` is not a number"))
            }),
            None => Ok(default),
        }
    };
    let class_names = |n: usize| (0..n).map(|c| c.to_string()).collect::<Vec<_>>();
    let (transform, task) = match objective.name.as_str() {
        "regression"
        | "regression_l2"
        | "l2"
        | "mean_squared_error"
        | "mse"
        | "regression_l1"
        | "l1"
        | "mean_absolute_error"
        | "mae"
        | "huber"
        | "fair"
        | "quantile"
        | "mape"
        | "lambdarank"
        | "rank_xendcg"
        | "custom" => {
            // `reg_sqrt`: fitted to sqrt(y), predicted as sign(x) * x².
            if objective.params.contains_key("sqrt") {
                let transform = Transform::Link {
                    link: Link::SignedSquare,
                    complement: false,
                };
                (transform, Task::Regression)
            } else {
                (Transform::Identity, Task::Regression)
            }
        }
        "poisson" | "gamma" | "tweedie" => (Transform::Exp, Task::Regression),
        "binary" => (
            Transform::Logistic {
                scale: param_f64("sigmoid", 1.0)?,
            },
            Task::classification(class_names(2)),
        ),
        "cross_entropy" | "xentropy" => (Transform::Logistic { scale: 1.0 }, Task::Regression),
        // The prediction is the intensity λ = log1p(exp(raw)), not a probability.
        "cross_entropy_lambda" | "xentlambda" => (
            Transform::Link {
                link: Link::Softplus,
                complement: false,
            },
            Task::Regression,
        ),
        "multiclass" | "softmax" => (
            Transform::Softmax,
            Task::classification(class_names(num_class)),
        ),
        "multiclassova" | "multiclass_ova" | "ova" | "ovr" => (
            Transform::Logistic {
                scale: param_f64("sigmoid", 1.0)?,
            },
            Task::classification(class_names(num_class)),
        ),
        other => {
            return Err(ImportError::Unsupported {
                format: FORMAT,
                what: format!("objective `{other}`"),
                hint: " (supported: regression, regression_l1, huber, fair, quantile, mape, \
                       binary, multiclass, multiclassova, poisson, gamma, tweedie, \
                       cross_entropy, cross_entropy_lambda, lambdarank)"
                    .into(),
            })
        }
    };

    let categorical = categorical_features(file, n_features)?;
    let levels = pandas_levels(file, &categorical)?;
    let ranges = training_ranges(file);
    let inputs = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let is_cat = categorical.contains(&i);
            Input {
                name,
                dtype: if is_cat {
                    DType::Categorical
                } else {
                    DType::Float64
                },
                nullable: true,
                levels: levels.get(&i).cloned(),
                unseen: Default::default(),
                range: if is_cat {
                    None
                } else {
                    ranges.get(i).copied().flatten()
                },
            }
        })
        .collect();

    let trees = file
        .trees
        .iter()
        .enumerate()
        .map(|(i, section)| {
            let mut tree = read_tree(section, n_features)?;
            tree.output = i % per_iteration;
            Ok(tree)
        })
        .collect::<Result<Vec<_>, ImportError>>()?;
    let inputs = mark_never_missing(inputs, &trees);
    if trees.len() % per_iteration != 0 {
        return Err(ImportError::Parse {
            format: FORMAT,
            message: format!(
                "{} trees is not a multiple of num_tree_per_iteration={per_iteration}",
                trees.len()
            ),
        });
    }

    let average = header.flags.iter().any(|f| f == "average_output");
    Ok(Model {
        ir_version: IR_VERSION,
        source: Source {
            format: FORMAT.into(),
            library: "lightgbm".into(),
            library_version: version,
            objective: header.values.get("objective").cloned(),
        },
        inputs,
        derived: Vec::new(),
        features: None,
        estimator: Estimator::Trees(TreeEnsemble {
            n_outputs: per_iteration,
            base_score: vec![0.0; per_iteration],
            feature_precision: Precision::F64,
            score_precision: Precision::F64,
            aggregation: if average {
                Aggregation::Average
            } else {
                Aggregation::Sum
            },
            tiny_as_zero: Some(ferry_ir::LIGHTGBM_ZERO_THRESHOLD),
            trees,
        }),
        transform,
        task,
    })
}

/// Indices of categorical features: from `[categorical_feature: …]` in the parameters,
/// else the features whose `feature_infos` entry lists categories (`1:3:7`) rather than
/// a range (`[0:1]`).
fn categorical_features(file: &File, n_features: usize) -> Result<Vec<usize>, ImportError> {
    if let Some(list) = file.parameters.get("categorical_feature") {
        if !list.trim().is_empty() {
            let mut out = Vec::new();
            for item in list.split(',') {
                let i: usize = item.trim().parse().map_err(|_| ImportError::Field {
                    format: FORMAT,
                    field: "parameters: categorical_feature".into(),
                    message: format!("expected feature indices, found \"{list}\""),
                })?;
                if i < n_features {
                    out.push(i);
                }
            }
            out.sort_unstable();
            out.dedup();
            return Ok(out);
        }
    }
    let Some(infos) = file.header.values.get("feature_infos") else {
        return Ok(Vec::new());
    };
    Ok(infos
        .split_whitespace()
        .enumerate()
        .filter(|(_, info)| !info.starts_with('[') && *info != "none")
        .map(|(i, _)| i)
        .collect())
}

/// `[min:max]` entries of `feature_infos`: the training range of numeric features.
fn training_ranges(file: &File) -> Vec<Option<[f64; 2]>> {
    let Some(infos) = file.header.values.get("feature_infos") else {
        return Vec::new();
    };
    infos
        .split_whitespace()
        .map(|info| {
            let (low, high) = info.strip_prefix('[')?.strip_suffix(']')?.split_once(':')?;
            let (low, high) = (low.parse::<f64>().ok()?, high.parse::<f64>().ok()?);
            (low.is_finite() && high.is_finite() && low <= high).then_some([low, high])
        })
        .collect()
}

/// LightGBM writes `missing_type=None` on every split of a feature that had no missing
/// value in training (a NaN is then read as 0): such a feature is not nullable.
fn mark_never_missing(mut inputs: Vec<Input>, trees: &[Tree]) -> Vec<Input> {
    let mut seen_split = vec![false; inputs.len()];
    let mut missing_learned = vec![false; inputs.len()];
    for node in trees.iter().flat_map(|t| &t.nodes) {
        if let Node::Split(split) = node {
            seen_split[split.feature] = true;
            if split.missing != Missing::AsZero {
                missing_learned[split.feature] = true;
            }
        }
    }
    for (i, input) in inputs.iter_mut().enumerate() {
        input.nullable = !seen_split[i] || missing_learned[i];
    }
    inputs
}

/// `pandas_categorical:[["a","b"],[1,2]]` holds the category names of each categorical
/// column, in column order; code `i` of a column is its `i`-th name.
fn pandas_levels(
    file: &File,
    categorical: &[usize],
) -> Result<HashMap<usize, Vec<String>>, ImportError> {
    let Some(raw) = file.pandas_categorical.as_deref() else {
        return Ok(HashMap::new());
    };
    let raw = raw.trim();
    if raw.is_empty() || raw == "null" {
        return Ok(HashMap::new());
    }
    let error = |message: String| ImportError::Field {
        format: FORMAT,
        field: "pandas_categorical".into(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| error(format!("invalid JSON: {e}")))?;
    let lists = value
        .as_array()
        .ok_or_else(|| error("expected a list of category lists".into()))?;
    if lists.len() != categorical.len() {
        return Err(error(format!(
            "{} category lists for {} categorical features",
            lists.len(),
            categorical.len()
        )));
    }
    let mut out = HashMap::new();
    for (list, feature) in lists.iter().zip(categorical) {
        let items = list
            .as_array()
            .ok_or_else(|| error(format!("feature {feature}: expected a list of categories")))?;
        let names = items
            .iter()
            .map(|item| match item {
                serde_json::Value::String(s) => Ok(s.clone()),
                serde_json::Value::Number(n) => Ok(n.to_string()),
                serde_json::Value::Bool(b) => Ok(b.to_string()),
                other => Err(error(format!(
                    "feature {feature}: unsupported category {other}"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(*feature, names);
    }
    Ok(out)
}

const CATEGORICAL_MASK: i64 = 1;
const DEFAULT_LEFT_MASK: i64 = 2;

fn read_tree(section: &Section, n_features: usize) -> Result<Tree, ImportError> {
    let num_leaves: usize = number(section, "num_leaves")?;
    if num_leaves == 0 {
        return Err(field_error(section, "num_leaves", "must be at least 1"));
    }
    let leaf_value: Vec<f64> = list(section, "leaf_value", num_leaves)?;
    let leaves = leaves(section, leaf_value, n_features)?;
    if num_leaves == 1 {
        return Ok(Tree {
            stats: None,
            output: 0,
            weight: 1.0,
            nodes: leaves,
        });
    }
    let n_splits = num_leaves - 1;
    let split_feature: Vec<usize> = list(section, "split_feature", n_splits)?;
    let threshold: Vec<f64> = list(section, "threshold", n_splits)?;
    let decision_type: Vec<i64> = list(section, "decision_type", n_splits)?;
    let left_child: Vec<i64> = list(section, "left_child", n_splits)?;
    let right_child: Vec<i64> = list(section, "right_child", n_splits)?;
    let num_cat: usize = match section.values.get("num_cat") {
        Some(_) => number(section, "num_cat")?,
        None => 0,
    };
    let (cat_boundaries, cat_threshold): (Vec<usize>, Vec<u32>) = if num_cat > 0 {
        let boundaries: Vec<usize> = list(section, "cat_boundaries", num_cat + 1)?;
        if boundaries.first() != Some(&0) || boundaries.windows(2).any(|w| w[0] > w[1]) {
            return Err(field_error(
                section,
                "cat_boundaries",
                "expected increasing offsets starting at 0",
            ));
        }
        let words = boundaries.last().copied().unwrap_or(0);
        (boundaries, list(section, "cat_threshold", words)?)
    } else {
        (Vec::new(), Vec::new())
    };

    // IR node ids: splits keep their index, leaf `l` becomes `n_splits + l`.
    // LightGBM encodes a leaf child as `~leaf` (negative).
    let child = |c: i64, i: usize, key: &str| -> Result<u32, ImportError> {
        let id = if c >= 0 {
            usize::try_from(c).ok().filter(|c| *c < n_splits)
        } else {
            usize::try_from(!c)
                .ok()
                .filter(|l| *l < num_leaves)
                .map(|l| n_splits + l)
        };
        id.map(|id| id as u32).ok_or_else(|| {
            field_error(section, key, format!("node {i}: child {c} is out of range"))
        })
    };
    let mut nodes = Vec::with_capacity(n_splits + num_leaves);
    for i in 0..n_splits {
        let feature = split_feature[i];
        if feature >= n_features {
            return Err(field_error(
                section,
                "split_feature",
                format!("node {i}: feature {feature} is out of range ({n_features} features)"),
            ));
        }
        let dt = decision_type[i];
        let default = if dt & DEFAULT_LEFT_MASK != 0 {
            Direction::Left
        } else {
            Direction::Right
        };
        let (test, missing) = if dt & CATEGORICAL_MASK != 0 {
            let k = threshold[i];
            let index = Some(k as usize)
                .filter(|k| (*k as f64) == threshold[i] && *k < num_cat)
                .ok_or_else(|| {
                    field_error(
                        section,
                        "threshold",
                        format!("node {i}: category set {k} does not exist"),
                    )
                })?;
            let words = &cat_threshold[cat_boundaries[index]..cat_boundaries[index + 1]];
            let categories = (0..words.len() * 32)
                .filter(|c| words[c / 32] >> (c % 32) & 1 == 1)
                .map(|c| c as u32)
                .collect();
            (
                Test::Categorical {
                    categories,
                    listed: Direction::Left,
                },
                Missing::To(Direction::Right),
            )
        } else {
            let missing = match (dt >> 2) & 3 {
                0 => Missing::AsZero,
                1 => Missing::ZeroTo(default),
                2 => Missing::To(default),
                other => {
                    return Err(field_error(
                        section,
                        "decision_type",
                        format!("node {i}: unknown missing type {other}"),
                    ))
                }
            };
            (
                Test::Numeric {
                    cmp: Cmp::Le,
                    threshold: threshold[i],
                },
                missing,
            )
        };
        nodes.push(Node::Split(Split {
            feature,
            test,
            missing,
            left: child(left_child[i], i, "left_child")?,
            right: child(right_child[i], i, "right_child")?,
        }));
    }
    nodes.extend(leaves);
    Ok(Tree {
        output: 0,
        weight: 1.0,
        nodes,
        stats: stats(section, n_splits, num_leaves),
    })
}

/// The leaves of a tree: constants, or for a linear tree (`is_linear=1`) linear models
/// read from `leaf_const`, `num_features`, `leaf_features` and `leaf_coeff` (the
/// features and coefficients of all leaves, one after the other).
fn leaves(
    section: &Section,
    leaf_value: Vec<f64>,
    n_features: usize,
) -> Result<Vec<Node>, ImportError> {
    let linear = section
        .values
        .get("is_linear")
        .is_some_and(|v| v.trim() == "1");
    if !linear {
        return Ok(leaf_value
            .into_iter()
            .map(|value| Node::Leaf { value })
            .collect());
    }
    let num_leaves = leaf_value.len();
    let constants: Vec<f64> = list(section, "leaf_const", num_leaves)?;
    let counts: Vec<usize> = list(section, "num_features", num_leaves)?;
    let total = counts
        .iter()
        .try_fold(0usize, |sum, c| sum.checked_add(*c))
        .ok_or_else(|| field_error(section, "num_features", "the counts overflow"))?;
    let features: Vec<usize> = list(section, "leaf_features", total)?;
    let coefficients: Vec<f64> = list(section, "leaf_coeff", total)?;
    if let Some(f) = features.iter().find(|f| **f >= n_features) {
        return Err(field_error(
            section,
            "leaf_features",
            format!("feature {f} is out of range ({n_features} features)"),
        ));
    }
    let mut start = 0;
    Ok(leaf_value
        .into_iter()
        .zip(constants)
        .zip(counts)
        .map(|((value, constant), count)| {
            let range = start..start + count;
            start += count;
            // Without features LightGBM's linear leaf is its constant, whatever
            // `leaf_value` says.
            if count == 0 {
                return Node::Leaf { value: constant };
            }
            Node::LinearLeaf(LinearLeaf {
                value,
                constant,
                features: features[range.clone()].to_vec(),
                coefficients: coefficients[range].to_vec(),
            })
        })
        .collect())
}

/// `split_gain` and the row counts (`internal_count`, `leaf_count`), for `ferry
/// explain`. Statistics never fail an import: a file without them (or with a bad one)
/// simply has none.
fn stats(section: &Section, n_splits: usize, num_leaves: usize) -> Option<NodeStats> {
    let gain: Vec<f64> = list(section, "split_gain", n_splits).ok()?;
    let internal: Vec<f64> = list(section, "internal_count", n_splits).ok()?;
    let leaves: Vec<f64> = list(section, "leaf_count", num_leaves).ok()?;
    let mut all_gain = gain;
    all_gain.resize(n_splits + num_leaves, f64::NAN);
    Some(NodeStats {
        gain: all_gain,
        cover: internal.into_iter().chain(leaves).collect(),
    })
}

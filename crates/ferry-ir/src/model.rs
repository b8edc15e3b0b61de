use crate::{Derived, IrError, Linear, TreeEnsemble};

/// Version of the IR JSON layout written by this crate. Bumped on incompatible change.
pub const IR_VERSION: u32 = 1;

/// A complete model: named inputs, one estimator producing raw scores, the transform from
/// raw scores to outputs, and the task that names the outputs.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Model {
    /// Always [`IR_VERSION`] when written by this crate.
    pub ir_version: u32,
    /// Where the model came from.
    pub source: Source,
    /// The columns a caller must supply.
    pub inputs: Vec<Input>,
    /// Columns computed from the inputs (preprocessing), in order. Together with the
    /// inputs they form the column space: input `i` is column `i`, derived column `d` is
    /// column `inputs.len() + d`.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub derived: Vec<Derived>,
    /// The columns the estimator reads: its feature `j` is column `features[j]`. `None`
    /// means the inputs, in order.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub features: Option<Vec<usize>>,
    /// Computes the raw scores (margins) from the inputs.
    pub estimator: Estimator,
    /// Maps raw scores to predictions (for regression) or probabilities (for classification).
    pub transform: Transform,
    /// What the outputs mean.
    pub task: Task,
}

/// Provenance of a model, shown by `ferry inspect`.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Source {
    /// The file format it was read from, e.g. `xgboost-json`, `lightgbm-text`.
    pub format: String,
    /// The training library, e.g. `xgboost`, `lightgbm`.
    pub library: String,
    /// The library version recorded in the file, when the file records one.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub library_version: Option<String>,
    /// The training objective as the library names it, e.g. `binary:logistic`.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub objective: Option<String>,
}

/// One input column.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Input {
    pub name: String,
    pub dtype: DType,
    /// Whether a missing value (NULL, NaN, empty CSV cell) is meaningful to the model.
    pub nullable: bool,
    /// For categorical inputs: the category names, in code order (code `i` is `levels[i]`).
    /// A value outside this list is treated as missing, as pandas does for unseen
    /// categories. `None` means the input carries integer codes directly.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub levels: Option<Vec<String>>,
    /// What a value outside `levels` means. By default it is missing (pandas semantics,
    /// what XGBoost and LightGBM see); for ONNX string inputs it is an ordinary value
    /// that matches no level (a one-hot encoder's `handle_unknown="ignore"`).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Unseen::is_missing")
    )]
    pub unseen: Unseen,
    /// The smallest and largest value seen in training, where the source records them
    /// (LightGBM's `feature_infos`). Used to flag rows outside it, never to clip.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub range: Option<[f64; 2]>,
}

/// How a categorical value outside the known levels is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Unseen {
    /// As a missing value (NaN).
    #[default]
    Missing,
    /// As code -1: not missing, equal to no level.
    Other,
}

impl Unseen {
    pub fn is_missing(&self) -> bool {
        *self == Unseen::Missing
    }

    /// The code an unseen value gets.
    pub fn code(self) -> f64 {
        match self {
            Unseen::Missing => f64::NAN,
            Unseen::Other => -1.0,
        }
    }
}

/// The logical type of an input column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum DType {
    Float64,
    Float32,
    Int64,
    Bool,
    /// A category, given as a level name (string) or as an integer code.
    Categorical,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::Float64 => "float64",
            DType::Float32 => "float32",
            DType::Int64 => "int64",
            DType::Bool => "bool",
            DType::Categorical => "categorical",
        }
    }
}

/// Floating-point precision of a step of the computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Precision {
    F32,
    F64,
}

/// Computes raw scores from the inputs.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Estimator {
    Trees(TreeEnsemble),
    Linear(Linear),
}

impl Estimator {
    /// Number of raw scores per row.
    pub fn n_outputs(&self) -> usize {
        match self {
            Estimator::Trees(t) => t.n_outputs,
            Estimator::Linear(l) => l.intercepts.len(),
        }
    }

    /// Precision in which raw scores are accumulated and transformed.
    pub fn score_precision(&self) -> Precision {
        match self {
            Estimator::Trees(t) => t.score_precision,
            Estimator::Linear(l) => l.score_precision,
        }
    }

    /// Short human description, e.g. `300 trees` or `linear`.
    pub fn summary(&self) -> String {
        match self {
            Estimator::Trees(t) => {
                let nodes: usize = t.trees.iter().map(|tree| tree.nodes.len()).sum();
                let depth = t.trees.iter().map(Tree::depth).max().unwrap_or(0);
                let linear = t
                    .trees
                    .iter()
                    .flat_map(|tree| &tree.nodes)
                    .filter(|n| matches!(n, crate::Node::LinearLeaf(_)))
                    .count();
                format!(
                    "tree ensemble: {} trees, {} nodes{}, max depth {}, {} output(s)",
                    t.trees.len(),
                    nodes,
                    if linear > 0 {
                        format!(" ({linear} linear leaves)")
                    } else {
                        String::new()
                    },
                    depth,
                    t.n_outputs
                )
            }
            Estimator::Linear(l) => format!("linear: {} output(s)", l.intercepts.len()),
        }
    }
}

use crate::Tree;

/// Maps the raw scores of one row to outputs.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case", tag = "kind"))]
pub enum Transform {
    /// Scores are the outputs.
    Identity,
    /// `1 / (1 + exp(-scale * x))` applied to each score.
    Logistic { scale: f64 },
    /// `exp(x - max) / sum(exp(x - max))` over the scores of a row.
    Softmax,
    /// `exp(x)` applied to each score (log link: Poisson, Gamma, Tweedie).
    Exp,
    /// A GLM's inverse link applied to each score (PMML). With `complement`, `1 - F(x)`:
    /// for a binary classifier whose link gives the first class's probability, the
    /// transformed score is still the second class's.
    Link { link: Link, complement: bool },
    /// The scores of a row in ascending order (XGBoost's `reg:quantileerror` with
    /// several quantiles sorts each row's predictions, so that they never cross).
    Sort,
}

/// Inverse link functions of generalised linear models beyond logit and log.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case", tag = "f"))]
pub enum Link {
    /// The standard normal distribution function Φ(x).
    Probit,
    /// `1 - exp(-exp(x))`.
    Cloglog,
    /// `exp(-exp(-x))`.
    Loglog,
    /// `0.5 + atan(x) / π`.
    Cauchit,
    /// `x^exponent` (a power link `η = μ^p` has the inverse exponent `1/p`).
    Power { exponent: f64 },
    /// `sign(x) * x²` (LightGBM's `reg_sqrt`: the model was fitted to `sqrt(y)`, kept
    /// signed).
    SignedSquare,
    /// `ln(1 + exp(x))` (LightGBM's `cross_entropy_lambda`: the intensity λ).
    Softplus,
    /// `1` where `x > 0`, else `0` (XGBoost's `binary:hinge`).
    Step,
    /// JPMML-Evaluator's float32 inverse logit (`x-mathContext="float"`):
    /// `1f / (1f + (float) pow(2.7182817, -x))`, every step rounded to float32.
    Float32Logit,
}

impl Link {
    /// The reference implementation, in float64.
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Link::Probit => 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2),
            Link::Cloglog => 1.0 - (-x.exp()).exp(),
            Link::Loglog => (-(-x).exp()).exp(),
            Link::Cauchit => 0.5 + x.atan() / std::f64::consts::PI,
            Link::Power { exponent } => x.powf(exponent),
            // LightGBM's `Sign(x) * x * x`: `Sign(x) * x` is |x| exactly.
            Link::SignedSquare => x.abs() * x,
            // LightGBM's `log1p(exp(x))`.
            Link::Softplus => x.exp().ln_1p(),
            Link::Step => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Link::Float32Logit => {
                let e = 2.718_281_7_f64.powf(-x) as f32;
                f64::from(1.0f32 / (1.0f32 + e))
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Link::Probit => "probit",
            Link::Cloglog => "cloglog",
            Link::Loglog => "loglog",
            Link::Cauchit => "cauchit",
            Link::Power { .. } => "power",
            Link::SignedSquare => "signed square",
            Link::Softplus => "softplus",
            Link::Step => "step",
            Link::Float32Logit => "logit",
        }
    }
}

impl Transform {
    pub fn name(&self) -> &'static str {
        match self {
            Transform::Identity => "identity",
            Transform::Logistic { .. } => "logistic",
            Transform::Softmax => "softmax",
            Transform::Exp => "exp",
            Transform::Link { link, .. } => link.name(),
            Transform::Sort => "sort",
        }
    }
}

/// What a model predicts, which decides its output columns.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case", tag = "kind"))]
pub enum Task {
    /// One number per row and raw score: the transformed scores. Most regressors have
    /// one; a multi-target regressor (scikit-learn's on a 2-D `y`) one per target.
    Regression,
    /// A label and one probability per class. With one raw score and two classes the
    /// transformed score is the probability of the second class; otherwise there is one
    /// score per class and the transformed scores are the probabilities.
    /// The label is the first class with the highest probability, scanning the classes
    /// in `label_order` (class indices) when it is given, else in class order: PMML
    /// scorers break ties in the order of the model's own tables, which need not be the
    /// order of the target's values.
    Classification {
        classes: Vec<String>,
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        label_order: Option<Vec<usize>>,
        /// A column of the column space holding the label's class index (missing: no
        /// label), for sources whose label is not the most probable class: a PMML tree
        /// labels a row with its node's `score`, a PMML vote breaks ties by the earliest
        /// vote. The label is still missing where a probability is.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        label_column: Option<usize>,
    },
}

/// The index of the first largest of `values` when they are scanned in `order` (a
/// permutation of their indices); `None` when a value is missing (NaN). The label rule
/// of [`Task::Classification`].
pub fn first_max(values: &[f64], order: &[usize]) -> Option<usize> {
    if values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut best = order[0];
    for &k in &order[1..] {
        if values[k] > values[best] {
            best = k;
        }
    }
    Some(best)
}

impl Task {
    /// A classification whose ties go to the first class in class order.
    pub fn classification(classes: Vec<String>) -> Task {
        Task::Classification {
            classes,
            label_order: None,
            label_column: None,
        }
    }

    /// The class indices in the order the label scans them; `None` for regression.
    pub fn label_order(&self) -> Option<Vec<usize>> {
        match self {
            Task::Regression => None,
            Task::Classification {
                classes,
                label_order,
                ..
            } => Some(
                label_order
                    .clone()
                    .unwrap_or_else(|| (0..classes.len()).collect()),
            ),
        }
    }
}

/// Which value an output column carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// The transformed score with this index (a regressor's prediction for a target).
    Prediction(usize),
    Label,
    /// Probability of the class with this index.
    Probability(usize),
    /// Untransformed score with this index.
    Raw(usize),
}

/// A prediction column, as written by `ferry predict`, `ferry sql` and the HTTP APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    pub name: String,
    pub kind: OutputKind,
}

/// Name of the optional last column (`--validity`) that names why a row's prediction
/// cannot be trusted.
pub const VALIDITY_COLUMN: &str = "validity";

/// The prediction columns of a model (without kept columns), in contract order:
/// `prediction` for regression (`prediction_<i>` per target of a multi-target regressor);
/// `label`, `proba_<class>`… for classification; then with
/// `raw`, `raw` (one score) or `raw_<class>` / `raw_<i>`.
pub fn output_columns(model: &Model, raw: bool) -> Vec<OutputColumn> {
    let mut columns = Vec::new();
    match &model.task {
        Task::Regression => {
            let n = model.estimator.n_outputs();
            for i in 0..n {
                columns.push(OutputColumn {
                    name: if n == 1 {
                        "prediction".into()
                    } else {
                        format!("prediction_{i}")
                    },
                    kind: OutputKind::Prediction(i),
                });
            }
        }
        Task::Classification { classes, .. } => {
            columns.push(OutputColumn {
                name: "label".into(),
                kind: OutputKind::Label,
            });
            for (i, class) in classes.iter().enumerate() {
                columns.push(OutputColumn {
                    name: format!("proba_{class}"),
                    kind: OutputKind::Probability(i),
                });
            }
        }
    }
    if raw {
        let n = model.estimator.n_outputs();
        for i in 0..n {
            let name = match (&model.task, n) {
                (_, 1) => "raw".to_string(),
                (Task::Classification { classes, .. }, n) if n == classes.len() => {
                    format!("raw_{}", classes[i])
                }
                _ => format!("raw_{i}"),
            };
            columns.push(OutputColumn {
                name,
                kind: OutputKind::Raw(i),
            });
        }
    }
    columns
}

impl Model {
    /// Checks every invariant the evaluator and the SQL compiler rely on.
    pub fn validate(&self) -> Result<(), IrError> {
        crate::validate::validate(self)
    }

    /// Number of features the estimator reads.
    pub fn n_features(&self) -> usize {
        self.features.as_ref().map_or(self.inputs.len(), Vec::len)
    }

    /// The column (in the column space) that estimator feature `j` reads.
    pub fn feature_column(&self, j: usize) -> usize {
        self.features.as_ref().map_or(j, |f| f[j])
    }

    /// Number of columns in the column space: inputs, then derived columns.
    pub fn n_columns(&self) -> usize {
        self.inputs.len() + self.derived.len()
    }

    /// The name of column `c` of the column space.
    pub fn column_name(&self, c: usize) -> &str {
        match self.inputs.get(c) {
            Some(input) => &input.name,
            None => &self.derived[c - self.inputs.len()].name,
        }
    }

    /// The input that estimator feature `j` reads directly, if it reads an input.
    pub fn feature_input(&self, j: usize) -> Option<&Input> {
        self.inputs.get(self.feature_column(j))
    }

    /// Index of the input called `name`.
    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|i| i.name == name)
    }

    /// Reads a model from ferry IR JSON and validates it.
    #[cfg(feature = "serde")]
    pub fn from_json(bytes: &[u8]) -> Result<Model, IrError> {
        let model: Model =
            serde_json::from_slice(bytes).map_err(|e| IrError::Json(e.to_string()))?;
        if model.ir_version > IR_VERSION {
            return Err(IrError::Version {
                found: model.ir_version,
                supported: IR_VERSION,
            });
        }
        model.validate()?;
        Ok(model)
    }

    /// Writes the model as pretty ferry IR JSON.
    #[cfg(feature = "serde")]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("IR serialisation cannot fail")
    }
}

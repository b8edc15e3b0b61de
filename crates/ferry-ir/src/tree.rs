use crate::Precision;

/// An ensemble of decision trees whose leaf values are added up per output.
///
/// Raw score `k` of a row is `base_score[k]` plus, for every tree with `output == k` in
/// order, `weight * leaf value`, accumulated in `score_precision`; with
/// [`Aggregation::Average`] the sum of the trees is then divided by the number of trees
/// of that output.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TreeEnsemble {
    /// Number of raw scores per row.
    pub n_outputs: usize,
    /// Starting value of each raw score (margin space).
    #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::vec"))]
    pub base_score: Vec<f64>,
    /// Precision features are rounded to before any comparison (XGBoost and scikit-learn
    /// trees compare float32 features; LightGBM compares float64).
    pub feature_precision: Precision,
    /// Precision in which leaf values are summed and the transform computed.
    pub score_precision: Precision,
    pub aggregation: Aggregation,
    /// Values with `|x| <=` this are read as 0.0 before any split. LightGBM's C API drops
    /// them as sparse zeros (`kZeroThreshold`, see [`crate::LIGHTGBM_ZERO_THRESHOLD`]).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub tiny_as_zero: Option<f64>,
    pub trees: Vec<Tree>,
}

/// How tree outputs are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Aggregation {
    /// Boosting: the sum of all trees.
    Sum,
    /// Random forests: the sum divided by the number of trees of the output.
    Average,
}

/// One tree. Node 0 is the root.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tree {
    /// The raw score this tree adds to.
    pub output: usize,
    /// Multiplier of the leaf values (XGBoost DART `weight_drop`); 1 otherwise.
    #[cfg_attr(
        feature = "serde",
        serde(default = "one", skip_serializing_if = "is_one")
    )]
    pub weight: f64,
    pub nodes: Vec<Node>,
    /// Training statistics of the nodes, where the file records them. Only
    /// `ferry explain` reads them (gain and cover importance); scoring never does.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub stats: Option<NodeStats>,
}

/// Per node (indexed like [`Tree::nodes`]; NaN where the file has no value).
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NodeStats {
    /// The loss reduction of the split (XGBoost `loss_changes`, LightGBM `split_gain`).
    #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::vec"))]
    pub gain: Vec<f64>,
    /// The training weight reaching the node (XGBoost `sum_hessian`: the hessian sum;
    /// LightGBM `internal_count`/`leaf_count`: the row count).
    #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::vec"))]
    pub cover: Vec<f64>,
}

#[cfg(feature = "serde")]
fn one() -> f64 {
    1.0
}

#[cfg(feature = "serde")]
#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's signature")]
fn is_one(x: &f64) -> bool {
    *x == 1.0
}

impl Tree {
    /// Length of the longest root-to-leaf path, in splits.
    pub fn depth(&self) -> usize {
        fn walk(nodes: &[Node], at: usize, budget: usize) -> usize {
            match nodes.get(at) {
                Some(Node::Split(s)) if budget > 0 => {
                    1 + walk(nodes, s.left as usize, budget - 1).max(walk(
                        nodes,
                        s.right as usize,
                        budget - 1,
                    ))
                }
                _ => 0,
            }
        }
        walk(&self.nodes, 0, self.nodes.len())
    }
}

/// A tree node.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Node {
    Split(Split),
    /// A leaf. A NaN value is a missing prediction (a PMML tree's null prediction): it
    /// makes the row's score missing.
    Leaf {
        #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::scalar"))]
        value: f64,
    },
    /// A leaf whose value is a linear function of features (LightGBM linear trees).
    LinearLeaf(LinearLeaf),
}

/// The value of a linear leaf: `constant + coefficients[0] * x[features[0]] + …`, each
/// product and the sum left to right in float64, where `x` is the feature value as the
/// splits see it (rounded to the feature precision, tiny values read as 0). When any of
/// `features` is missing the leaf's value is `value` instead (LightGBM's
/// `Tree::Predict`).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LinearLeaf {
    #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::scalar"))]
    pub value: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::scalar"))]
    pub constant: f64,
    /// Indices of the features, like [`Split::feature`].
    pub features: Vec<usize>,
    #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::vec"))]
    pub coefficients: Vec<f64>,
}

impl Node {
    /// The features the node reads: a split's feature, a linear leaf's features.
    pub fn features(&self) -> &[usize] {
        match self {
            Node::Split(s) => std::slice::from_ref(&s.feature),
            Node::Leaf { .. } => &[],
            Node::LinearLeaf(l) => &l.features,
        }
    }
}

/// An internal node: sends a row to `left` or `right`.
///
/// Decision order: a missing value (NaN) follows [`Missing`]; otherwise the [`Test`]
/// decides on the feature value rounded to the ensemble's feature precision.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Split {
    /// Index into the model's inputs.
    pub feature: usize,
    pub test: Test,
    pub missing: Missing,
    pub left: u32,
    pub right: u32,
}

/// The comparison of a split.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Test {
    /// Go left when `x <op> threshold`.
    Numeric {
        cmp: Cmp,
        #[cfg_attr(feature = "serde", serde(with = "crate::float_serde::scalar"))]
        threshold: f64,
    },
    /// The value is taken as a category code (truncated towards zero). Codes in
    /// `categories` go to `listed`; every other value, including negative codes, goes
    /// the other way.
    Categorical {
        categories: Vec<u32>,
        listed: Direction,
    },
}

/// Strict or non-strict comparison of a numeric split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Cmp {
    /// `x < threshold` (XGBoost, ONNX `BRANCH_LT`).
    #[cfg_attr(feature = "serde", serde(rename = "<"))]
    Lt,
    /// `x <= threshold` (LightGBM, scikit-learn).
    #[cfg_attr(feature = "serde", serde(rename = "<="))]
    Le,
}

impl Cmp {
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
        }
    }
}

/// A child of a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Direction {
    Left,
    Right,
}

impl Direction {
    pub fn flip(self) -> Direction {
        match self {
            Direction::Left => Direction::Right,
            Direction::Right => Direction::Left,
        }
    }
}

/// Where a missing value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Missing {
    /// A missing value goes to this child (XGBoost's default direction, LightGBM
    /// `missing_type=NaN`).
    To(Direction),
    /// A missing value is replaced by 0.0 and then tested (LightGBM `missing_type=None`).
    AsZero,
    /// A missing value, and any value with `|x| <= 1e-35` (LightGBM's `kZeroThreshold`),
    /// goes to this child (LightGBM `missing_type=Zero`).
    ZeroTo(Direction),
}

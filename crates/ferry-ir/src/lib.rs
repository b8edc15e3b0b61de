//! The ferry model IR.
//!
//! A [`Model`] is what every ferry command works on: importers produce it, the evaluator,
//! the SQL compiler and the explainer consume it. It is plain data with no I/O.
//!
//! The IR records the *arithmetic of the source library*, not just its structure:
//! whether features are rounded to float32 before a split compares them, whether a split
//! is `<` or `<=`, where a missing value goes, and in which precision leaf values are
//! summed. Reproducing predictions exactly depends on all of them.
//!
//! Shape of a model:
//!
//! ```text
//! inputs ──► derived columns ──► estimator (trees | linear) ──► raw scores ──► transform ──► task outputs
//!            (preprocessing,                                    (margins)      (sigmoid…)    (prediction | label + probabilities)
//!             optional)
//! ```
//!
//! Adding an estimator: a variant in [`Estimator`], its validation in `validate.rs`, and
//! its evaluation in `ferry-eval`.

mod error;
mod expr;
#[cfg(feature = "serde")]
mod float_serde;
mod linear;
mod model;
mod rewrite;
mod tree;
mod validate;

pub use error::IrError;
pub use expr::{lookup, round_to, BinaryFn, CompareOp, Derived, Expr, UnaryFn};
pub use linear::Linear;
pub use model::{
    first_max, output_columns, DType, Estimator, Input, Link, Model, OutputColumn, OutputKind,
    Precision, Source, Task, Transform, Unseen, IR_VERSION, VALIDITY_COLUMN,
};
pub use tree::{
    Aggregation, Cmp, Direction, LinearLeaf, Missing, Node, NodeStats, Split, Test, Tree,
    TreeEnsemble,
};

/// The zero threshold LightGBM uses to decide that a value "is zero" (`kZeroThreshold`).
pub const LIGHTGBM_ZERO_THRESHOLD: f64 = 1e-35_f32 as f64;

use std::collections::HashSet;

use crate::{Estimator, Expr, IrError, Linear, Model, Node, Task, Test, Transform, TreeEnsemble};

pub(crate) fn validate(model: &Model) -> Result<(), IrError> {
    if model.inputs.is_empty() {
        return Err(IrError::NoInputs);
    }
    let mut names = HashSet::new();
    for (index, input) in model.inputs.iter().enumerate() {
        if !names.insert(input.name.as_str()) {
            return Err(IrError::DuplicateInput {
                index,
                name: input.name.clone(),
            });
        }
        if let Some([low, high]) = input.range {
            if !(low.is_finite() && high.is_finite() && low <= high) {
                return Err(IrError::Invalid(format!(
                    "input `{}` has training range [{low}, {high}]; expected finite bounds, low <= high",
                    input.name
                )));
            }
        }
        if let Some(levels) = &input.levels {
            if input.dtype != crate::DType::Categorical {
                return Err(IrError::Invalid(format!(
                    "input `{}` has levels but is not categorical",
                    input.name
                )));
            }
            let unique: HashSet<_> = levels.iter().collect();
            if unique.len() != levels.len() {
                return Err(IrError::Invalid(format!(
                    "input `{}` lists a level twice",
                    input.name
                )));
            }
        }
    }
    validate_derived(model)?;
    let n_features = model.n_features();
    match &model.estimator {
        Estimator::Trees(ensemble) => validate_trees(ensemble, n_features)?,
        Estimator::Linear(linear) => validate_linear(linear, n_features)?,
    }
    validate_outputs(model)
}

/// Derived columns read only earlier columns; the estimator's features exist.
fn validate_derived(model: &Model) -> Result<(), IrError> {
    let n_inputs = model.inputs.len();
    for (d, derived) in model.derived.iter().enumerate() {
        let available = n_inputs + d;
        if names_taken(model, d) {
            return Err(IrError::Invalid(format!(
                "derived column {d} (`{}`) has the name of an earlier column",
                derived.name
            )));
        }
        let mut bad = None;
        derived.expr.for_each_column(&mut |c| {
            if c >= available {
                bad.get_or_insert(c);
            }
        });
        if let Some(c) = bad {
            return Err(IrError::Invalid(format!(
                "derived column `{}` reads column {c}, which is not an earlier column (only {available} precede it)",
                derived.name
            )));
        }
        check_expr(&derived.expr).map_err(|message| {
            IrError::Invalid(format!("derived column `{}`: {message}", derived.name))
        })?;
    }
    if let Some(features) = &model.features {
        if let Some(c) = features.iter().find(|c| **c >= model.n_columns()) {
            return Err(IrError::Invalid(format!(
                "feature reads column {c}, but the model has {} columns",
                model.n_columns()
            )));
        }
    }
    Ok(())
}

fn names_taken(model: &Model, d: usize) -> bool {
    let name = &model.derived[d].name;
    model.inputs.iter().any(|i| &i.name == name)
        || model.derived[..d].iter().any(|e| &e.name == name)
}

fn check_expr(expr: &Expr) -> Result<(), String> {
    match expr {
        Expr::Dot {
            columns,
            weights,
            bias,
            ..
        } => {
            if columns.len() != weights.len() {
                return Err(format!(
                    "a dot product has {} columns and {} weights",
                    columns.len(),
                    weights.len()
                ));
            }
            if !bias.is_finite() || weights.iter().any(|w| !w.is_finite()) {
                return Err("a dot product has a non-finite weight".into());
            }
            Ok(())
        }
        Expr::Column { .. } | Expr::Const { .. } => Ok(()),
        Expr::Unary { x, .. } | Expr::IsMissing { x } | Expr::Lookup { x, .. } => check_expr(x),
        Expr::Binary { a, b, .. } | Expr::Compare { a, b, .. } => {
            check_expr(a)?;
            check_expr(b)
        }
        Expr::If {
            cond,
            then,
            otherwise,
        } => {
            check_expr(cond)?;
            check_expr(then)?;
            check_expr(otherwise)
        }
    }
}

fn validate_outputs(model: &Model) -> Result<(), IrError> {
    let n = model.estimator.n_outputs();
    if n == 0 {
        return Err(IrError::Invalid("the estimator has no outputs".into()));
    }
    if let Transform::Logistic { scale } = model.transform {
        if !scale.is_finite() {
            return Err(IrError::Invalid(format!(
                "logistic scale must be finite, found {scale}"
            )));
        }
    }
    if model.transform == Transform::Softmax && n < 2 {
        return Err(IrError::Invalid(
            "softmax needs at least two raw scores".into(),
        ));
    }
    if model.transform == Transform::Sort && !matches!(model.task, Task::Regression) {
        return Err(IrError::Invalid(
            "a sort of the scores is a regression transform".into(),
        ));
    }
    match &model.task {
        Task::Regression => {
            // Several targets are predicted side by side: each through the transform on
            // its own, so not a softmax across them.
            if n != 1 && model.transform == Transform::Softmax {
                return Err(IrError::Invalid(format!(
                    "a regression model with {n} targets cannot have a softmax transform"
                )));
            }
        }
        Task::Classification {
            classes,
            label_order,
            label_column,
        } => {
            if let Some(c) = label_column {
                if *c >= model.n_columns() {
                    return Err(IrError::Invalid(format!(
                        "label_column {c} is out of range ({} columns)",
                        model.n_columns()
                    )));
                }
            }
            if let Some(order) = label_order {
                let mut seen = vec![false; classes.len()];
                for &k in order {
                    if k >= classes.len() || std::mem::replace(&mut seen[k], true) {
                        return Err(IrError::Invalid(format!(
                            "label_order {order:?} is not an order of the {} classes",
                            classes.len()
                        )));
                    }
                }
                if order.len() != classes.len() {
                    return Err(IrError::Invalid(format!(
                        "label_order {order:?} is not an order of the {} classes",
                        classes.len()
                    )));
                }
            }
            if classes.len() < 2 {
                return Err(IrError::Invalid(format!(
                    "a classifier needs at least two classes, found {}",
                    classes.len()
                )));
            }
            let unique: HashSet<_> = classes.iter().collect();
            if unique.len() != classes.len() {
                return Err(IrError::Invalid("a class is listed twice".into()));
            }
            let binary_single = n == 1 && classes.len() == 2;
            if !binary_single && n != classes.len() {
                return Err(IrError::Invalid(format!(
                    "{} classes need {} raw scores (or 1 for two classes), found {n}",
                    classes.len(),
                    classes.len()
                )));
            }
            if binary_single && model.transform == Transform::Softmax {
                return Err(IrError::Invalid(
                    "a binary classifier with one raw score cannot use softmax".into(),
                ));
            }
        }
    }
    Ok(())
}

fn validate_trees(ensemble: &TreeEnsemble, n_inputs: usize) -> Result<(), IrError> {
    if ensemble.n_outputs == 0 {
        return Err(IrError::Invalid(
            "a tree ensemble needs n_outputs >= 1".into(),
        ));
    }
    if ensemble.base_score.len() != ensemble.n_outputs {
        return Err(IrError::Invalid(format!(
            "base_score has {} values for {} outputs",
            ensemble.base_score.len(),
            ensemble.n_outputs
        )));
    }
    if let Some(bad) = ensemble.base_score.iter().find(|x| !x.is_finite()) {
        return Err(IrError::Invalid(format!("base_score {bad} is not finite")));
    }
    for (t, tree) in ensemble.trees.iter().enumerate() {
        let err = |node: usize, message: String| IrError::Tree {
            tree: t,
            node,
            message,
        };
        if let Some(stats) = &tree.stats {
            if stats.gain.len() != tree.nodes.len() || stats.cover.len() != tree.nodes.len() {
                return Err(err(
                    0,
                    format!(
                        "statistics for {} and {} nodes, the tree has {}",
                        stats.gain.len(),
                        stats.cover.len(),
                        tree.nodes.len()
                    ),
                ));
            }
        }
        if tree.output >= ensemble.n_outputs {
            return Err(err(
                0,
                format!(
                    "adds to output {} but the ensemble has {}",
                    tree.output, ensemble.n_outputs
                ),
            ));
        }
        if !tree.weight.is_finite() {
            return Err(err(0, format!("weight {} is not finite", tree.weight)));
        }
        if tree.nodes.is_empty() {
            return Err(err(0, "the tree has no nodes".into()));
        }
        // Every node must be reached exactly once from the root: no cycles, no sharing,
        // no orphans. Evaluation and SQL emission both rely on a proper tree.
        let mut seen = vec![false; tree.nodes.len()];
        let mut stack = vec![0usize];
        seen[0] = true;
        while let Some(at) = stack.pop() {
            match &tree.nodes[at] {
                Node::Leaf { value } => {
                    // NaN is allowed: the null prediction of a PMML tree.
                    if value.is_infinite() {
                        return Err(err(at, format!("leaf value {value} is not finite")));
                    }
                }
                Node::LinearLeaf(leaf) => {
                    if leaf.features.len() != leaf.coefficients.len() {
                        return Err(err(
                            at,
                            format!(
                                "linear leaf has {} features and {} coefficients",
                                leaf.features.len(),
                                leaf.coefficients.len()
                            ),
                        ));
                    }
                    if let Some(f) = leaf.features.iter().find(|f| **f >= n_inputs) {
                        return Err(err(
                            at,
                            format!("linear leaf reads feature {f} but the model has {n_inputs} features"),
                        ));
                    }
                    let numbers = [leaf.value, leaf.constant];
                    if let Some(x) = numbers
                        .iter()
                        .chain(&leaf.coefficients)
                        .find(|x| !x.is_finite())
                    {
                        return Err(err(
                            at,
                            format!("linear leaf holds {x}, not a finite number"),
                        ));
                    }
                }
                Node::Split(split) => {
                    if split.feature >= n_inputs {
                        return Err(err(
                            at,
                            format!(
                                "splits on feature {} but the model has {n_inputs} features",
                                split.feature
                            ),
                        ));
                    }
                    if let Test::Numeric { threshold, .. } = split.test {
                        if threshold.is_nan() {
                            return Err(err(at, "threshold is NaN".into()));
                        }
                    }
                    for child in [split.left, split.right] {
                        let child = child as usize;
                        if child >= tree.nodes.len() {
                            return Err(err(
                                at,
                                format!(
                                    "child {child} is out of range ({} nodes)",
                                    tree.nodes.len()
                                ),
                            ));
                        }
                        if std::mem::replace(&mut seen[child], true) {
                            return Err(err(
                                at,
                                format!("child {child} is reached twice (not a tree)"),
                            ));
                        }
                        stack.push(child);
                    }
                }
            }
        }
        if let Some(orphan) = seen.iter().position(|s| !s) {
            return Err(err(orphan, "node is not reachable from the root".into()));
        }
    }
    Ok(())
}

fn validate_linear(linear: &Linear, n_inputs: usize) -> Result<(), IrError> {
    if linear.coefficients.len() != linear.intercepts.len() {
        return Err(IrError::Invalid(format!(
            "{} coefficient rows for {} intercepts",
            linear.coefficients.len(),
            linear.intercepts.len()
        )));
    }
    for (k, row) in linear.coefficients.iter().enumerate() {
        if row.len() != n_inputs {
            return Err(IrError::Invalid(format!(
                "coefficient row {k} has {} values for {n_inputs} features",
                row.len()
            )));
        }
        if row
            .iter()
            .chain([&linear.intercepts[k]])
            .any(|x| !x.is_finite())
        {
            return Err(IrError::Invalid(format!(
                "coefficient row {k} has a non-finite value"
            )));
        }
    }
    Ok(())
}

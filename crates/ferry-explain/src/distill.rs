//! Small surrogate models people can read, fitted to a model's own predictions
//! (`ferry distill`): a CART decision tree of bounded depth, or a fast-and-frugal tree
//! (one cue per level, each level but the last exiting on one side; Martignon et al.,
//! the FFTrees package). Both come out as ordinary IR models over the original inputs,
//! so `ferry explain` prints their rules and `ferry predict`/`ferry sql` run them.
//!
//! The data is the model's input columns as its estimator sees them (float64, category
//! codes for categorical inputs, NaN for missing) and the model's predictions as the
//! target: class indices, or numbers for regression.

use ferry_ir::{
    Aggregation, Cmp, Direction, Estimator, Input, Missing, Model, Node, Precision, Source, Split,
    Task, Test, Transform, Tree, TreeEnsemble, IR_VERSION,
};

/// What the surrogate learns: the model's labels, or its predictions.
#[derive(Debug, Clone)]
pub enum Target {
    Classes {
        labels: Vec<u32>,
        classes: Vec<String>,
    },
    Values(Vec<f64>),
}

impl Target {
    fn classes(&self) -> Option<&[String]> {
        match self {
            Target::Classes { classes, .. } => Some(classes),
            Target::Values(_) => None,
        }
    }

    fn n_classes(&self) -> usize {
        self.classes().map_or(0, <[String]>::len)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct TreeOptions {
    pub max_depth: usize,
    /// Fewest training rows in a leaf.
    pub min_leaf: usize,
}

/// A candidate split of one node's rows.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    feature: usize,
    /// Numeric: `x <= threshold` goes left. Categorical: code `threshold` goes left.
    threshold: f64,
    categorical: bool,
    missing_left: bool,
    /// Impurity of the children (lower is better).
    impurity: f64,
}

/// Fits a CART tree (Gini impurity for classes, squared error for values) on `rows`.
pub fn fit_tree(
    inputs: &[Input],
    columns: &[Vec<f64>],
    target: &Target,
    rows: &[usize],
    options: TreeOptions,
) -> Model {
    let mut nodes: Vec<Node> = Vec::new();
    // Leaves carry one value per output; the IR wants one tree per output, so leaf
    // payloads are kept aside and the trees written at the end.
    let mut payloads: Vec<Vec<f64>> = Vec::new();
    let mut stack = vec![(rows.to_vec(), 0usize, 0usize)];
    nodes.push(Node::Leaf { value: 0.0 });
    payloads.push(Vec::new());
    while let Some((node_rows, depth, at)) = stack.pop() {
        let split = if depth < options.max_depth {
            best_split(inputs, columns, target, &node_rows, options.min_leaf)
        } else {
            None
        };
        match split {
            Some(c) => {
                let (left, right): (Vec<usize>, Vec<usize>) = node_rows
                    .iter()
                    .partition(|&&r| goes_left(&c, columns[c.feature][r]));
                let l = nodes.len() as u32;
                nodes.push(Node::Leaf { value: 0.0 });
                nodes.push(Node::Leaf { value: 0.0 });
                payloads.push(Vec::new());
                payloads.push(Vec::new());
                nodes[at] = Node::Split(to_split(&c, l));
                stack.push((right, depth + 1, l as usize + 1));
                stack.push((left, depth + 1, l as usize));
            }
            None => payloads[at] = leaf_payload(target, &node_rows),
        }
    }
    let objective = match target {
        Target::Classes { .. } => format!("CART, Gini, max depth {}", options.max_depth),
        Target::Values(_) => format!("CART, squared error, max depth {}", options.max_depth),
    };
    surrogate(inputs, target.classes(), nodes, payloads, objective)
}

/// A threshold `t` with `a < t < b` (so `x <= t` splits the rows between `a` and `b`,
/// with room on both sides for values not seen) that reads well: the midpoint rounded
/// to the fewest significant digits that keep it strictly between. `a` when `b` is the
/// next float.
fn readable_threshold(a: f64, b: f64) -> f64 {
    let mid = a + (b - a) / 2.0;
    for digits in 0..17 {
        if let Ok(t) = format!("{mid:.digits$e}").parse::<f64>() {
            if a < t && t < b {
                return t;
            }
        }
    }
    if a < mid && mid < b {
        mid
    } else {
        a
    }
}

fn goes_left(c: &Candidate, x: f64) -> bool {
    if x.is_nan() {
        c.missing_left
    } else if c.categorical {
        x == c.threshold
    } else {
        x <= c.threshold
    }
}

fn to_split(c: &Candidate, left: u32) -> Split {
    let missing = Missing::To(if c.missing_left {
        Direction::Left
    } else {
        Direction::Right
    });
    let test = if c.categorical {
        Test::Categorical {
            categories: vec![c.threshold as u32],
            listed: Direction::Left,
        }
    } else {
        Test::Numeric {
            cmp: Cmp::Le,
            threshold: c.threshold,
        }
    };
    Split {
        feature: c.feature,
        test,
        missing,
        left,
        right: left + 1,
    }
}

/// Class frequencies, or the mean.
fn leaf_payload(target: &Target, rows: &[usize]) -> Vec<f64> {
    match target {
        Target::Classes { labels, classes } => {
            let mut counts = vec![0.0; classes.len()];
            for &r in rows {
                counts[labels[r] as usize] += 1.0;
            }
            let n = rows.len().max(1) as f64;
            counts.iter().map(|c| c / n).collect()
        }
        Target::Values(values) => {
            let sum: f64 = rows.iter().map(|&r| values[r]).sum();
            vec![sum / rows.len().max(1) as f64]
        }
    }
}

/// Running sums that give a side's impurity: class counts, or (n, Σy, Σy²).
#[derive(Clone)]
struct Stats {
    counts: Vec<f64>,
    n: f64,
    sum: f64,
    sum_sq: f64,
}

impl Stats {
    fn new(n_classes: usize) -> Stats {
        Stats {
            counts: vec![0.0; n_classes],
            n: 0.0,
            sum: 0.0,
            sum_sq: 0.0,
        }
    }

    fn add(&mut self, target: &Target, r: usize, sign: f64) {
        self.n += sign;
        match target {
            Target::Classes { labels, .. } => self.counts[labels[r] as usize] += sign,
            Target::Values(values) => {
                self.sum += sign * values[r];
                self.sum_sq += sign * values[r] * values[r];
            }
        }
    }

    fn merged(&self, other: &Stats) -> Stats {
        self.combined(other, 1.0)
    }

    fn minus(&self, other: &Stats) -> Stats {
        self.combined(other, -1.0)
    }

    fn combined(&self, other: &Stats, sign: f64) -> Stats {
        Stats {
            counts: self
                .counts
                .iter()
                .zip(&other.counts)
                .map(|(a, b)| a + sign * b)
                .collect(),
            n: self.n + sign * other.n,
            sum: self.sum + sign * other.sum,
            sum_sq: self.sum_sq + sign * other.sum_sq,
        }
    }

    /// n × Gini, or the sum of squared errors around the mean.
    fn impurity(&self, classes: bool) -> f64 {
        if self.n <= 0.0 {
            return 0.0;
        }
        if classes {
            self.n - self.counts.iter().map(|c| c * c).sum::<f64>() / self.n
        } else {
            (self.sum_sq - self.sum * self.sum / self.n).max(0.0)
        }
    }
}

fn best_split(
    inputs: &[Input],
    columns: &[Vec<f64>],
    target: &Target,
    rows: &[usize],
    min_leaf: usize,
) -> Option<Candidate> {
    let classes = matches!(target, Target::Classes { .. });
    let k = target.n_classes();
    let mut all = Stats::new(k);
    for &r in rows {
        all.add(target, r, 1.0);
    }
    let parent = all.impurity(classes);
    if parent <= 1e-12 * all.n.max(1.0) || rows.len() < 2 * min_leaf {
        return None;
    }
    let min_leaf = min_leaf as f64;
    let mut best: Option<Candidate> = None;
    let mut consider = |c: Candidate| {
        if best.is_none_or(|b| c.impurity < b.impurity - 1e-12 * parent) {
            best = Some(c);
        }
    };
    for (feature, input) in inputs.iter().enumerate() {
        let column = &columns[feature];
        let mut missing = Stats::new(k);
        let mut present: Vec<(f64, usize)> = Vec::with_capacity(rows.len());
        for &r in rows {
            let x = column[r];
            if x.is_nan() {
                missing.add(target, r, 1.0);
            } else {
                present.push((x, r));
            }
        }
        if present.is_empty() {
            continue;
        }
        let present_stats = {
            let mut s = Stats::new(k);
            for &(_, r) in &present {
                s.add(target, r, 1.0);
            }
            s
        };
        // Missing rows go to whichever side gives the lower impurity.
        let mut score = |left: &Stats, right: &Stats, c: Candidate| {
            for missing_left in [true, false] {
                let (l, r) = if missing_left {
                    (left.merged(&missing), right.clone())
                } else {
                    (left.clone(), right.merged(&missing))
                };
                if l.n < min_leaf || r.n < min_leaf {
                    continue;
                }
                consider(Candidate {
                    missing_left,
                    impurity: l.impurity(classes) + r.impurity(classes),
                    ..c
                });
            }
        };
        present.sort_by(|a, b| a.0.total_cmp(&b.0));
        if input.levels.is_some() {
            // One category against the rest.
            let mut i = 0;
            while i < present.len() {
                let code = present[i].0;
                let mut left = Stats::new(k);
                while i < present.len() && present[i].0 == code {
                    left.add(target, present[i].1, 1.0);
                    i += 1;
                }
                if code < 0.0 {
                    continue;
                }
                let right = present_stats.minus(&left);
                let c = Candidate {
                    feature,
                    threshold: code,
                    categorical: true,
                    missing_left: false,
                    impurity: 0.0,
                };
                score(&left, &right, c);
            }
        } else {
            let mut left = Stats::new(k);
            let mut right = present_stats.clone();
            for i in 0..present.len() - 1 {
                let (x, r) = present[i];
                left.add(target, r, 1.0);
                right.add(target, r, -1.0);
                let next = present[i + 1].0;
                if next == x {
                    continue;
                }
                let threshold = readable_threshold(x, next);
                let c = Candidate {
                    feature,
                    threshold,
                    categorical: false,
                    missing_left: false,
                    impurity: 0.0,
                };
                score(&left, &right, c);
            }
        }
    }
    best.filter(|b| b.impurity < parent - 1e-12 * parent.max(1.0))
}

/// Fits a fast-and-frugal tree for a binary classification: at most `max_levels`
/// cues; each level but the last exits on one side with one class. Each level takes,
/// among the cues not used yet, the cue, threshold and direction with the highest
/// balanced accuracy on the rows still in the tree, and exits on the side whose
/// decision is the purer (positive or negative predictive value). Missing values go
/// on to the next level (at the last, to the more common class).
pub fn fit_fast_frugal(
    inputs: &[Input],
    columns: &[Vec<f64>],
    labels: &[u32],
    classes: &[String],
    rows: &[usize],
    max_levels: usize,
    min_exit: usize,
) -> Result<Model, String> {
    if classes.len() != 2 {
        return Err(format!(
            "a fast-and-frugal tree decides between two classes; this model has {} ({})",
            classes.len(),
            classes.join(", ")
        ));
    }
    let mut remaining = rows.to_vec();
    let mut used = vec![false; inputs.len()];
    // Per level: the cue, whether it exits on the cue's positive side, the class it
    // exits with, and the more common class of the rows it has no value for.
    let mut levels: Vec<(Cue, bool, u32, u32)> = Vec::new();
    while levels.len() < max_levels {
        let positives = remaining.iter().filter(|&&r| labels[r] == 1).count();
        if positives == 0 || positives == remaining.len() {
            break;
        }
        let Some(cue) = best_cue(inputs, columns, labels, &remaining, &used) else {
            break;
        };
        used[cue.feature] = true;
        let (mut pos_hit, mut pos_n, mut neg_hit, mut neg_n) = (0usize, 0usize, 0usize, 0usize);
        let (mut miss_pos, mut miss_n) = (0usize, 0usize);
        for &r in &remaining {
            match cue.positive(columns[cue.feature][r]) {
                Some(true) => {
                    pos_n += 1;
                    pos_hit += (labels[r] == 1) as usize;
                }
                Some(false) => {
                    neg_n += 1;
                    neg_hit += (labels[r] == 0) as usize;
                }
                None => {
                    miss_n += 1;
                    miss_pos += (labels[r] == 1) as usize;
                }
            }
        }
        // A cue that, deciding both ways, is no better than the more common class on
        // the rows left ends the tree at the level before.
        let decided = (pos_n + neg_n).max(1) as f64;
        let split_right = (pos_hit + neg_hit) as f64;
        let ones = (pos_hit + neg_n - neg_hit) as f64;
        if !levels.is_empty() && split_right <= ones.max(decided - ones) {
            break;
        }
        let missing_class = u32::from(2 * miss_pos > miss_n);
        let ppv = pos_hit as f64 / pos_n.max(1) as f64;
        let npv = neg_hit as f64 / neg_n.max(1) as f64;
        let exit_positive = if pos_n < min_exit {
            false
        } else if neg_n < min_exit {
            true
        } else {
            ppv >= npv
        };
        levels.push((cue, exit_positive, u32::from(exit_positive), missing_class));
        remaining.retain(|&r| cue.positive(columns[cue.feature][r]) != Some(exit_positive));
        if remaining.len() < min_exit || used.iter().all(|u| *u) {
            break;
        }
    }
    if levels.is_empty() {
        return Err("no cue separates the two classes on these rows".into());
    }
    // The last level exits both ways: the cue's positive side with class 1.
    let last_missing_class = levels.last().map_or(0, |l| l.3);
    if let Some(last) = levels.last_mut() {
        last.2 = u32::MAX;
    }
    let mut nodes = Vec::new();
    let mut payloads = Vec::new();
    let onehot =
        |class: u32| -> Vec<f64> { (0..2).map(|k| f64::from(u8::from(k == class))).collect() };
    for (cue, exit_positive, exit_class, _) in &levels {
        let at = nodes.len() as u32;
        let (test, positive) = cue.test();
        if *exit_class == u32::MAX {
            // The last level: the positive side decides class 1, the other class 0.
            let (left_class, right_class) = match positive {
                Direction::Left => (1, 0),
                Direction::Right => (0, 1),
            };
            let missing = Missing::To(if last_missing_class == left_class {
                Direction::Left
            } else {
                Direction::Right
            });
            nodes.push(Node::Split(Split {
                feature: cue.feature,
                test,
                missing,
                left: at + 1,
                right: at + 2,
            }));
            payloads.push(Vec::new());
            for class in [left_class, right_class] {
                nodes.push(Node::Leaf { value: 0.0 });
                payloads.push(onehot(class));
            }
        } else {
            // The exit leaf at `at + 1`; the next level's split comes right after it,
            // at `at + 2`. Missing values go on to the next level.
            let exit_dir = if *exit_positive {
                positive
            } else {
                positive.flip()
            };
            let (left, right) = match exit_dir {
                Direction::Left => (at + 1, at + 2),
                Direction::Right => (at + 2, at + 1),
            };
            nodes.push(Node::Split(Split {
                feature: cue.feature,
                test,
                missing: Missing::To(exit_dir.flip()),
                left,
                right,
            }));
            payloads.push(Vec::new());
            nodes.push(Node::Leaf { value: 0.0 });
            payloads.push(onehot(*exit_class));
        }
    }
    let objective = format!("fast-and-frugal tree, {} cues", levels.len());
    Ok(surrogate(inputs, Some(classes), nodes, payloads, objective))
}

/// One cue of a fast-and-frugal tree: `x > threshold` (or `x <= threshold` when
/// `below`), or `x == category`.
#[derive(Debug, Clone, Copy)]
struct Cue {
    feature: usize,
    threshold: f64,
    below: bool,
    categorical: bool,
}

impl Cue {
    /// Whether `x` is on the cue's positive side; `None` when missing.
    fn positive(&self, x: f64) -> Option<bool> {
        if x.is_nan() {
            None
        } else if self.categorical {
            Some(x == self.threshold)
        } else if self.below {
            Some(x <= self.threshold)
        } else {
            Some(x > self.threshold)
        }
    }

    /// The IR test of the cue and the side its positive values go to (the IR's
    /// numeric tests send `x <= t` left, so `x > t` is the right child).
    fn test(&self) -> (Test, Direction) {
        if self.categorical {
            let test = Test::Categorical {
                categories: vec![self.threshold as u32],
                listed: Direction::Left,
            };
            return (test, Direction::Left);
        }
        let test = Test::Numeric {
            cmp: Cmp::Le,
            threshold: self.threshold,
        };
        (
            test,
            if self.below {
                Direction::Left
            } else {
                Direction::Right
            },
        )
    }
}

fn best_cue(
    inputs: &[Input],
    columns: &[Vec<f64>],
    labels: &[u32],
    rows: &[usize],
    used: &[bool],
) -> Option<Cue> {
    let total_pos = rows.iter().filter(|&&r| labels[r] == 1).count() as f64;
    let total_neg = rows.len() as f64 - total_pos;
    let mut best: Option<(f64, Cue)> = None;
    let mut consider = |bacc: f64, cue: Cue| {
        if best.is_none_or(|(b, _)| bacc > b + 1e-12) {
            best = Some((bacc, cue));
        }
    };
    for (feature, input) in inputs.iter().enumerate() {
        if used[feature] {
            continue;
        }
        let column = &columns[feature];
        let mut present: Vec<(f64, bool)> = rows
            .iter()
            .filter(|&&r| !column[r].is_nan())
            .map(|&r| (column[r], labels[r] == 1))
            .collect();
        if present.is_empty() {
            continue;
        }
        present.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Sensitivity and specificity over all rows: a missing value is on no side.
        let bacc = |pos_in: f64, neg_in: f64| {
            0.5 * (pos_in / total_pos.max(1.0) + (total_neg - neg_in) / total_neg.max(1.0))
        };
        if input.levels.is_some() {
            let mut i = 0;
            while i < present.len() {
                let code = present[i].0;
                let (mut p, mut n) = (0.0, 0.0);
                while i < present.len() && present[i].0 == code {
                    if present[i].1 {
                        p += 1.0
                    } else {
                        n += 1.0
                    }
                    i += 1;
                }
                if code >= 0.0 {
                    consider(
                        bacc(p, n),
                        Cue {
                            feature,
                            threshold: code,
                            below: false,
                            categorical: true,
                        },
                    );
                }
            }
        } else {
            let all_p = present.iter().filter(|x| x.1).count() as f64;
            let all_n = present.len() as f64 - all_p;
            let (mut p_below, mut n_below) = (0.0, 0.0);
            for i in 0..present.len() - 1 {
                if present[i].1 {
                    p_below += 1.0
                } else {
                    n_below += 1.0
                }
                let (x, next) = (present[i].0, present[i + 1].0);
                if next == x {
                    continue;
                }
                let threshold = readable_threshold(x, next);
                consider(
                    bacc(all_p - p_below, all_n - n_below),
                    Cue {
                        feature,
                        threshold,
                        below: false,
                        categorical: false,
                    },
                );
                consider(
                    bacc(p_below, n_below),
                    Cue {
                        feature,
                        threshold,
                        below: true,
                        categorical: false,
                    },
                );
            }
        }
    }
    best.map(|(_, c)| c)
}

/// An IR model of one tree over `inputs`: one tree per output (class probabilities or
/// the value) with the same splits.
fn surrogate(
    inputs: &[Input],
    classes: Option<&[String]>,
    nodes: Vec<Node>,
    payloads: Vec<Vec<f64>>,
    objective: String,
) -> Model {
    let (n_outputs, task) = match classes {
        Some(classes) => (classes.len(), Task::classification(classes.to_vec())),
        None => (1, Task::Regression),
    };
    let trees = (0..n_outputs)
        .map(|k| Tree {
            stats: None,
            output: k,
            weight: 1.0,
            nodes: nodes
                .iter()
                .zip(&payloads)
                .map(|(node, payload)| match node {
                    Node::Leaf { .. } => Node::Leaf {
                        value: payload.get(k).copied().unwrap_or(0.0),
                    },
                    split => split.clone(),
                })
                .collect(),
        })
        .collect();
    let mut inputs = inputs.to_vec();
    for input in &mut inputs {
        // The surrogate takes what the model took; it does not flag ranges.
        input.range = None;
    }
    Model {
        ir_version: IR_VERSION,
        source: Source {
            format: "ferry-ir".into(),
            library: "ferry distill".into(),
            library_version: Some(env!("CARGO_PKG_VERSION").into()),
            objective: Some(objective),
        },
        inputs,
        derived: Vec::new(),
        features: None,
        estimator: Estimator::Trees(TreeEnsemble {
            n_outputs,
            base_score: vec![0.0; n_outputs],
            feature_precision: Precision::F64,
            score_precision: Precision::F64,
            aggregation: Aggregation::Sum,
            tiny_as_zero: None,
            trees,
        }),
        transform: Transform::Identity,
        task,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_ir::DType;

    fn input(name: &str, levels: Option<Vec<String>>) -> Input {
        Input {
            name: name.into(),
            dtype: if levels.is_some() {
                DType::Categorical
            } else {
                DType::Float64
            },
            nullable: true,
            levels,
            unseen: Default::default(),
            range: None,
        }
    }

    /// Walks tree 0.. of the surrogate for one row: the class with the highest leaf
    /// value, or the value.
    fn predict(model: &Model, row: &[f64]) -> Vec<f64> {
        let Estimator::Trees(e) = &model.estimator else {
            panic!()
        };
        e.trees
            .iter()
            .map(|t| {
                let mut at = 0usize;
                loop {
                    match &t.nodes[at] {
                        Node::Leaf { value } => break *value,
                        Node::LinearLeaf(_) => unreachable!("surrogates have constant leaves"),
                        Node::Split(s) => {
                            let x = row[s.feature];
                            let left = if x.is_nan() {
                                s.missing == Missing::To(Direction::Left)
                            } else {
                                match &s.test {
                                    Test::Numeric {
                                        cmp: Cmp::Le,
                                        threshold,
                                    } => x <= *threshold,
                                    Test::Numeric {
                                        cmp: Cmp::Lt,
                                        threshold,
                                    } => x < *threshold,
                                    Test::Categorical { categories, listed } => {
                                        categories.contains(&(x as u32))
                                            == (*listed == Direction::Left)
                                    }
                                }
                            };
                            at = if left { s.left } else { s.right } as usize;
                        }
                    }
                }
            })
            .collect()
    }

    fn argmax(v: &[f64]) -> u32 {
        (0..v.len()).fold(0, |b, k| if v[k] > v[b] { k } else { b }) as u32
    }

    /// y = 1 when x0 > 0.5 or colour is "red" (code 2); x2 is noise; some x0 missing.
    fn data() -> (Vec<Input>, Vec<Vec<f64>>, Vec<u32>) {
        let n = 400;
        let mut x0 = Vec::new();
        let mut colour = Vec::new();
        let mut noise = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let a = (i * 37 % 100) as f64 / 100.0;
            let c = (i % 3) as f64;
            x0.push(if i % 50 == 7 { f64::NAN } else { a });
            colour.push(c);
            noise.push((i * 11 % 17) as f64);
            y.push(u32::from(a > 0.5 || c == 2.0));
        }
        let inputs = vec![
            input("x0", None),
            input(
                "colour",
                Some(vec!["blue".into(), "green".into(), "red".into()]),
            ),
            input("noise", None),
        ];
        (inputs, vec![x0, colour, noise], y)
    }

    #[test]
    fn thresholds_are_short_decimals_between_the_values() {
        assert_eq!(readable_threshold(112.3, 112.73), 112.5);
        assert_eq!(readable_threshold(0.1, 0.9), 0.5);
        assert_eq!(readable_threshold(2.0, 3.0), 2.5);
        let (a, b) = (1.0, f64::from_bits(1.0f64.to_bits() + 1));
        assert_eq!(readable_threshold(a, b), a);
        assert_eq!(readable_threshold(-5.0, -4.0), -4.5);
    }

    #[test]
    fn cart_recovers_the_rule() {
        let (inputs, columns, y) = data();
        let target = Target::Classes {
            labels: y.clone(),
            classes: vec!["no".into(), "yes".into()],
        };
        let rows: Vec<usize> = (0..y.len()).collect();
        let model = fit_tree(
            &inputs,
            &columns,
            &target,
            &rows,
            TreeOptions {
                max_depth: 3,
                min_leaf: 2,
            },
        );
        model.validate().unwrap();
        let right = rows
            .iter()
            .filter(|&&r| {
                let row: Vec<f64> = columns.iter().map(|c| c[r]).collect();
                argmax(&predict(&model, &row)) == y[r]
            })
            .count();
        // Only the rows with x0 missing (and colour not red) can be wrong.
        assert!(right >= y.len() - 8, "{right} of {}", y.len());
        let Estimator::Trees(e) = &model.estimator else {
            panic!()
        };
        assert_eq!(e.trees.len(), 2, "one tree per class, same splits");
    }

    #[test]
    fn cart_regression_means() {
        let (inputs, columns, _) = data();
        let values: Vec<f64> = (0..400)
            .map(|i| if columns[2][i] > 8.0 { 10.0 } else { -1.0 })
            .collect();
        let rows: Vec<usize> = (0..400).collect();
        let model = fit_tree(
            &inputs,
            &columns,
            &Target::Values(values.clone()),
            &rows,
            TreeOptions {
                max_depth: 2,
                min_leaf: 5,
            },
        );
        for r in rows {
            let row: Vec<f64> = columns.iter().map(|c| c[r]).collect();
            assert_eq!(predict(&model, &row)[0], values[r]);
        }
    }

    #[test]
    fn fast_frugal_tree_exits_level_by_level() {
        let (inputs, columns, y) = data();
        let rows: Vec<usize> = (0..y.len()).collect();
        let classes = vec!["no".to_string(), "yes".to_string()];
        let model = fit_fast_frugal(&inputs, &columns, &y, &classes, &rows, 3, 5).unwrap();
        model.validate().unwrap();
        let right = rows
            .iter()
            .filter(|&&r| {
                let row: Vec<f64> = columns.iter().map(|c| c[r]).collect();
                argmax(&predict(&model, &row)) == y[r]
            })
            .count();
        assert!(
            right as f64 >= 0.95 * y.len() as f64,
            "{right} of {}",
            y.len()
        );
        // A chain: every split has a leaf child, except none.
        let Estimator::Trees(e) = &model.estimator else {
            panic!()
        };
        for node in &e.trees[0].nodes {
            if let Node::Split(s) = node {
                let leafy = |i: u32| matches!(e.trees[0].nodes[i as usize], Node::Leaf { .. });
                assert!(leafy(s.left) || leafy(s.right));
            }
        }
        let three = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        assert!(fit_fast_frugal(&inputs, &columns, &y, &three, &rows, 3, 5)
            .unwrap_err()
            .contains("two classes"));
    }
}

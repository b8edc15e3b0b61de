//! TreeModel: predicates and nodes into binary IR trees.
//!
//! A PMML node takes its first child whose predicate is true. That becomes a chain of
//! binary splits, one per child; a predicate whose value is unknown (a missing input)
//! goes where the model's `missingValueStrategy` says, and a node none of whose
//! children is true ends as `noTrueChildStrategy` says. Predicates on one field become
//! plain splits on that column; anything else (compound predicates, equality with a
//! number) a derived 1/0/missing column the split reads.
//!
//! The tree is built iteratively: a deep chain of nodes costs no stack.

use ferry_ir::{Cmp, CompareOp, Direction, Expr, Missing, Test};

use super::expr::compare;
use super::fields::{Builder, Field, Kind};
use super::xml::{array_values, El};
use crate::ImportError;

/// A node of a tree being built. Split features are columns of the column space,
/// renumbered into estimator features when the ensemble is assembled.
#[derive(Debug, Clone)]
pub(crate) enum Shape<'a, 'i> {
    Split {
        column: usize,
        test: Test,
        missing: Missing,
        left: u32,
        right: u32,
    },
    /// The prediction of this PMML node.
    Leaf(El<'a, 'i>),
    /// The null prediction (missing).
    Null,
}

/// The outcome of a predicate.
enum Cond {
    Always(bool),
    /// True when `test` sends the column's value to `truth`; unknown when it is missing.
    Split {
        column: usize,
        test: Test,
        truth: Direction,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// Unknown is false.
    None,
    LastPrediction,
    NullPrediction,
    DefaultChild,
}

pub(crate) struct TreeOptions {
    strategy: Strategy,
    last_on_no_true_child: bool,
}

impl TreeOptions {
    pub fn of(model: El<'_, '_>) -> Result<TreeOptions, ImportError> {
        let strategy = match model.attr("missingValueStrategy").unwrap_or("none") {
            "none" => Strategy::None,
            "lastPrediction" => Strategy::LastPrediction,
            "nullPrediction" => Strategy::NullPrediction,
            "defaultChild" => Strategy::DefaultChild,
            other => {
                return Err(model.unsupported(format!("missingValueStrategy `{other}`")));
            }
        };
        let last_on_no_true_child = match model.attr("noTrueChildStrategy") {
            None | Some("returnNullPrediction") => false,
            Some("returnLastPrediction") => true,
            Some(other) => {
                return Err(model.error(format!("unknown noTrueChildStrategy `{other}`")));
            }
        };
        if model.f64_or("missingValuePenalty", 1.0)? != 1.0 {
            return Err(model.unsupported("missingValuePenalty other than 1"));
        }
        Ok(TreeOptions {
            strategy,
            last_on_no_true_child,
        })
    }
}

/// Most nodes of one tree.
const MAX_TREE_NODES: usize = 10_000_000;

impl<'a, 'i> Builder<'a, 'i> {
    /// The tree under `root` (a `<Node>`), as binary splits.
    pub fn tree_shape(
        &mut self,
        root: El<'a, 'i>,
        options: &TreeOptions,
    ) -> Result<Vec<Shape<'a, 'i>>, ImportError> {
        let mut nodes: Vec<Shape<'a, 'i>> = vec![Shape::Null];
        let mut work = vec![(root, 0usize)];
        while let Some((node, slot)) = work.pop() {
            if nodes.len() > MAX_TREE_NODES {
                return Err(node.error(format!("a tree with more than {MAX_TREE_NODES} nodes")));
            }
            let children: Vec<El<'a, 'i>> = node.children_named("Node").collect();
            if children.is_empty() {
                nodes[slot] = Shape::Leaf(node);
                continue;
            }
            let no_true_child = if options.last_on_no_true_child {
                Shape::Leaf(node)
            } else {
                Shape::Null
            };
            let default_child = match options.strategy {
                Strategy::DefaultChild => {
                    let id = node.req("defaultChild")?;
                    Some(
                        children
                            .iter()
                            .position(|c| c.attr("id") == Some(id))
                            .ok_or_else(|| {
                                node.error(format!("no child has the defaultChild id `{id}`"))
                            })?,
                    )
                }
                _ => None,
            };
            let mut cur = slot;
            let mut placed = false;
            for (i, child) in children.iter().enumerate() {
                let predicate = predicate_of(*child)?;
                let cond = self.predicate(predicate)?;
                let (column, test, truth) = match cond {
                    Cond::Always(true) => {
                        work.push((*child, cur));
                        placed = true;
                        break;
                    }
                    Cond::Always(false) => continue,
                    Cond::Split {
                        column,
                        test,
                        truth,
                    } => (column, test, truth),
                };
                // The last child takes every known value the others leave when its
                // predicate is `True` or the complement of this one.
                let next = children.get(i + 1).copied();
                let last_is_rest = i + 2 == children.len()
                    && next.is_some_and(|n| rest_of(predicate, n).unwrap_or(false));
                let next_is_true = i + 2 == children.len()
                    && next.is_some_and(|n| predicate_of(n).is_ok_and(|p| p.name() == "True"));
                let true_slot = push(&mut nodes);
                let false_slot = push(&mut nodes);
                // Where an unknown value goes: the true side, the false side, or a
                // node of its own (then a missingness split comes first).
                enum Unknown<'a, 'i> {
                    Side(Direction),
                    Own(Shape<'a, 'i>),
                    Subtree(El<'a, 'i>),
                }
                let unknown = match options.strategy {
                    Strategy::None if last_is_rest && !next_is_true => {
                        Unknown::Own(no_true_child.clone())
                    }
                    Strategy::None => Unknown::Side(truth.flip()),
                    Strategy::NullPrediction => Unknown::Own(Shape::Null),
                    Strategy::LastPrediction => Unknown::Own(Shape::Leaf(node)),
                    Strategy::DefaultChild => {
                        let d = default_child.expect("set for defaultChild");
                        if d == i {
                            Unknown::Side(truth)
                        } else if d == i + 1 && last_is_rest {
                            Unknown::Side(truth.flip())
                        } else {
                            Unknown::Subtree(children[d])
                        }
                    }
                };
                let (left, right) = match truth {
                    Direction::Left => (true_slot, false_slot),
                    Direction::Right => (false_slot, true_slot),
                };
                let split = |missing| Shape::Split {
                    column,
                    test: test.clone(),
                    missing,
                    left: left as u32,
                    right: right as u32,
                };
                match unknown {
                    Unknown::Side(d) => nodes[cur] = split(Missing::To(d)),
                    own => {
                        let split_slot = push(&mut nodes);
                        nodes[split_slot] = split(Missing::To(Direction::Left));
                        let unknown_slot = push(&mut nodes);
                        match own {
                            Unknown::Own(shape) => nodes[unknown_slot] = shape,
                            Unknown::Subtree(child) => work.push((child, unknown_slot)),
                            Unknown::Side(_) => unreachable!(),
                        }
                        let missing_col = self.column(
                            "missing",
                            Expr::IsMissing {
                                x: Box::new(Expr::column(column)),
                            },
                        );
                        nodes[cur] = Shape::Split {
                            column: missing_col,
                            test: Test::Numeric {
                                cmp: Cmp::Lt,
                                threshold: 0.5,
                            },
                            missing: Missing::To(Direction::Left),
                            left: split_slot as u32,
                            right: unknown_slot as u32,
                        };
                    }
                }
                work.push((*child, true_slot));
                if last_is_rest {
                    work.push((children[i + 1], false_slot));
                    placed = true;
                    break;
                }
                cur = false_slot;
            }
            if !placed {
                nodes[cur] = no_true_child;
            }
        }
        Ok(nodes)
    }

    /// A predicate as a split, or a constant outcome.
    fn predicate(&mut self, p: El<'a, 'i>) -> Result<Cond, ImportError> {
        match p.name() {
            "True" => Ok(Cond::Always(true)),
            "False" => Ok(Cond::Always(false)),
            "SimplePredicate" => {
                let field = self.resolve(p.req("field")?, p)?;
                let op = p.req("operator")?;
                if matches!(op, "isMissing" | "isNotMissing") {
                    let c = self.column(
                        "missing",
                        Expr::IsMissing {
                            x: Box::new(Expr::column(field.column)),
                        },
                    );
                    let truth = if op == "isMissing" {
                        Direction::Right
                    } else {
                        Direction::Left
                    };
                    return Ok(half(c, truth));
                }
                let value = p.req("value")?;
                match (&field.kind, op) {
                    (
                        Kind::Number,
                        "lessThan" | "lessOrEqual" | "greaterThan" | "greaterOrEqual",
                    ) => {
                        let threshold = field.value_of(value, p)?.expect("numbers always parse");
                        let (cmp, truth) = match op {
                            "lessThan" => (Cmp::Lt, Direction::Left),
                            "lessOrEqual" => (Cmp::Le, Direction::Left),
                            "greaterThan" => (Cmp::Le, Direction::Right),
                            _ => (Cmp::Lt, Direction::Right),
                        };
                        Ok(Cond::Split {
                            column: field.column,
                            test: Test::Numeric { cmp, threshold },
                            truth,
                        })
                    }
                    (Kind::Text(_), "equal" | "notEqual") => {
                        let truth = if op == "equal" {
                            Direction::Left
                        } else {
                            Direction::Right
                        };
                        match field.value_of(value, p)? {
                            Some(code) => Ok(Cond::Split {
                                column: field.column,
                                test: Test::Categorical {
                                    categories: vec![code as u32],
                                    listed: Direction::Left,
                                },
                                truth,
                            }),
                            None => self.derived_predicate(p, &field),
                        }
                    }
                    (Kind::Number, "equal" | "notEqual") => self.derived_predicate(p, &field),
                    (_, op) => Err(p.unsupported(format!("the operator `{op}` on this field"))),
                }
            }
            "SimpleSetPredicate" => {
                let field = self.resolve(p.req("field")?, p)?;
                let values = array_values(p.req_child("Array")?)?;
                let truth = match p.req("booleanOperator")? {
                    "isIn" => Direction::Left,
                    "isNotIn" => Direction::Right,
                    other => return Err(p.error(format!("unknown booleanOperator `{other}`"))),
                };
                match field.kind {
                    Kind::Text(_) => {
                        let mut categories = Vec::new();
                        for v in &values {
                            if let Some(code) = field.value_of(v, p)? {
                                categories.push(code as u32);
                            }
                        }
                        categories.sort_unstable();
                        categories.dedup();
                        Ok(Cond::Split {
                            column: field.column,
                            test: Test::Categorical {
                                categories,
                                listed: Direction::Left,
                            },
                            truth,
                        })
                    }
                    Kind::Number => self.derived_predicate(p, &field),
                }
            }
            "CompoundPredicate" => {
                let e = self.predicate_expr(p)?;
                let c = self.column("predicate", e);
                Ok(half(c, Direction::Right))
            }
            other => Err(p.unsupported(format!("the predicate <{other}>"))),
        }
    }

    fn derived_predicate(&mut self, p: El<'a, 'i>, _field: &Field) -> Result<Cond, ImportError> {
        // 1 when the predicate holds.
        let e = self.predicate_expr(p)?;
        let c = self.column("predicate", e);
        Ok(half(c, Direction::Right))
    }

    /// A predicate as a 1/0/missing expression.
    pub fn predicate_expr(&mut self, p: El<'a, 'i>) -> Result<Expr, ImportError> {
        use super::expr::Val;
        let missing = |x: Expr| Expr::IsMissing { x: Box::new(x) };
        match p.name() {
            "True" => Ok(Expr::constant(1.0)),
            "False" => Ok(Expr::constant(0.0)),
            "SimplePredicate" => {
                let field = self.resolve(p.req("field")?, p)?;
                let x = Expr::column(field.column);
                let op = p.req("operator")?;
                let cmp = match op {
                    "isMissing" => return Ok(missing(x)),
                    "isNotMissing" => {
                        return Ok(Expr::compare(
                            CompareOp::Eq,
                            missing(x),
                            Expr::constant(0.0),
                        ))
                    }
                    "equal" => CompareOp::Eq,
                    "notEqual" => CompareOp::Ne,
                    "lessThan" => CompareOp::Lt,
                    "lessOrEqual" => CompareOp::Le,
                    "greaterThan" => CompareOp::Gt,
                    "greaterOrEqual" => CompareOp::Ge,
                    other => return Err(p.error(format!("unknown operator `{other}`"))),
                };
                let a = Val {
                    expr: x,
                    kind: field.kind.clone(),
                    literal: None,
                    integer: false,
                };
                let value = p.req("value")?;
                let b = match &field.kind {
                    Kind::Number => Val {
                        expr: Expr::constant(field.value_of(value, p)?.expect("a number")),
                        kind: Kind::Number,
                        literal: None,
                        integer: false,
                    },
                    Kind::Text(_) => Val {
                        expr: Expr::constant(0.0),
                        kind: Kind::Number,
                        literal: Some(value.to_string()),
                        integer: false,
                    },
                };
                compare(cmp, &a, &b, p)
            }
            "SimpleSetPredicate" => {
                let field = self.resolve(p.req("field")?, p)?;
                let x = Expr::column(field.column);
                let mut any = Expr::constant(0.0);
                for v in array_values(p.req_child("Array")?)? {
                    if let Some(code) = field.value_of(&v, p)? {
                        any = Expr::binary(
                            ferry_ir::BinaryFn::Max,
                            any,
                            Expr::compare(CompareOp::Eq, x.clone(), Expr::constant(code)),
                            ferry_ir::Precision::F64,
                        );
                    }
                }
                let body = match p.req("booleanOperator")? {
                    "isIn" => any,
                    "isNotIn" => Expr::compare(CompareOp::Eq, any, Expr::constant(0.0)),
                    other => return Err(p.error(format!("unknown booleanOperator `{other}`"))),
                };
                Ok(Expr::if_else(missing(x), Expr::constant(f64::NAN), body))
            }
            "CompoundPredicate" => {
                if self.depth >= super::fields::MAX_EXPR_DEPTH {
                    return Err(p.error("predicates are nested too deeply"));
                }
                self.depth += 1;
                let parts: Result<Vec<Expr>, _> =
                    p.elements().map(|c| self.predicate_expr(c)).collect();
                self.depth -= 1;
                let parts = parts?;
                if parts.len() < 2 {
                    return Err(p.error("a CompoundPredicate needs two or more predicates"));
                }
                Ok(match p.req("booleanOperator")? {
                    "and" => logic(true, &parts),
                    "or" => logic(false, &parts),
                    "xor" => {
                        // Unknown if any part is; else the parity of the true parts.
                        let sum = parts
                            .iter()
                            .cloned()
                            .reduce(|a, b| {
                                Expr::binary(
                                    ferry_ir::BinaryFn::Add,
                                    a,
                                    b,
                                    ferry_ir::Precision::F64,
                                )
                            })
                            .expect("two or more");
                        let half = Expr::binary(
                            ferry_ir::BinaryFn::Mul,
                            sum.clone(),
                            Expr::constant(0.5),
                            ferry_ir::Precision::F64,
                        );
                        Expr::compare(
                            CompareOp::Ne,
                            Expr::unary(
                                ferry_ir::UnaryFn::Floor,
                                half.clone(),
                                ferry_ir::Precision::F64,
                            ),
                            half,
                        )
                        .pipe_missing(&parts)
                    }
                    "surrogate" => {
                        // The first part that is known decides.
                        let mut out = Expr::constant(f64::NAN);
                        for part in parts.into_iter().rev() {
                            out = Expr::if_else(missing(part.clone()), out, part);
                        }
                        out
                    }
                    other => return Err(p.error(format!("unknown booleanOperator `{other}`"))),
                })
            }
            other => Err(p.unsupported(format!("the predicate <{other}>"))),
        }
    }
}

trait PipeMissing {
    fn pipe_missing(self, parts: &[Expr]) -> Expr;
}

impl PipeMissing for Expr {
    /// Missing when any of `parts` is.
    fn pipe_missing(self, parts: &[Expr]) -> Expr {
        let any = parts
            .iter()
            .map(|p| Expr::IsMissing {
                x: Box::new(p.clone()),
            })
            .reduce(|a, b| Expr::binary(ferry_ir::BinaryFn::Max, a, b, ferry_ir::Precision::F64))
            .expect("two or more");
        Expr::if_else(any, Expr::constant(f64::NAN), self)
    }
}

/// Three-valued `and` (or `or`) over 1/0/missing parts: a false (true) part decides.
fn logic(and: bool, parts: &[Expr]) -> Expr {
    let decisive = if and { 0.0 } else { 1.0 };
    let any_decisive = parts
        .iter()
        .map(|p| Expr::compare(CompareOp::Eq, p.clone(), Expr::constant(decisive)))
        .reduce(|a, b| Expr::binary(ferry_ir::BinaryFn::Max, a, b, ferry_ir::Precision::F64))
        .expect("two or more");
    Expr::if_else(
        any_decisive,
        Expr::constant(decisive),
        Expr::constant(1.0 - decisive).pipe_missing(parts),
    )
}

/// A split on a 1/0/missing column, as `c < 0.5`: a 1 goes right, a 0 left. `truth` is
/// the side where the predicate holds.
fn half(column: usize, truth: Direction) -> Cond {
    Cond::Split {
        column,
        test: Test::Numeric {
            cmp: Cmp::Lt,
            threshold: 0.5,
        },
        truth,
    }
}

fn push(nodes: &mut Vec<Shape<'_, '_>>) -> usize {
    nodes.push(Shape::Null);
    nodes.len() - 1
}

/// The predicate of a `<Node>`: its first child element that is not a Node, a score or
/// an extension.
fn predicate_of<'a, 'i>(node: El<'a, 'i>) -> Result<El<'a, 'i>, ImportError> {
    node.elements()
        .find(|c| {
            !matches!(
                c.name(),
                "Node" | "ScoreDistribution" | "Partition" | "Regression" | "DecisionTree"
            )
        })
        .ok_or_else(|| node.error("a Node needs a predicate"))
}

/// Whether the next sibling's predicate is `True` or the exact complement of `p` on the
/// same field, so that it takes every known value `p` leaves.
fn rest_of(p: El<'_, '_>, next: El<'_, '_>) -> Result<bool, ImportError> {
    let q = predicate_of(next)?;
    if q.name() == "True" {
        return Ok(true);
    }
    match (p.name(), q.name()) {
        ("SimplePredicate", "SimplePredicate") => {
            let same = p.attr("field") == q.attr("field") && p.attr("value") == q.attr("value");
            let complement = matches!(
                (p.attr("operator"), q.attr("operator")),
                (Some("lessOrEqual"), Some("greaterThan"))
                    | (Some("greaterThan"), Some("lessOrEqual"))
                    | (Some("lessThan"), Some("greaterOrEqual"))
                    | (Some("greaterOrEqual"), Some("lessThan"))
                    | (Some("equal"), Some("notEqual"))
                    | (Some("notEqual"), Some("equal"))
            );
            Ok(same && complement)
        }
        ("SimpleSetPredicate", "SimpleSetPredicate") => {
            let same = p.attr("field") == q.attr("field")
                && array_values(p.req_child("Array")?)? == array_values(q.req_child("Array")?)?;
            let complement = matches!(
                (p.attr("booleanOperator"), q.attr("booleanOperator")),
                (Some("isIn"), Some("isNotIn")) | (Some("isNotIn"), Some("isIn"))
            );
            Ok(same && complement)
        }
        _ => Ok(false),
    }
}

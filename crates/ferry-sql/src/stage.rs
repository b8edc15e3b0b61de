//! Staging for engines whose float32 rounding is emulated (SQLite): the emulation
//! repeats its operand three times, so a rounding of a rounding of … grows the SQL
//! exponentially. Here every rounded operand that is not already a column is moved into
//! a column of an earlier step, so each rounding repeats only a column name.

use crate::expr::{internal, Expr};

/// Columns to compute before an expression can be evaluated, step by step.
#[derive(Default)]
pub(crate) struct Stager {
    /// `steps[s]`: columns computed in step `s` (each may read columns of earlier steps).
    pub steps: Vec<Vec<(Expr, String)>>,
    prefix: String,
    next: usize,
}

impl Stager {
    pub fn new(prefix: &str) -> Stager {
        Stager {
            steps: Vec::new(),
            prefix: prefix.to_string(),
            next: 0,
        }
    }

    /// Rewrites `e` so every `Float32` operand is a column or a literal; returns the
    /// rewritten expression and the number of steps that must precede it.
    pub fn stage(&mut self, e: Expr) -> (Expr, usize) {
        match e {
            Expr::Float32(x) => {
                let (x, level) = self.stage(*x);
                if matches!(x, Expr::Internal(_) | Expr::Float(_) | Expr::Null) {
                    return (Expr::Float32(Box::new(x)), level);
                }
                let name = format!("{}{}", self.prefix, self.next);
                self.next += 1;
                if self.steps.len() <= level {
                    self.steps.resize_with(level + 1, Vec::new);
                }
                self.steps[level].push((x, name.clone()));
                (Expr::Float32(Box::new(internal(name))), level + 1)
            }
            Expr::Internal(_)
            | Expr::Column(_)
            | Expr::Float(_)
            | Expr::Int(_)
            | Expr::Str(_)
            | Expr::Null => (e, 0),
            Expr::Bin(a, op, b) => {
                let (a, la) = self.stage(*a);
                let (b, lb) = self.stage(*b);
                (Expr::Bin(Box::new(a), op, Box::new(b)), la.max(lb))
            }
            Expr::Sum(v) => {
                let (v, l) = self.stage_all(v);
                (Expr::Sum(v), l)
            }
            Expr::And(v) => {
                let (v, l) = self.stage_all(v);
                (Expr::And(v), l)
            }
            Expr::Or(v) => {
                let (v, l) = self.stage_all(v);
                (Expr::Or(v), l)
            }
            Expr::Greatest(v) => {
                let (v, l) = self.stage_all(v);
                (Expr::Greatest(v), l)
            }
            Expr::Math(f, v) => {
                let (v, l) = self.stage_all(v);
                (Expr::Math(f, v), l)
            }
            Expr::IsNull(x) => {
                let (x, l) = self.stage(*x);
                (Expr::IsNull(Box::new(x)), l)
            }
            Expr::Not(x) => {
                let (x, l) = self.stage(*x);
                (Expr::Not(Box::new(x)), l)
            }
            Expr::Float64(x) => {
                let (x, l) = self.stage(*x);
                (Expr::Float64(Box::new(x)), l)
            }
            Expr::Exp(x, f) => {
                let (x, l) = self.stage(*x);
                (Expr::Exp(Box::new(x), f), l)
            }
            Expr::In(x, v) => {
                let (x, lx) = self.stage(*x);
                let (v, lv) = self.stage_all(v);
                (Expr::In(Box::new(x), v), lx.max(lv))
            }
            Expr::Case(whens, otherwise) => {
                let mut level = 0;
                let whens = whens
                    .into_iter()
                    .map(|(c, v)| {
                        let (c, lc) = self.stage(c);
                        let (v, lv) = self.stage(v);
                        level = level.max(lc).max(lv);
                        (c, v)
                    })
                    .collect();
                let (otherwise, lo) = self.stage(*otherwise);
                (Expr::Case(whens, Box::new(otherwise)), level.max(lo))
            }
            // Folds are Spark's; Spark has float32 casts and is never staged.
            e @ Expr::Fold { .. } => (e, 0),
        }
    }

    fn stage_all(&mut self, v: Vec<Expr>) -> (Vec<Expr>, usize) {
        let mut level = 0;
        let v = v
            .into_iter()
            .map(|e| {
                let (e, l) = self.stage(e);
                level = level.max(l);
                e
            })
            .collect();
        (v, level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{bin, Op};

    #[test]
    fn nested_roundings_become_one_column_per_rounding() {
        // f32(f32(x * 2) + 1)
        let x = internal("x");
        let inner = Expr::Float32(Box::new(bin(x, Op::Mul, Expr::Float(2.0))));
        let outer = Expr::Float32(Box::new(Expr::Sum(vec![inner, Expr::Float(1.0)])));
        let mut stager = Stager::new("t");
        let (e, level) = stager.stage(outer);
        assert_eq!(level, 2);
        assert_eq!(e, Expr::Float32(Box::new(internal("t1"))));
        assert_eq!(stager.steps.len(), 2);
        assert_eq!(stager.steps[0][0].1, "t0");
        assert_eq!(
            stager.steps[1][0].0,
            Expr::Sum(vec![
                Expr::Float32(Box::new(internal("t0"))),
                Expr::Float(1.0)
            ])
        );
    }
}

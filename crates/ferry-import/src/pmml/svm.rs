//! SupportVectorMachineModel (scikit-learn's SVC and SVR through sklearn2pmml, R's
//! e1071 and kernlab): each machine is `Σ coefficient·K(x, vector) + absoluteValue` over
//! its support vectors, in document order as JPMML-Evaluator sums it.
//!
//! * Kernels: linear `x·v`, polynomial `(γ·x·v + c)^d`, radial basis `exp(γ·-|x - v|²)`,
//!   sigmoid `tanh(γ·x·v + c)`; each support vector's kernel value is one derived
//!   column, shared by the machines that use it.
//! * A regression has one machine; its value is the prediction.
//! * A one-against-one classifier: each machine votes for its `targetCategory` when its
//!   value is below the threshold, else for its `alternateTargetCategory`. The label
//!   is the class with the most votes (on a tie the one voted for first, as JPMML
//!   counts them); the probabilities are the shares of the votes, as JPMML reports
//!   them when asked.
//! * A missing input gives no prediction (JPMML refuses the row).

use ferry_ir::{BinaryFn, CompareOp, Expr, UnaryFn};

use super::compose::{add, c, is_missing, mul, F64};
use super::fields::{Builder, Kind};
use super::models::Scored;
use super::xml::{array_values, parse_number, El};
use crate::kernel::Kernel;
use crate::ImportError;

/// The kernel of a SupportVectorMachineModel.
fn kernel_of(model: El<'_, '_>) -> Result<Kernel, ImportError> {
    for k in model.elements() {
        return Ok(match k.name() {
            "LinearKernelType" => Kernel::Linear,
            "PolynomialKernelType" => Kernel::Poly {
                gamma: k.f64_or("gamma", 1.0)?,
                coef0: k.f64_or("coef0", 1.0)?,
                degree: k.f64_or("degree", 1.0)?,
            },
            "RadialBasisKernelType" => Kernel::Rbf {
                gamma: k.f64_or("gamma", 1.0)?,
            },
            "SigmoidKernelType" => Kernel::Sigmoid {
                gamma: k.f64_or("gamma", 1.0)?,
                coef0: k.f64_or("coef0", 1.0)?,
            },
            _ => continue,
        });
    }
    Err(model.error("a SupportVectorMachineModel needs a kernel type"))
}

impl<'a, 'i> Builder<'a, 'i> {
    pub fn support_vector_machine(
        &mut self,
        model: El<'a, 'i>,
        classes: Option<&[String]>,
    ) -> Result<Scored<'a, 'i>, ImportError> {
        if model.attr("maxWins") == Some("true") {
            return Err(model.unsupported("maxWins=\"true\""));
        }
        if model.attr("representation").unwrap_or("SupportVectors") != "SupportVectors" {
            return Err(model.unsupported("a representation other than SupportVectors"));
        }
        if model.attr("x-mathContext") == Some("float") {
            return Err(model.unsupported("x-mathContext=\"float\""));
        }
        if model.attr("alternateBinaryTargetCategory").is_some() {
            return Err(model.unsupported("alternateBinaryTargetCategory"));
        }
        let kernel = kernel_of(model)?;
        let dictionary = model.req_child("VectorDictionary")?;

        // The input vector, one column per VectorFields entry.
        let fields = dictionary.req_child("VectorFields")?;
        let mut x: Vec<Expr> = Vec::new();
        for f in fields.elements() {
            match f.name() {
                "FieldRef" => {
                    let field = self.resolve(f.req("field")?, f)?;
                    if field.kind != Kind::Number {
                        return Err(f.error("a support vector field must be a number"));
                    }
                    x.push(Expr::column(field.column));
                }
                // A one-hot column: 1 where the field has the value, else 0.
                "CategoricalPredictor" => {
                    if f.f64_or("coefficient", 1.0)? != 1.0 {
                        return Err(f.unsupported("a coefficient other than 1"));
                    }
                    let field = self.resolve(f.req("name")?, f)?;
                    let column = Expr::column(field.column);
                    let hot = match field.value_of(f.req("value")?, f)? {
                        Some(v) => Expr::compare(CompareOp::Eq, column.clone(), c(v)),
                        None => c(0.0),
                    };
                    let missing = is_missing(column);
                    x.push(Expr::if_else(missing, c(f64::NAN), hot));
                }
                other => return Err(f.unsupported(format!("<{other}> in VectorFields"))),
            }
        }
        let x: Vec<usize> = x
            .into_iter()
            .map(|e| self.column("support vector input", e))
            .collect();

        // The vectors, by id.
        let mut vectors: Vec<(&'a str, El<'a, 'i>)> = Vec::new();
        for v in dictionary.children_named("VectorInstance") {
            vectors.push((v.req("id")?, v));
        }
        // Kernel columns, made when a machine first uses the vector.
        let mut kernels: Vec<(&'a str, usize)> = Vec::new();

        let machines: Vec<El<'a, 'i>> = model.children_named("SupportVectorMachine").collect();
        if machines.is_empty() {
            return Err(model.error("no SupportVectorMachine"));
        }
        let mut values: Vec<(El<'a, 'i>, Expr)> = Vec::new();
        for m in &machines {
            let coefficients = m.req_child("Coefficients")?;
            let coefs: Vec<f64> = coefficients
                .children_named("Coefficient")
                .map(|c| c.f64_or("value", 0.0))
                .collect::<Result<_, _>>()?;
            let ids: Vec<&'a str> = m
                .req_child("SupportVectors")?
                .children_named("SupportVector")
                .map(|s| s.req("vectorId"))
                .collect::<Result<_, _>>()?;
            if ids.len() != coefs.len() {
                return Err(m.error(format!(
                    "{} support vectors but {} coefficients",
                    ids.len(),
                    coefs.len()
                )));
            }
            let mut columns = Vec::with_capacity(ids.len());
            for id in ids {
                let column = match kernels.iter().find(|(k, _)| *k == id) {
                    Some((_, column)) => *column,
                    None => {
                        let (_, vector) = vectors
                            .iter()
                            .find(|(v, _)| *v == id)
                            .ok_or_else(|| m.error(format!("no VectorInstance `{id}`")))?;
                        let v = vector_values(*vector, x.len())?;
                        let k = kernel_expr(&kernel, &x, &v);
                        let column = self.column(&format!("kernel {id}"), k);
                        kernels.push((id, column));
                        column
                    }
                };
                columns.push(column);
            }
            // `0 + Σ c·K` in order, then the absolute value, as JPMML adds them.
            let sum = Expr::Dot {
                columns,
                weights: coefs,
                bias: 0.0,
                precision: F64,
            };
            let f = add(sum, c(coefficients.f64_or("absoluteValue", 0.0)?));
            values.push((*m, Expr::column(self.column("machine", f))));
        }

        let Some(classes) = classes else {
            if values.len() != 1 {
                return Err(model.error("a regression needs exactly one SupportVectorMachine"));
            }
            return Ok(Scored::Values {
                values: vec![values.remove(0).1],
                label: None,
            });
        };
        match model.attr("classificationMethod") {
            Some("OneAgainstOne") | None => {}
            Some(other) => {
                return Err(model.unsupported(format!(
                    "classificationMethod=\"{other}\" (ferry reads OneAgainstOne)"
                )))
            }
        }
        let threshold = model.f64_or("threshold", 0.0)?;
        let class_of = |m: El<'a, 'i>, attr: &str| -> Result<f64, ImportError> {
            let name = m.req(attr)?;
            classes
                .iter()
                .position(|c| c == name)
                .map(|k| k as f64)
                .ok_or_else(|| m.error(format!("`{name}` is not a class of the target")))
        };
        let mut ballots = Vec::new();
        for (m, f) in &values {
            let t = m.f64_or("threshold", threshold)?;
            let vote = Expr::if_else(
                Expr::compare(CompareOp::Lt, f.clone(), c(t)),
                c(class_of(*m, "targetCategory")?),
                c(class_of(*m, "alternateTargetCategory")?),
            );
            let vote = Expr::if_else(is_missing(f.clone()), c(f64::NAN), vote);
            ballots.push((c(1.0), Expr::column(self.column("vote", vote))));
        }
        let any_missing = ballots
            .iter()
            .map(|(_, v)| is_missing(v.clone()))
            .reduce(|a, b| Expr::binary(BinaryFn::Max, a, b, F64))
            .expect("machines");
        let any_missing = Expr::column(self.column("missing", any_missing));
        let votes: Vec<Expr> = (0..classes.len())
            .map(|k| {
                let n = ballots
                    .iter()
                    .map(|(_, v)| Expr::compare(CompareOp::Eq, v.clone(), c(k as f64)))
                    .reduce(add)
                    .expect("machines");
                Expr::column(self.column("votes", n))
            })
            .collect();
        let label = self.vote_winner(&votes, &ballots);
        let n = ballots.len() as f64;
        let values = votes
            .into_iter()
            .map(|v| {
                Expr::if_else(
                    any_missing.clone(),
                    c(f64::NAN),
                    Expr::binary(BinaryFn::Div, v, c(n), F64),
                )
            })
            .collect();
        Ok(Scored::Values {
            values,
            label: Some(label),
        })
    }
}

/// A VectorInstance's numbers: a dense `Array` or a `REAL-SparseArray` (1-based
/// indices, the rest 0).
fn vector_values(v: El<'_, '_>, n: usize) -> Result<Vec<f64>, ImportError> {
    let values: Vec<f64> = if let Some(array) = v.child("Array") {
        array_values(array)?
            .iter()
            .map(|s| parse_number(s).ok_or_else(|| array.error(format!("`{s}` is not a number"))))
            .collect::<Result<_, _>>()?
    } else if let Some(sparse) = v.child("REAL-SparseArray") {
        let size = sparse.f64_or("n", n as f64)? as usize;
        let mut dense = vec![0.0; size];
        let indices = sparse.child("Indices").map_or("", |i| i.text());
        let entries = sparse.child("REAL-Entries").map_or("", |e| e.text());
        for (i, e) in indices.split_whitespace().zip(entries.split_whitespace()) {
            let i: usize = i
                .parse()
                .ok()
                .filter(|i| (1..=size).contains(i))
                .ok_or_else(|| sparse.error(format!("index `{i}` is outside 1..={size}")))?;
            dense[i - 1] =
                parse_number(e).ok_or_else(|| sparse.error(format!("`{e}` is not a number")))?;
        }
        dense
    } else {
        return Err(v.error("a VectorInstance needs an Array or a REAL-SparseArray"));
    };
    if values.len() != n {
        return Err(v.error(format!("{} values for {n} VectorFields", values.len())));
    }
    Ok(values)
}

/// `K(x, v)` computed in JPMML's order of operations.
fn kernel_expr(kernel: &Kernel, x: &[usize], v: &[f64]) -> Expr {
    let dot = || Expr::Dot {
        columns: x.to_vec(),
        weights: v.to_vec(),
        bias: 0.0,
        precision: F64,
    };
    match *kernel {
        Kernel::Linear => dot(),
        Kernel::Poly {
            gamma,
            coef0,
            degree,
        } => Expr::binary(
            BinaryFn::Pow,
            add(mul(dot(), c(gamma)), c(coef0)),
            c(degree),
            F64,
        ),
        Kernel::Rbf { gamma } => {
            // Σ (x_j - v_j)² from 0, in order.
            let squared = x
                .iter()
                .zip(v)
                .map(|(&j, &vj)| {
                    let d = Expr::binary(BinaryFn::Sub, Expr::column(j), c(vj), F64);
                    mul(d.clone(), d)
                })
                .reduce(add)
                .unwrap_or(c(0.0));
            let negative = Expr::unary(UnaryFn::Neg, squared, F64);
            Expr::unary(UnaryFn::Exp, mul(negative, c(gamma)), F64)
        }
        Kernel::Sigmoid { gamma, coef0 } => {
            Expr::unary(UnaryFn::Tanh, add(mul(dot(), c(gamma)), c(coef0)), F64)
        }
    }
}

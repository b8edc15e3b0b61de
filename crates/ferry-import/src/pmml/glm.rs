//! GeneralRegressionModel: linear, generalised linear and multinomial logistic models.
//!
//! Each parameter is a product of its PPMatrix cells (a factor's indicator, or a
//! covariate raised to the cell's value) and becomes a column; the linear predictor is
//! the ParamMatrix's betas over those columns plus the offset, and the link's inverse
//! is the model's transform.

use std::collections::HashMap;

use ferry_ir::{BinaryFn, CompareOp, Expr, Link, Precision, Transform};

use super::fields::{Builder, Kind};
use super::models::Scored;
use super::xml::El;
use crate::ImportError;

impl<'a, 'i> Builder<'a, 'i> {
    pub fn general_regression(
        &mut self,
        model: El<'a, 'i>,
        classes: Option<&[String]>,
    ) -> Result<Scored<'a, 'i>, ImportError> {
        let model_type = model.req("modelType")?;
        match model_type {
            "regression" | "generalLinear" | "generalizedLinear" | "multinomialLogistic" => {}
            other => return Err(model.unsupported(format!("modelType `{other}`"))),
        }
        for attr in ["trialsVariable", "trialsValue"] {
            if model.attr(attr).is_some() {
                return Err(model.unsupported(format!("`{attr}` (binomial trials)")));
            }
        }
        let factors: Vec<&str> = names(model.child("FactorList"))?;
        let covariates: Vec<&str> = names(model.child("CovariateList"))?;
        let parameters: Vec<&str> = model
            .req_child("ParameterList")?
            .children_named("Parameter")
            .map(|p| p.req("name"))
            .collect::<Result<_, _>>()?;

        // Parameter → its column (None: the intercept, a constant 1).
        let mut cells: HashMap<&str, Vec<El<'a, 'i>>> = HashMap::new();
        if let Some(pp) = model.child("PPMatrix") {
            for cell in pp.children_named("PPCell") {
                cells
                    .entry(cell.req("parameterName")?)
                    .or_default()
                    .push(cell);
            }
        }
        // JPMML's semantics: a parameter whose factor cells do not all match is 0 without
        // reading its covariates (a missing covariate there does not matter); a missing
        // factor makes the prediction missing.
        let mut column_of: HashMap<&str, Option<usize>> = HashMap::new();
        for &p in &parameters {
            let mut indicator: Option<Expr> = None;
            let mut product: Option<Expr> = None;
            for cell in cells.get(p).map(Vec::as_slice).unwrap_or_default() {
                let name = cell.req("predictorName")?;
                let field = self.resolve(name, *cell)?;
                let value = cell.req("value")?;
                if factors.contains(&name) {
                    let x = Expr::column(field.column);
                    let eq = match field.value_of(value, *cell)? {
                        Some(v) => Expr::compare(CompareOp::Eq, x.clone(), Expr::constant(v)),
                        None => Expr::constant(0.0),
                    };
                    let term = Expr::if_else(
                        Expr::IsMissing { x: Box::new(x) },
                        Expr::constant(f64::NAN),
                        eq,
                    );
                    indicator = Some(match indicator {
                        None => term,
                        Some(acc) => Expr::binary(BinaryFn::Mul, acc, term, Precision::F64),
                    });
                    continue;
                }
                let term = if covariates.contains(&name) {
                    if field.kind != Kind::Number {
                        return Err(cell.error(format!("the covariate `{name}` holds strings")));
                    }
                    let exponent = super::xml::parse_number(value).ok_or_else(|| {
                        cell.error(format!("the exponent `{value}` is not a number"))
                    })?;
                    if exponent == 1.0 {
                        Expr::column(field.column)
                    } else {
                        Expr::binary(
                            BinaryFn::Pow,
                            Expr::column(field.column),
                            Expr::constant(exponent),
                            Precision::F64,
                        )
                    }
                } else {
                    return Err(cell.error(format!(
                        "`{name}` is in neither the FactorList nor the CovariateList"
                    )));
                };
                product = Some(match product {
                    None => term,
                    Some(acc) => Expr::binary(BinaryFn::Mul, acc, term, Precision::F64),
                });
            }
            let value = match (indicator, product) {
                (None, None) => None,
                (Some(i), None) => Some(i),
                (None, Some(c)) => Some(c),
                (Some(i), Some(c)) => Some(Expr::if_else(
                    Expr::compare(CompareOp::Eq, i.clone(), Expr::constant(0.0)),
                    Expr::constant(0.0),
                    Expr::binary(BinaryFn::Mul, i, c, Precision::F64),
                )),
            };
            column_of.insert(p, value.map(|e| self.column(p, e)));
        }

        // Betas per target category (`None`: the only linear predictor).
        let mut betas: Vec<(Option<&str>, &str, f64)> = Vec::new();
        for cell in model.req_child("ParamMatrix")?.children_named("PCell") {
            let p = cell.req("parameterName")?;
            if !column_of.contains_key(p) {
                return Err(cell.error(format!("`{p}` is not in the ParameterList")));
            }
            betas.push((cell.attr("targetCategory"), p, cell.f64_req("beta")?));
        }
        let mut columns: Vec<usize> = Vec::new();
        for &p in &parameters {
            if let Some(Some(c)) = column_of.get(p) {
                if !columns.contains(c) {
                    columns.push(*c);
                }
            }
        }
        let offset = model.f64_or("offsetValue", 0.0)?;
        let offset_column = match model.attr("offsetVariable") {
            Some(name) => {
                let field = self.resolve(name, model)?;
                columns.push(field.column);
                Some(field.column)
            }
            None => None,
        };
        let predictor = |category: Option<&str>| -> (Vec<f64>, f64) {
            let mut coefficients = vec![0.0; columns.len()];
            let mut intercept = offset;
            for (cat, p, beta) in &betas {
                if category.is_some() && cat.is_some() && *cat != category {
                    continue;
                }
                match column_of[p] {
                    None => intercept += beta,
                    Some(c) => {
                        let j = columns.iter().position(|x| *x == c).expect("listed");
                        coefficients[j] += beta;
                    }
                }
            }
            if let Some(c) = offset_column {
                let j = columns.iter().position(|x| *x == c).expect("listed");
                coefficients[j] += 1.0;
            }
            (coefficients, intercept)
        };

        let link = link_of(model, model_type)?;
        match classes {
            None => {
                let (coef, intercept) = predictor(None);
                let transform = match link {
                    Inverse::Identity => Transform::Identity,
                    Inverse::Exp => Transform::Exp,
                    Inverse::Logistic => Transform::Logistic { scale: 1.0 },
                    Inverse::Link(link) => Transform::Link {
                        link,
                        complement: false,
                    },
                };
                Ok(Scored::Linear {
                    columns,
                    coefficients: vec![coef],
                    intercepts: vec![intercept],
                    transform,
                })
            }
            Some(classes) if model_type == "multinomialLogistic" => {
                let reference = reference_category(model, classes)?;
                let (coefficients, intercepts) = classes
                    .iter()
                    .map(|c| {
                        if *c == reference {
                            (vec![0.0; columns.len()], 0.0)
                        } else {
                            predictor(Some(c))
                        }
                    })
                    .unzip();
                Ok(Scored::Linear {
                    columns,
                    coefficients,
                    intercepts,
                    transform: Transform::Softmax,
                })
            }
            Some(classes) if classes.len() == 2 => {
                // The linear predictor is the non-reference category's.
                let reference = reference_category(model, classes)?;
                let (coef, intercept) = predictor(None);
                let first = classes[0] != reference;
                let transform = match link {
                    Inverse::Logistic if first => {
                        return Ok(Scored::Linear {
                            columns,
                            coefficients: vec![coef.iter().map(|w| -w).collect()],
                            intercepts: vec![-intercept],
                            transform: Transform::Logistic { scale: 1.0 },
                        })
                    }
                    Inverse::Logistic => Transform::Logistic { scale: 1.0 },
                    Inverse::Link(link) => Transform::Link {
                        link,
                        complement: first,
                    },
                    _ => {
                        return Err(model.unsupported(
                            "a binary classification GLM whose link is not a probability",
                        ))
                    }
                };
                Ok(Scored::Linear {
                    columns,
                    coefficients: vec![coef],
                    intercepts: vec![intercept],
                    transform,
                })
            }
            Some(_) => Err(model.unsupported(format!(
                "modelType `{model_type}` with more than two classes"
            ))),
        }
    }
}

enum Inverse {
    Identity,
    Exp,
    Logistic,
    Link(Link),
}

fn link_of(model: El<'_, '_>, model_type: &str) -> Result<Inverse, ImportError> {
    if matches!(model_type, "regression" | "generalLinear") {
        return Ok(Inverse::Identity);
    }
    if model_type == "multinomialLogistic" {
        return Ok(Inverse::Logistic);
    }
    let p = model.f64_opt("linkParameter")?;
    Ok(match model.req("linkFunction")? {
        "identity" => Inverse::Identity,
        "log" => Inverse::Exp,
        "logit" => Inverse::Logistic,
        "probit" => Inverse::Link(Link::Probit),
        "cloglog" => Inverse::Link(Link::Cloglog),
        "loglog" => Inverse::Link(Link::Loglog),
        "cauchit" => Inverse::Link(Link::Cauchit),
        "power" => match p {
            None => return Err(model.error("a power link needs `linkParameter`")),
            Some(0.0) => Inverse::Exp,
            Some(p) => Inverse::Link(Link::Power { exponent: 1.0 / p }),
        },
        other => return Err(model.unsupported(format!("linkFunction `{other}`"))),
    })
}

/// `targetReferenceCategory`, else the last class.
pub(crate) fn reference_category(
    model: El<'_, '_>,
    classes: &[String],
) -> Result<String, ImportError> {
    match model.attr("targetReferenceCategory") {
        Some(r) if classes.iter().any(|c| c == r) => Ok(r.to_string()),
        Some(r) => Err(model.error(format!("targetReferenceCategory `{r}` is not a class"))),
        None => Ok(classes.last().cloned().unwrap_or_default()),
    }
}

fn names<'a>(list: Option<El<'a, '_>>) -> Result<Vec<&'a str>, ImportError> {
    match list {
        None => Ok(Vec::new()),
        Some(l) => l
            .children_named("Predictor")
            .map(|p| p.req("name"))
            .collect(),
    }
}

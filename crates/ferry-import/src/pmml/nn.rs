//! NeuralNetwork: feed-forward networks (scikit-learn's MLPs through sklearn2pmml, R's
//! nnet), one dot product and activation per neuron, as derived columns.

use std::collections::HashMap;

use ferry_ir::{BinaryFn, Expr, Precision, UnaryFn};

use super::fields::Builder;
use super::models::Scored;
use super::xml::El;
use crate::ImportError;

const F64: Precision = Precision::F64;

impl<'a, 'i> Builder<'a, 'i> {
    pub fn neural_network(
        &mut self,
        model: El<'a, 'i>,
        classes: Option<&[String]>,
    ) -> Result<Scored<'a, 'i>, ImportError> {
        let default_activation = model.req("activationFunction")?;
        // Neuron id → the column holding its output.
        let mut neurons: HashMap<&'a str, usize> = HashMap::new();
        let inputs = model.req_child("NeuralInputs")?;
        for input in inputs.children_named("NeuralInput") {
            let id = input.req("id")?;
            let df = input.req_child("DerivedField")?;
            let body = df
                .elements()
                .next()
                .ok_or_else(|| df.error("a NeuralInput needs an expression"))?;
            let upto = self.scopes.len();
            let v = self.expression(body, upto)?;
            neurons.insert(id, self.column(&format!("input {id}"), v.expr));
        }
        let layers: Vec<El<'a, 'i>> = model.children_named("NeuralLayer").collect();
        let mut last: Vec<(&'a str, Expr)> = Vec::new();
        for (l, layer) in layers.iter().enumerate() {
            let activation = layer
                .attr("activationFunction")
                .unwrap_or(default_activation);
            let normalization = layer
                .attr("normalizationMethod")
                .or(model.attr("normalizationMethod"))
                .unwrap_or("none");
            let mut outputs = Vec::new();
            for neuron in layer.children_named("Neuron") {
                let id = neuron.req("id")?;
                let mut columns = Vec::new();
                let mut weights = Vec::new();
                for con in neuron.children_named("Con") {
                    let from = con.req("from")?;
                    let c = *neurons.get(from).ok_or_else(|| {
                        con.error(format!("no neuron `{from}` comes before this one"))
                    })?;
                    columns.push(c);
                    weights.push(con.f64_req("weight")?);
                }
                let z = Expr::Dot {
                    columns,
                    weights,
                    bias: neuron.f64_or("bias", 0.0)?,
                    precision: F64,
                };
                let z = Expr::column(self.column(&format!("z {id}"), z));
                outputs.push((id, activate(activation, z, *layer)?));
            }
            let is_last = l + 1 == layers.len();
            let outputs: Vec<(&'a str, Expr)> = match normalization {
                "none" => outputs,
                "softmax" | "simplemax" => {
                    let ids: Vec<&'a str> = outputs.iter().map(|o| o.0).collect();
                    let values: Vec<Expr> = outputs.into_iter().map(|o| o.1).collect();
                    let values = if normalization == "softmax" {
                        self.softmax(values)
                    } else {
                        let total = values
                            .iter()
                            .cloned()
                            .reduce(|a, b| Expr::binary(BinaryFn::Add, a, b, F64))
                            .expect("neurons");
                        let total = Expr::column(self.column("sum", total));
                        values
                            .into_iter()
                            .map(|v| super::models::share(v, &total))
                            .collect()
                    };
                    ids.into_iter().zip(values).collect()
                }
                other => return Err(layer.unsupported(format!("normalizationMethod `{other}`"))),
            };
            last.clear();
            for (id, e) in outputs {
                let c = self.column(&format!("neuron {id}"), e);
                neurons.insert(id, c);
                if is_last {
                    last.push((id, Expr::column(c)));
                }
            }
        }
        // NeuralOutputs: which neuron is which class, or the prediction.
        let outs = model.req_child("NeuralOutputs")?;
        let neuron_of = |o: El<'a, 'i>| -> Result<Expr, ImportError> {
            let id = o.req("outputNeuron")?;
            neurons
                .get(id)
                .map(|c| Expr::column(*c))
                .ok_or_else(|| o.error(format!("no neuron `{id}`")))
        };
        let values = match classes {
            Some(classes) => {
                let mut values = vec![Expr::constant(0.0); classes.len()];
                for o in outs.children_named("NeuralOutput") {
                    let nd = o
                        .req_child("DerivedField")?
                        .child("NormDiscrete")
                        .ok_or_else(|| {
                            o.unsupported("a class output that is not a NormDiscrete")
                        })?;
                    let value = nd.req("value")?;
                    let k = classes
                        .iter()
                        .position(|c| c == value)
                        .ok_or_else(|| nd.error(format!("`{value}` is not a class")))?;
                    values[k] = neuron_of(o)?;
                }
                values
            }
            None => {
                let o = outs
                    .child("NeuralOutput")
                    .ok_or_else(|| outs.error("no NeuralOutput"))?;
                let df = o.req_child("DerivedField")?;
                if df.child("FieldRef").is_none() {
                    return Err(df.unsupported("a regression output that is not a FieldRef"));
                }
                vec![neuron_of(o)?]
            }
        };
        Ok(Scored::Values {
            values,
            label: None,
        })
    }

    /// `exp(x - max) / Σ exp(x - max)`.
    pub fn softmax(&mut self, values: Vec<Expr>) -> Vec<Expr> {
        let max = values
            .iter()
            .cloned()
            .reduce(|a, b| Expr::binary(BinaryFn::Max, a, b, F64))
            .expect("values");
        let max = Expr::column(self.column("max", max));
        let exps: Vec<Expr> = values
            .into_iter()
            .map(|v| {
                let e = Expr::unary(
                    UnaryFn::Exp,
                    Expr::binary(BinaryFn::Sub, v, max.clone(), F64),
                    F64,
                );
                Expr::column(self.column("exp", e))
            })
            .collect();
        let sum = exps
            .iter()
            .cloned()
            .reduce(|a, b| Expr::binary(BinaryFn::Add, a, b, F64))
            .expect("values");
        let sum = Expr::column(self.column("sum", sum));
        exps.into_iter()
            .map(|e| Expr::binary(BinaryFn::Div, e, sum.clone(), F64))
            .collect()
    }
}

/// A neuron's activation of its weighted sum `z`.
fn activate(name: &str, z: Expr, at: El<'_, '_>) -> Result<Expr, ImportError> {
    let one = || Expr::constant(1.0);
    Ok(match name {
        "identity" => z,
        "logistic" => Expr::unary(UnaryFn::Logistic, z, F64),
        "tanh" => Expr::unary(UnaryFn::Tanh, z, F64),
        "rectifier" => Expr::unary(UnaryFn::Relu, z, F64),
        "exponential" => Expr::unary(UnaryFn::Exp, z, F64),
        "square" => Expr::binary(BinaryFn::Mul, z.clone(), z, F64),
        "reciprocal" => Expr::binary(BinaryFn::Div, one(), z, F64),
        "Gauss" => Expr::unary(
            UnaryFn::Exp,
            Expr::unary(
                UnaryFn::Neg,
                Expr::binary(BinaryFn::Mul, z.clone(), z, F64),
                F64,
            ),
            F64,
        ),
        "Elliott" => Expr::binary(
            BinaryFn::Div,
            z.clone(),
            Expr::binary(BinaryFn::Add, one(), Expr::unary(UnaryFn::Abs, z, F64), F64),
            F64,
        ),
        other => return Err(at.unsupported(format!("the activation function `{other}`"))),
    })
}

//! The kernels of support vector machines, shared by the PMML and ONNX importers
//! (each builds the expressions in its own scorer's order of operations).

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kernel {
    /// `x·v`
    Linear,
    /// `(γ·x·v + c)^d`
    Poly { gamma: f64, coef0: f64, degree: f64 },
    /// `exp(-γ·|x - v|²)`
    Rbf { gamma: f64 },
    /// `tanh(γ·x·v + c)`
    Sigmoid { gamma: f64, coef0: f64 },
}

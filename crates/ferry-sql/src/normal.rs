//! The standard normal distribution function Φ, which SQL engines lack, as arithmetic.
//!
//! `ferry predict` computes Φ(a) = erfc(−a/√2) / 2 with libm's `erfc` (FreeBSD msun,
//! from Sun's fdlibm). The SQL evaluates the same piecewise rational approximations
//! (the published fdlibm coefficients below) over the same ranges of |t|, t = −a/√2.
//! It skips fdlibm's split of exp(−t²) into two factors (an accuracy trick that needs
//! bit access to the float): the difference is ~t²·2⁻⁵³ relative, far below the 1e-9
//! that the SQL is held to.

use crate::expr::{bin, Expr, Op};

/// erfc on |t| < 0.84375: 1 − (t + t·R(t²)/S(t²)).
const PP: [f64; 5] = [
    0.12837916709551256,
    -0.3250421072470015,
    -0.02848174957559851,
    -0.005770270296489442,
    -2.3763016656650163e-05,
];
const QQ: [f64; 6] = [
    1.0,
    0.39791722395915535,
    0.0650222499887673,
    0.005081306281875766,
    0.00013249473800432164,
    -3.960228278775368e-06,
];
/// erfc on 0.84375 ≤ |t| < 1.25: 1 − ERX − P(s)/Q(s), s = |t| − 1.
const ERX: f64 = 0.8450629115104675;
const PA: [f64; 7] = [
    -0.0023621185607526594,
    0.41485611868374833,
    -0.3722078760357013,
    0.31834661990116175,
    -0.11089469428239668,
    0.035478304325618236,
    -0.002166375594868791,
];
const QA: [f64; 7] = [
    1.0,
    0.10642088040084423,
    0.540397917702171,
    0.07182865441419627,
    0.12617121980876164,
    0.01363708391202905,
    0.011984499846799107,
];
/// erfc on 1.25 ≤ |t| < 1/0.35: exp(−t² − 0.5625 + R(s)/S(s)) / |t|, s = 1/t².
const RA: [f64; 8] = [
    -0.009864944034847148,
    -0.6938585727071818,
    -10.558626225323291,
    -62.375332450326006,
    -162.39666946257347,
    -184.60509290671104,
    -81.2874355063066,
    -9.814329344169145,
];
const SA: [f64; 9] = [
    1.0,
    19.651271667439257,
    137.65775414351904,
    434.56587747522923,
    645.3872717332679,
    429.00814002756783,
    108.63500554177944,
    6.570249770319282,
    -0.0604244152148581,
];
/// erfc on 1/0.35 ≤ |t| < 28, likewise.
const RB: [f64; 7] = [
    -0.0098649429247001,
    -0.799283237680523,
    -17.757954917754752,
    -160.63638485582192,
    -637.5664433683896,
    -1025.0951316110772,
    -483.5191916086514,
];
const SB: [f64; 8] = [
    1.0,
    30.33806074348246,
    325.7925129965739,
    1536.729586084437,
    3199.8582195085955,
    2553.0504064331644,
    474.52854120695537,
    -22.44095244658582,
];

/// t = −a/√2 and |t|, written out (`a` is a column).
fn t_and_u(a: &Expr) -> (Expr, Expr) {
    let t = bin(
        a.clone(),
        Op::Mul,
        Expr::Float(-std::f64::consts::FRAC_1_SQRT_2),
    );
    let u = Expr::Greatest(vec![t.clone(), bin(Expr::Float(0.0), Op::Sub, t.clone())]);
    (t, u)
}

/// The four rational functions of the ranges, for the column `a`: the caller makes each
/// a column and passes them to [`cdf`]. All four are computed on every row (each is a
/// few multiplications); the argument of the two tail ones is held at |t| ≥ 1.25, where
/// they are used, so that it is never a division by zero.
pub(crate) fn ratios(a: &Expr) -> Vec<Expr> {
    let (t, u) = t_and_u(a);
    let ratio = |p: &[f64], q: &[f64], s: &Expr| bin(horner(p, s), Op::Div, horner(q, s));
    let z = bin(t.clone(), Op::Mul, t);
    let s = Expr::Sum(vec![u.clone(), Expr::Float(-1.0)]);
    let w = Expr::Greatest(vec![u, Expr::Float(1.25)]);
    let inv = bin(Expr::Float(1.0), Op::Div, bin(w.clone(), Op::Mul, w));
    vec![
        ratio(&PP, &QQ, &z),
        ratio(&PA, &QA, &s),
        ratio(&RA, &SA, &inv),
        ratio(&RB, &SB, &inv),
    ]
}

/// Φ(a) from the column `a` and its [`ratios`] columns; NULL for a NULL `a`.
pub(crate) fn cdf(a: &Expr, r: &[Expr]) -> Expr {
    let (t, u) = t_and_u(a);
    let lt = |x: &Expr, bound: f64| bin(x.clone(), Op::Lt, Expr::Float(bound));
    let mul = |a: Expr, b: Expr| bin(a, Op::Mul, b);
    // |t| < 0.84375: erfc(t) = 1 − (t + t·r0), either sign.
    let small = Expr::Sum(vec![
        Expr::Float(1.0),
        bin(
            Expr::Float(0.0),
            Op::Sub,
            Expr::Sum(vec![t.clone(), mul(t.clone(), r[0].clone())]),
        ),
    ]);
    // erfc(|t|) for |t| ≥ 0.84375.
    let tail = |r: &Expr| {
        let exponent = Expr::Sum(vec![
            bin(Expr::Float(0.0), Op::Sub, mul(u.clone(), u.clone())),
            Expr::Float(-0.5625),
            r.clone(),
        ]);
        bin(Expr::Exp(Box::new(exponent), false), Op::Div, u.clone())
    };
    let upper = Expr::Case(
        vec![
            (
                lt(&u, 1.25),
                bin(Expr::Float(1.0 - ERX), Op::Sub, r[1].clone()),
            ),
            (lt(&u, 1.0 / 0.35), tail(&r[2])),
            (lt(&u, 28.0), tail(&r[3])),
            (bin(u.clone(), Op::Ge, Expr::Float(28.0)), Expr::Float(0.0)),
        ],
        Box::new(Expr::Null),
    );
    // Φ = erfc(t)/2: for t > 0 that is upper/2, else 1 − upper/2 (erfc(−x) = 2 − erfc(x)).
    let positive = bin(t, Op::Gt, Expr::Float(0.0));
    let pick = |yes: f64, no: f64| {
        Expr::Case(
            vec![(positive.clone(), Expr::Float(yes))],
            Box::new(Expr::Float(no)),
        )
    };
    Expr::Case(
        vec![(lt(&u, 0.84375), mul(Expr::Float(0.5), small))],
        Box::new(Expr::Sum(vec![pick(0.0, 1.0), mul(pick(0.5, -0.5), upper)])),
    )
}

/// c[0] + s·(c[1] + s·(c[2] + …)).
fn horner(c: &[f64], s: &Expr) -> Expr {
    let mut acc = Expr::Float(c[c.len() - 1]);
    for &k in c[..c.len() - 1].iter().rev() {
        acc = Expr::Sum(vec![Expr::Float(k), bin(s.clone(), Op::Mul, acc)]);
    }
    acc
}

//! Fields: the DataDictionary, each model's MiningSchema, and the column space they
//! become.
//!
//! Every PMML field (a data field, a derived field, a segment's output) is a column of
//! the IR's column space. Numbers are numbers; a string field carries codes into its
//! level list (`-1` for a valid string that is no level). Derived fields are converted
//! lazily, when something reads them, so unused transformations cost nothing.

use std::collections::HashMap;
use std::rc::Rc;

use ferry_ir::{CompareOp, DType, Derived, Expr, Input, Precision, UnaryFn, Unseen};

use super::xml::{array_values, closure, parse_number, El};
use crate::ImportError;

/// What the values of a field are.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// Numbers (continuous fields, and categorical or ordinal fields of numbers, which
    /// are compared by value).
    Number,
    /// Strings, carried as codes into the level list.
    Text(Rc<Vec<String>>),
}

impl Kind {
    pub fn levels(&self) -> Option<&Rc<Vec<String>>> {
        match self {
            Kind::Text(levels) => Some(levels),
            Kind::Number => None,
        }
    }
}

/// A field as the column space holds it.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub column: usize,
    pub kind: Kind,
    /// Whether the field is `dataType="float"`: its values are float32, and so is every
    /// constant compared with it (JPMML parses a predicate's value in the field's type).
    pub float: bool,
    /// Whether the field is `dataType="integer"` (integer arithmetic, see `Val`).
    pub integer: bool,
}

impl Field {
    /// The code or number `text` stands for when compared with this field; `None` for a
    /// string that is none of the field's levels (equal to no value of the field).
    pub fn value_of(&self, text: &str, at: El<'_, '_>) -> Result<Option<f64>, ImportError> {
        match &self.kind {
            Kind::Text(levels) => Ok(levels.iter().position(|l| l == text).map(|i| i as f64)),
            Kind::Number => {
                // A boolean field (an imputer's missing indicator) holds 1 and 0.
                let v = match text {
                    "true" => Some(1.0),
                    "false" => Some(0.0),
                    _ => parse_number(text),
                };
                let v = v.ok_or_else(|| {
                    at.error(format!(
                        "`{text}` is not a number, but the field is numeric"
                    ))
                })?;
                Ok(Some(if self.float { f64::from(v as f32) } else { v }))
            }
        }
    }
}

/// A DataDictionary entry.
#[derive(Debug, Clone)]
pub(crate) struct DataField<'a, 'i> {
    pub el: El<'a, 'i>,
    pub name: String,
    pub optype: &'a str,
    pub data_type: &'a str,
    /// Values declared valid (`<Value property="valid">` or no property).
    pub valid: Vec<String>,
    /// Values declared missing (`property="missing"`).
    pub missing: Vec<String>,
    /// Continuous ranges `(low, high, low closed, high closed)`.
    pub intervals: Vec<(f64, f64, bool, bool)>,
}

impl DataField<'_, '_> {
    pub fn is_text(&self) -> bool {
        self.data_type == "string" || self.data_type == "boolean"
    }
}

pub(crate) fn data_dictionary<'a, 'i>(
    pmml: El<'a, 'i>,
) -> Result<Vec<DataField<'a, 'i>>, ImportError> {
    let dd = pmml.req_child("DataDictionary")?;
    let mut out = Vec::new();
    for f in dd.children_named("DataField") {
        let mut field = DataField {
            el: f,
            name: f.req("name")?.to_string(),
            optype: f.req("optype")?,
            data_type: f.req("dataType")?,
            valid: Vec::new(),
            missing: Vec::new(),
            intervals: Vec::new(),
        };
        if !matches!(field.optype, "continuous" | "categorical" | "ordinal") {
            return Err(f.error(format!("unknown optype `{}`", field.optype)));
        }
        match field.data_type {
            "double" | "float" | "integer" | "string" | "boolean" => {}
            other => {
                return Err(f.unsupported(format!(
                    "dataType `{other}` (ferry reads double, float, integer, string, boolean)"
                )))
            }
        }
        for v in f.children_named("Value") {
            let value = v.req("value")?.to_string();
            match v.attr("property").unwrap_or("valid") {
                "valid" => field.valid.push(value),
                "missing" => field.missing.push(value),
                "invalid" => {}
                other => return Err(v.error(format!("unknown property `{other}`"))),
            }
        }
        for i in f.children_named("Interval") {
            let (lc, hc) = closure(i)?;
            field.intervals.push((
                i.f64_or("leftMargin", f64::NEG_INFINITY)?,
                i.f64_or("rightMargin", f64::INFINITY)?,
                lc,
                hc,
            ));
        }
        out.push(field);
    }
    Ok(out)
}

/// One scope of field names: the global one (data fields and the
/// TransformationDictionary), then one per model (its MiningSchema treatments and
/// LocalTransformations, and the outputs of earlier segments).
#[derive(Default)]
pub(crate) struct Scope<'a, 'i> {
    pub fields: HashMap<String, Field>,
    /// DerivedFields not converted yet.
    pub pending: HashMap<String, El<'a, 'i>>,
    /// User-defined functions (DefineFunction), inlined where they are applied.
    pub functions: HashMap<String, El<'a, 'i>>,
}

/// Builds the column space.
pub(crate) struct Builder<'a, 'i> {
    pub inputs: Vec<Input>,
    pub derived: Vec<Derived>,
    interned: HashMap<String, usize>,
    /// Names of all columns so far.
    names: std::collections::HashSet<String>,
    /// Conditions (1 when true) under which JPMML refuses a row (`returnInvalid`): the
    /// model then predicts nothing for it.
    pub refused: Vec<Expr>,
    pub scopes: Vec<Scope<'a, 'i>>,
    /// Names being converted, to report cycles instead of recursing forever.
    pub resolving: Vec<String>,
    /// Nesting of expressions being converted.
    pub depth: usize,
    /// Strings compared with each string field anywhere in the document: the levels of
    /// a string field that declares no values.
    pub mentioned: HashMap<String, Vec<String>>,
}

/// Deepest expression nesting converted (each level is a Rust stack frame).
pub(crate) const MAX_EXPR_DEPTH: usize = 200;

impl<'a, 'i> Builder<'a, 'i> {
    pub fn new(doc_root: El<'a, 'i>) -> Result<Builder<'a, 'i>, ImportError> {
        let mut global = Scope::default();
        if let Some(td) = doc_root.child("TransformationDictionary") {
            add_pending(&mut global, td)?;
        }
        Ok(Builder {
            inputs: Vec::new(),
            derived: Vec::new(),
            interned: HashMap::new(),
            names: Default::default(),
            refused: Vec::new(),
            scopes: vec![global],
            resolving: Vec::new(),
            depth: 0,
            mentioned: mentioned_values(doc_root)?,
        })
    }

    /// The column holding `expr`, adding a derived column unless the same expression
    /// already has one (or it is a plain column).
    pub fn column(&mut self, name: &str, expr: Expr) -> usize {
        if let Expr::Column { index } = expr {
            return index;
        }
        let key = format!("{expr:?}");
        if let Some(&c) = self.interned.get(&key) {
            return c;
        }
        let c = self.inputs.len() + self.derived.len();
        let name = self.unique_name(name);
        self.derived.push(Derived { name, expr });
        self.interned.insert(key, c);
        c
    }

    /// `base`, or `base_2`, `base_3`… when a column already has that name.
    fn unique_name(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut i = 1;
        while self.names.contains(&name) {
            i += 1;
            name = format!("{base}_{i}");
        }
        self.names.insert(name.clone());
        name
    }

    /// Registers the active data fields of the top model's MiningSchema as the model's
    /// inputs, in DataDictionary order, with the schema's treatments applied.
    pub fn add_inputs(
        &mut self,
        dictionary: &[DataField<'a, 'i>],
        schema: El<'a, 'i>,
    ) -> Result<(), ImportError> {
        let mut active = HashMap::new();
        for mf in schema.children_named("MiningField") {
            let name = mf.req("name")?;
            let usage = mf.attr("usageType").unwrap_or("active");
            if matches!(usage, "active") {
                active.insert(name.to_string(), mf);
            } else if !matches!(
                usage,
                "predicted"
                    | "target"
                    | "supplementary"
                    | "group"
                    | "order"
                    | "frequencyWeight"
                    | "analysisWeight"
            ) {
                return Err(mf.error(format!("unknown usageType `{usage}`")));
            }
        }
        let mut prepared = Vec::new();
        for df in dictionary {
            let Some(mf) = active.remove(&df.name) else {
                continue;
            };
            let column = self.inputs.len();
            let (dtype, kind, unseen) = if df.is_text() {
                let levels = if !df.valid.is_empty() {
                    // Valid values, those declared missing, then a replacement that is
                    // neither (sklearn2pmml shares one replacement between fields).
                    let mut levels: Vec<String> =
                        df.valid.iter().chain(&df.missing).cloned().collect();
                    // Replacements that are no value of the field (sklearn2pmml shares
                    // one between fields; OneHotEncoder's "infrequent" bucket) still
                    // need a code for the model's predicates to match.
                    let invalid_replacement = match mf.attr("invalidValueTreatment") {
                        Some("asValue") => mf.attr("invalidValueReplacement"),
                        _ => None,
                    };
                    for r in mf
                        .attr("missingValueReplacement")
                        .into_iter()
                        .chain(invalid_replacement)
                    {
                        if !levels.iter().any(|l| l == r) {
                            levels.push(r.to_string());
                        }
                    }
                    levels
                } else if df.data_type == "boolean" {
                    vec!["false".to_string(), "true".to_string()]
                } else {
                    self.mentioned.get(&df.name).cloned().unwrap_or_default()
                };
                // A value outside declared Values is invalid: read as missing unless the
                // schema keeps it (then it equals no level) or replaces it (`prepare`).
                let unseen = if df.valid.is_empty()
                    || matches!(
                        mf.attr("invalidValueTreatment").unwrap_or("returnInvalid"),
                        "asIs" | "asValue" | "returnInvalid"
                    ) {
                    Unseen::Other
                } else {
                    Unseen::Missing
                };
                (DType::Categorical, Kind::Text(Rc::new(levels)), unseen)
            } else {
                let dtype = match df.data_type {
                    "float" => DType::Float32,
                    "integer" => DType::Int64,
                    _ => DType::Float64,
                };
                (dtype, Kind::Number, Unseen::Missing)
            };
            self.names.insert(df.name.clone());
            self.inputs.push(Input {
                name: df.name.clone(),
                dtype,
                nullable: true,
                levels: kind.levels().map(|l| l.to_vec()),
                unseen,
                range: None,
            });
            let field = Field {
                column,
                kind,
                float: df.data_type == "float",
                integer: df.data_type == "integer",
            };
            prepared.push((field, df, mf));
        }
        // Treatments only once every input has its column: derived columns come after.
        for (field, df, mf) in prepared {
            let field = self.prepare(field, df, mf)?;
            self.scopes[0].fields.insert(df.name.clone(), field);
        }
        if let Some((name, mf)) = active.into_iter().next() {
            return Err(mf.error(format!("`{name}` is not in the DataDictionary")));
        }
        Ok(())
    }

    /// Applies a MiningField's treatments to a field, in JPMML's order: float32
    /// rounding, values declared missing, invalid values, outliers, then the
    /// replacement of missing values.
    pub fn prepare(
        &mut self,
        field: Field,
        df: &DataField<'a, 'i>,
        mf: El<'a, 'i>,
    ) -> Result<Field, ImportError> {
        let name = &df.name;
        let x = Expr::column(field.column);
        let missing = |e: &Expr| Expr::IsMissing {
            x: Box::new(e.clone()),
        };
        let mut expr = x.clone();
        if field.float {
            expr = Expr::unary(UnaryFn::Cast, expr, Precision::F32);
        }
        let invalid = mf.attr("invalidValueTreatment").unwrap_or("returnInvalid");
        let replacement = match (invalid, mf.attr("invalidValueReplacement")) {
            ("asValue", Some(r)) => Some(field.value_of(r, mf)?.unwrap_or(f64::NAN)),
            ("asValue", None) => return Err(mf.error("asValue needs invalidValueReplacement")),
            _ => None,
        };
        if !matches!(invalid, "asIs" | "asMissing" | "asValue" | "returnInvalid") {
            return Err(mf.error(format!("unknown invalidValueTreatment `{invalid}`")));
        }
        match &field.kind {
            Kind::Number => {
                for m in &df.missing {
                    if let Some(v) = parse_number(m) {
                        expr = Expr::if_else(
                            Expr::compare(CompareOp::Eq, expr.clone(), Expr::constant(v)),
                            Expr::constant(f64::NAN),
                            expr,
                        );
                    }
                }
                let checked = !df.intervals.is_empty()
                    || (!df.valid.is_empty() && df.optype != "continuous")
                    || df.data_type == "integer";
                if checked && invalid != "asIs" {
                    let valid = self.number_is_valid(df, &expr, df.el)?;
                    // A missing value is not invalid.
                    let keep = Expr::binary(
                        ferry_ir::BinaryFn::Max,
                        valid,
                        missing(&expr),
                        Precision::F64,
                    );
                    // returnInvalid: JPMML refuses the row, and ferry gives it no
                    // prediction (`refused`).
                    if invalid == "returnInvalid" {
                        self.refused.push(Expr::compare(
                            CompareOp::Eq,
                            keep.clone(),
                            Expr::constant(0.0),
                        ));
                    }
                    let otherwise = Expr::constant(replacement.unwrap_or(f64::NAN));
                    expr = Expr::if_else(keep, expr, otherwise);
                }
            }
            Kind::Text(levels) => {
                // Levels are the valid values, then those declared missing (read as
                // missing), then replacements that are neither (an input equal to one
                // is invalid, like any other value outside the valid ones).
                let n_valid = df.valid.len();
                let n_declared = n_valid + df.missing.len();
                if levels.len() > n_declared && !df.valid.is_empty() {
                    let invalid_code = if invalid == "asMissing" {
                        f64::NAN
                    } else {
                        -1.0
                    };
                    expr = Expr::if_else(
                        Expr::compare(
                            CompareOp::Ge,
                            expr.clone(),
                            Expr::constant(n_declared as f64),
                        ),
                        Expr::constant(invalid_code),
                        expr,
                    );
                }
                if n_declared > n_valid && !df.valid.is_empty() {
                    expr = Expr::if_else(
                        Expr::compare(CompareOp::Ge, expr.clone(), Expr::constant(n_valid as f64)),
                        Expr::constant(f64::NAN),
                        expr,
                    );
                }
                // An invalid string arrives as -1 (asIs, asValue, returnInvalid) or
                // missing.
                if invalid == "returnInvalid" && !df.valid.is_empty() {
                    self.refused.push(Expr::compare(
                        CompareOp::Eq,
                        expr.clone(),
                        Expr::constant(-1.0),
                    ));
                    expr = Expr::if_else(
                        Expr::compare(CompareOp::Eq, expr.clone(), Expr::constant(-1.0)),
                        Expr::constant(f64::NAN),
                        expr,
                    );
                }
                if let Some(code) = replacement {
                    expr = Expr::if_else(
                        Expr::compare(CompareOp::Eq, expr.clone(), Expr::constant(-1.0)),
                        Expr::constant(code),
                        expr,
                    );
                }
            }
        }
        if field.kind == Kind::Number {
            let low = mf.f64_opt("lowValue")?;
            let high = mf.f64_opt("highValue")?;
            let (below, above) = match mf.attr("outliers").unwrap_or("asIs") {
                "asIs" => (None, None),
                "asMissingValues" => (low.map(|_| f64::NAN), high.map(|_| f64::NAN)),
                "asExtremeValues" => (low, high),
                other => return Err(mf.error(format!("unknown outliers treatment `{other}`"))),
            };
            if let (Some(l), Some(v)) = (low, below) {
                expr = Expr::if_else(
                    Expr::compare(CompareOp::Lt, expr.clone(), Expr::constant(l)),
                    Expr::constant(v),
                    expr,
                );
            }
            if let (Some(h), Some(v)) = (high, above) {
                expr = Expr::if_else(
                    Expr::compare(CompareOp::Gt, expr.clone(), Expr::constant(h)),
                    Expr::constant(v),
                    expr,
                );
            }
        }
        if mf.attr("missingValueTreatment") == Some("returnInvalid") {
            self.refused.push(missing(&expr));
        }
        if let Some(r) = mf.attr("missingValueReplacement") {
            let v = field.value_of(r, mf)?.ok_or_else(|| {
                mf.error(format!(
                    "missingValueReplacement `{r}` is not a value of `{name}`"
                ))
            })?;
            expr = Expr::if_else(missing(&expr), Expr::constant(v), expr);
        }
        // Named for what was done to the input (shown by `explain` and in SQL).
        let label = match &expr {
            Expr::Unary {
                f: UnaryFn::Cast, ..
            } => format!("float32({name})"),
            _ => format!("treated({name})"),
        };
        let column = self.column(&label, expr);
        Ok(Field { column, ..field })
    }

    /// 1 when a (non-missing) number is a valid value of `df`: inside one of its
    /// intervals, or one of its listed values.
    fn number_is_valid(
        &mut self,
        df: &DataField<'a, 'i>,
        x: &Expr,
        at: El<'a, 'i>,
    ) -> Result<Expr, ImportError> {
        let mut any: Option<Expr> = None;
        let mut or = |e: Expr| {
            any = Some(match any.take() {
                None => e,
                Some(a) => Expr::binary(ferry_ir::BinaryFn::Max, a, e, Precision::F64),
            })
        };
        for &(low, high, lc, hc) in &df.intervals {
            let lo = Expr::compare(
                if lc { CompareOp::Ge } else { CompareOp::Gt },
                x.clone(),
                Expr::constant(low),
            );
            let hi = Expr::compare(
                if hc { CompareOp::Le } else { CompareOp::Lt },
                x.clone(),
                Expr::constant(high),
            );
            or(Expr::binary(
                ferry_ir::BinaryFn::Min,
                lo,
                hi,
                Precision::F64,
            ));
        }
        for v in &df.valid {
            let v = parse_number(v).ok_or_else(|| {
                at.error(format!(
                    "the value `{v}` of a numeric field is not a number"
                ))
            })?;
            or(Expr::compare(CompareOp::Eq, x.clone(), Expr::constant(v)));
        }
        let mut valid = any.unwrap_or(Expr::constant(1.0));
        if df.data_type == "integer" {
            let whole = Expr::compare(
                CompareOp::Eq,
                Expr::unary(UnaryFn::Floor, x.clone(), Precision::F64),
                x.clone(),
            );
            valid = Expr::binary(ferry_ir::BinaryFn::Min, valid, whole, Precision::F64);
        }
        Ok(valid)
    }

    /// Opens the scope of a (nested) model.
    pub fn push_scope(&mut self, model: El<'a, 'i>) -> Result<(), ImportError> {
        let mut scope = Scope::default();
        // A nested model's own treatments would shadow the fields for it alone; the
        // exporters ferry knows write none.
        if self.scopes.len() > 1 {
            if let Some(schema) = model.child("MiningSchema") {
                for mf in schema.children_named("MiningField") {
                    for attr in [
                        "missingValueReplacement",
                        "outliers",
                        "invalidValueReplacement",
                    ] {
                        if mf.attr(attr).is_some() {
                            return Err(mf.unsupported(format!("`{attr}` in a nested model")));
                        }
                    }
                }
            }
        }
        if let Some(lt) = model.child("LocalTransformations") {
            add_pending(&mut scope, lt)?;
        }
        self.scopes.push(scope);
        Ok(())
    }

    pub fn pop_scope(&mut self) {
        self.scopes.pop();
    }

    /// Adds a field to the innermost scope (a chained segment's output).
    pub fn define(&mut self, name: &str, field: Field) {
        self.scopes
            .last_mut()
            .expect("the global scope is never popped")
            .fields
            .insert(name.to_string(), field);
    }

    /// The state to go back to when a conversion is abandoned for another.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            derived: self.derived.len(),
            scopes: self.scopes.len(),
        }
    }

    /// Forgets every column made since `mark`, and the fields that point at them.
    pub fn rollback(&mut self, mark: Checkpoint) {
        let first = self.inputs.len() + mark.derived;
        for d in self.derived.drain(mark.derived..) {
            self.names.remove(&d.name);
        }
        self.interned.retain(|_, c| *c < first);
        self.scopes.truncate(mark.scopes);
        for scope in &mut self.scopes {
            scope.fields.retain(|_, f| f.column < first);
        }
    }
}

/// See [`Builder::checkpoint`].
pub(crate) struct Checkpoint {
    derived: usize,
    scopes: usize,
}

/// Adds the DerivedFields of a TransformationDictionary or LocalTransformations.
fn add_pending<'a, 'i>(scope: &mut Scope<'a, 'i>, holder: El<'a, 'i>) -> Result<(), ImportError> {
    for df in holder.children_named("DerivedField") {
        let name = df.req("name")?;
        if scope.pending.insert(name.to_string(), df).is_some() {
            return Err(df.error(format!("`{name}` is defined twice")));
        }
    }
    for f in holder.children_named("DefineFunction") {
        let name = f.req("name")?;
        if scope.functions.insert(name.to_string(), f).is_some() {
            return Err(f.error(format!("the function `{name}` is defined twice")));
        }
    }
    Ok(())
}

/// Strings compared with each field anywhere in the document, in order of appearance.
fn mentioned_values(root: El<'_, '_>) -> Result<HashMap<String, Vec<String>>, ImportError> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let mut add = |field: &str, value: String| {
        let list = out.entry(field.to_string()).or_default();
        if !list.contains(&value) {
            list.push(value);
        }
    };
    for node in root.0.descendants().filter(roxmltree::Node::is_element) {
        let el = El(node);
        match el.name() {
            "SimplePredicate" | "NormDiscrete" => {
                if let (Some(f), Some(v)) = (el.attr("field"), el.attr("value")) {
                    add(f, v.to_string());
                }
            }
            "SimpleSetPredicate" => {
                if let (Some(f), Some(a)) = (el.attr("field"), el.child("Array")) {
                    for v in array_values(a)? {
                        add(f, v);
                    }
                }
            }
            "CategoricalPredictor" => {
                if let (Some(f), Some(v)) = (el.attr("name"), el.attr("value")) {
                    add(f, v.to_string());
                }
            }
            // Strings a string field is compared with in an Apply.
            "Apply"
                if matches!(
                    el.attr("function"),
                    Some("equal" | "notEqual" | "isIn" | "isNotIn")
                ) =>
            {
                let mut args = el.elements();
                if let Some(f) = args.next().filter(|a| a.name() == "FieldRef") {
                    if let Some(field) = f.attr("field") {
                        for a in args.filter(|a| a.name() == "Constant") {
                            add(field, a.text().to_string());
                        }
                    }
                }
            }
            "MapValues" => {
                let pairs: Vec<(&str, &str)> = el
                    .children_named("FieldColumnPair")
                    .filter_map(|p| Some((p.attr("field")?, p.attr("column")?)))
                    .collect();
                if let Some(table) = el.child("InlineTable") {
                    for row in table.children_named("row") {
                        for cell in row.elements() {
                            if let Some((field, _)) =
                                pairs.iter().find(|p| super::xml::column_is(cell, p.1))
                            {
                                add(field, cell.text().to_string());
                            }
                        }
                    }
                }
            }
            "MiningField" => {
                if let (Some(f), Some(v)) = (el.attr("name"), el.attr("missingValueReplacement")) {
                    add(f, v.to_string());
                }
            }
            "PPCell" => {
                if let (Some(f), Some(v)) = (el.attr("predictorName"), el.attr("value")) {
                    add(f, v.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

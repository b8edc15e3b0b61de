//! Every difference between SQL engines that the generated SQL depends on.
//!
//! The defaults are ANSI SQL; each engine overrides what it does differently. Adding a
//! dialect is one struct here and one line in [`dialect`].

use std::fmt::Write;

/// How a dialect rounds a float64 value to float32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Float32 {
    /// `CAST(x AS <type>)`.
    Cast(&'static str),
    /// `<function>(x)`.
    Function(&'static str),
    /// From float64 arithmetic: Veltkamp's split `c·x − (c·x − x)` with `c = 2^29 + 1`
    /// rounds to 24 significant bits, ties to even, as float32 does (within float32's
    /// exponent range). It reads `x` three times, so the generated SQL keeps running
    /// sums in columns behind [`Dialect::subquery_barrier`].
    Emulated,
}

/// How a dialect spells a left fold over an array (`aggregate(array(…), init, f)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// Spark's `aggregate(array(x…), init, (acc, x) -> …)`.
    SparkAggregate,
}

/// How a dialect packages the query as a reusable function (`--function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionStyle {
    /// `CREATE MACRO name(input_table) AS TABLE …`, called as `FROM name('table')`.
    DuckDbTableMacro,
    /// `CREATE FUNCTION name(x1, …) RETURNS TABLE(…) LANGUAGE sql`, one row per call:
    /// `FROM t CROSS JOIN LATERAL name(t.x1, …)`.
    PostgresSqlFunction,
    /// `CREATE FUNCTION name(x1, …) RETURNS STRUCT<…>`, one struct per call:
    /// `SELECT t.id, name(t.x1, …).* FROM t`.
    BigQueryStructFunction,
    /// `CREATE FUNCTION name(x1, …) RETURNS TABLE (…)`, one row per call:
    /// `SELECT t.id, f.* FROM t, TABLE(name(t.x1, …)) AS f`.
    SnowflakeTableFunction,
}

/// The per-engine parts of the SQL ferry writes.
/// Math functions the derived columns use, named per dialect by [`Dialect::math`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Math {
    Abs,
    Ln,
    Sqrt,
    Floor,
    Ceil,
    Power,
    Atan,
    /// The first argument that is not NULL (the same in every dialect).
    Coalesce,
}

pub trait Dialect: Sync {
    /// The `--dialect` name.
    fn name(&self) -> &'static str;

    /// Appends `name` as a quoted identifier.
    fn quote_ident(&self, name: &str, out: &mut String) {
        quote_doubling(name, '"', '"', out);
    }

    /// Appends `s` as a string literal.
    fn quote_str(&self, s: &str, out: &mut String) {
        quote_doubling(s, '\'', '\'', out);
    }

    /// Appends a float64 literal that the engine reads as exactly `x` (finite), typed as
    /// a double (not DECIMAL/NUMERIC, whose arithmetic would differ).
    fn float(&self, x: f64, out: &mut String) {
        float_literal(x, "", "", out);
    }

    /// How to round to float32; `None` when the engine only computes in float64 (sums
    /// that the source does in float32 are then done in float64).
    fn float32(&self) -> Option<Float32> {
        None
    }

    /// Whether `x::TYPE` casts (PostgreSQL's spelling, which DuckDB shares).
    fn postfix_cast(&self) -> bool {
        false
    }

    /// Whether `+ - * /` on two float32 values gives a float32 (REAL op REAL is REAL),
    /// so that it needs no rounding after. MySQL and ClickHouse compute it in float64.
    fn float32_closed(&self) -> bool {
        false
    }

    /// Whether `/` on two float32 values gives a float32 too. Spark divides in float64
    /// whatever the operands (its `Divide` is defined on DOUBLE and DECIMAL only).
    fn float32_division_closed(&self) -> bool {
        self.float32_closed()
    }

    /// Appended to a CTE's SELECT so that the engine computes it as a step of its own
    /// instead of substituting its expressions into the next one.
    fn subquery_barrier(&self) -> &'static str {
        ""
    }

    /// Sums many terms left to right with a fold over an array, where the engine has
    /// one: no expression gets deeper as the ensemble grows.
    fn fold(&self) -> Option<Fold> {
        None
    }

    /// The float64 type, for casts.
    fn float64_type(&self) -> &'static str {
        "DOUBLE PRECISION"
    }

    /// A function that widens to float64, where a CAST would not do.
    fn float64_function(&self) -> Option<&'static str> {
        None
    }

    /// A function returning the largest of its (non-NULL) arguments; `None` for a CASE.
    fn greatest(&self) -> Option<&'static str> {
        Some("GREATEST")
    }

    /// Written before a text column compared with category names, so that the
    /// comparison is exact (case and trailing spaces count).
    fn exact_text_prefix(&self) -> &'static str {
        ""
    }

    /// A function `f(cond, then, else)` that a CASE with one WHEN is written as, where
    /// the engine handles it more cheaply; a NULL condition takes `else`, as in CASE.
    fn if_function(&self) -> Option<&'static str> {
        None
    }

    /// The name of a math function (standard SQL spells most of them alike).
    fn math(&self, f: Math) -> &'static str {
        match f {
            Math::Abs => "ABS",
            Math::Ln => "LN",
            Math::Sqrt => "SQRT",
            Math::Floor => "FLOOR",
            Math::Ceil => "CEIL",
            Math::Power => "POWER",
            Math::Atan => "ATAN",
            Math::Coalesce => "COALESCE",
        }
    }
    /// Arguments of EXP are clamped below at this value in engines that raise an error
    /// on underflow instead of returning 0.
    fn exp_floor(&self) -> Option<f64> {
        None
    }

    /// Whether EXP raises an error, rather than returning infinity, when the result is
    /// beyond float64: its argument is then clamped at 709.78.
    fn exp_overflow_fails(&self) -> bool {
        self.exp_floor().is_some()
    }

    /// How many distinct tree thresholds the statement may hold as constants the engine
    /// hoists out of the row loop; deeper splits compare with a constant evaluated per
    /// row. `None`: no limit.
    fn hoisted_thresholds(&self) -> Option<usize> {
        None
    }

    /// Deepest CASE nesting the engine accepts; deeper trees are written flat.
    fn max_case_nesting(&self) -> usize {
        usize::MAX
    }

    /// Trees added to the running score per CTE: keeps expression depth within the
    /// engine's parser and planner limits.
    fn trees_per_step(&self) -> usize {
        50
    }

    /// Appended to the whole statement (engine settings the query needs).
    fn statement_suffix(&self) -> &'static str {
        ""
    }

    /// `AS` between a table expression and its alias (Oracle has none).
    fn table_alias_as(&self) -> &'static str {
        " AS "
    }

    /// How `--function` is written; `None` where ferry has no form for the engine yet.
    fn function_style(&self) -> Option<FunctionStyle> {
        None
    }

    /// Appends the name of a view or function ferry creates (`schema.name`: each part
    /// quoted).
    fn quote_object_name(&self, name: &str, out: &mut String) {
        quote_path(self, name, out);
    }

    /// `CREATE VIEW` for `query`.
    fn create_view(&self, name: &str, query: &str) -> String {
        let mut out = String::from("CREATE VIEW ");
        self.quote_object_name(name, &mut out);
        out.push_str(" AS\n");
        out.push_str(query);
        out
    }
}

/// Appends a possibly dotted name (`schema.table`), each part quoted.
pub(crate) fn quote_path<D: Dialect + ?Sized>(d: &D, path: &str, out: &mut String) {
    for (i, part) in path.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        d.quote_ident(part, out);
    }
}

fn quote_doubling(s: &str, open: char, close: char, out: &mut String) {
    out.push(open);
    for c in s.chars() {
        if c == close {
            out.push(close);
        }
        out.push(c);
    }
    out.push(close);
}

/// Quoting where backslash is an escape character inside quotes.
fn quote_backslash(s: &str, quote: char, out: &mut String) {
    out.push(quote);
    for c in s.chars() {
        if c == quote || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(quote);
}

/// Shortest round-trip digits in scientific notation (`1.5e0`, `-2.5e-7`), which every
/// engine reads as an approximate (floating) literal rather than a DECIMAL. Negative
/// values are parenthesised so that `a - -1e0` cannot become a `--` comment.
pub(crate) fn float_literal(x: f64, prefix: &str, suffix: &str, out: &mut String) {
    debug_assert!(x.is_finite());
    let x = if x == 0.0 { 0.0 } else { x };
    if x < 0.0 {
        let _ = write!(out, "(-{prefix}{:e}{suffix})", -x);
    } else {
        let _ = write!(out, "{prefix}{x:e}{suffix}");
    }
}

/// Standard SQL. No float32 arithmetic is assumed and GREATEST is spelled as a CASE.
pub struct Ansi;
impl Dialect for Ansi {
    fn name(&self) -> &'static str {
        "ansi"
    }
    fn greatest(&self) -> Option<&'static str> {
        None
    }
}

pub struct Sqlite;
impl Dialect for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    /// SQLite's decimal parser is not correctly rounded for every 16–17 digit shortest
    /// form (measured: 4 of 3006 off by one ulp on 3.40); with 17 significant digits
    /// it is.
    fn float(&self, x: f64, out: &mut String) {
        if x == 0.0 {
            out.push_str("0e0");
        } else if x < 0.0 {
            let _ = write!(out, "(-{:.16e})", -x);
        } else {
            let _ = write!(out, "{x:.16e}");
        }
    }
    /// Backticks, not double quotes: SQLite reads a double-quoted name that matches no
    /// column as a string literal, so a misspelt or missing input column would score
    /// every row as if it held the text of its name, silently. A backticked name is
    /// always an identifier: the query fails with "no such column" instead.
    fn quote_ident(&self, name: &str, out: &mut String) {
        quote_doubling(name, '`', '`', out);
    }
    /// The parser's fixed stack (100 entries in common builds) overflows at about 20
    /// nested CASEs.
    fn max_case_nesting(&self) -> usize {
        12
    }
    /// SQLite computes each constant operand of a comparison once per statement, and
    /// finds one it has already computed by a linear search of all of them: a statement
    /// with n distinct thresholds compiles in time that grows with n²: a forest of 100
    /// fully grown trees (133,000 splits) took 178 s. Past the 1,024 thresholds of the
    /// shallowest splits, a split compares with `COALESCE(t, x)`, which SQLite computes
    /// per row: the forest then compiles in about a second. Models within the limit keep
    /// their literals (COALESCE throughout cost a 100-tree forest 12% more per row).
    fn hoisted_thresholds(&self) -> Option<usize> {
        Some(1024)
    }
    fn float32(&self) -> Option<Float32> {
        Some(Float32::Emulated)
    }
    /// An OFFSET keeps SQLite's query flattener from merging the step into the next
    /// (which would copy each running sum three times per tree); the step runs as a
    /// co-routine instead.
    fn subquery_barrier(&self) -> &'static str {
        " LIMIT -1 OFFSET 0"
    }
    /// SQLite's scalar `max(a, b, …)`.
    fn greatest(&self) -> Option<&'static str> {
        Some("MAX")
    }
}

pub struct DuckDb;
impl Dialect for DuckDb {
    fn function_style(&self) -> Option<FunctionStyle> {
        Some(FunctionStyle::DuckDbTableMacro)
    }
    fn float64_type(&self) -> &'static str {
        "DOUBLE"
    }
    fn name(&self) -> &'static str {
        "duckdb"
    }
    fn float32(&self) -> Option<Float32> {
        Some(Float32::Cast("FLOAT"))
    }
    fn float32_closed(&self) -> bool {
        true
    }
    fn postfix_cast(&self) -> bool {
        true
    }
    /// The planner's common-subexpression pass grows with the square of the terms in
    /// one expression: a 500-tree GBM on 300 rows ran 24 s at 50 trees per step, 5.4 s at 2.
    fn trees_per_step(&self) -> usize {
        2
    }
}

pub struct Postgres;
impl Dialect for Postgres {
    fn function_style(&self) -> Option<FunctionStyle> {
        Some(FunctionStyle::PostgresSqlFunction)
    }
    fn name(&self) -> &'static str {
        "postgres"
    }
    /// `1.5e0` is NUMERIC in PostgreSQL, and NUMERIC arithmetic is decimal: type it.
    fn float(&self, x: f64, out: &mut String) {
        float_literal(x, "", "::float8", out);
    }
    fn float32(&self) -> Option<Float32> {
        Some(Float32::Cast("REAL"))
    }
    fn float32_closed(&self) -> bool {
        true
    }
    fn postfix_cast(&self) -> bool {
        true
    }
    /// PostgreSQL pulls a CTE referenced once up into its reader, copying the
    /// expressions behind every reference; OFFSET 0 stops that and keeps streaming.
    fn subquery_barrier(&self) -> &'static str {
        " OFFSET 0"
    }
    /// `exp()` raises "value out of range: underflow" below about -745.
    fn exp_floor(&self) -> Option<f64> {
        Some(-700.0)
    }
}

/// MySQL and MariaDB (default `sql_mode`: backtick identifiers, backslash escapes).
pub struct MySql {
    name: &'static str,
}
impl Dialect for MySql {
    /// MariaDB: "DOUBLE value is out of range in 'exp(…)'" (measured).
    fn exp_overflow_fails(&self) -> bool {
        true
    }
    /// The default collations ignore case and trailing spaces; BINARY compares bytes.
    fn exact_text_prefix(&self) -> &'static str {
        "BINARY "
    }
    /// `CAST(x AS FLOAT)` rounds to float32 (MySQL 8.0.17+, MariaDB 10.4.5+); FLOAT
    /// arithmetic is done in double, so every step is cast back.
    fn float32(&self) -> Option<Float32> {
        Some(Float32::Cast("FLOAT"))
    }
    /// Derived tables are merged into one expression by default, and a few thousand
    /// merged terms overrun the server's thread stack (MariaDB 10.11 crashed); a LIMIT
    /// makes each step a materialised table.
    fn subquery_barrier(&self) -> &'static str {
        " LIMIT 18446744073709551615"
    }
    fn float64_type(&self) -> &'static str {
        "DOUBLE"
    }
    fn name(&self) -> &'static str {
        self.name
    }
    fn quote_ident(&self, name: &str, out: &mut String) {
        quote_doubling(name, '`', '`', out);
    }
    /// A backslash is written as `CHAR(92 …)` so the literal means the same with and
    /// without `NO_BACKSLASH_ESCAPES`.
    fn quote_str(&self, s: &str, out: &mut String) {
        if !s.contains('\\') {
            return quote_doubling(s, '\'', '\'', out);
        }
        out.push_str("CONCAT(");
        for (i, part) in s.split('\\').enumerate() {
            if i > 0 {
                out.push_str(", CHAR(92 USING utf8mb4), ");
            }
            quote_doubling(part, '\'', '\'', out);
        }
        out.push(')');
    }
}

pub struct SqlServer;
impl Dialect for SqlServer {
    /// "An invalid floating point operation occurred".
    fn exp_overflow_fails(&self) -> bool {
        true
    }
    fn float64_type(&self) -> &'static str {
        "FLOAT"
    }
    fn name(&self) -> &'static str {
        "sqlserver"
    }
    fn quote_ident(&self, name: &str, out: &mut String) {
        quote_doubling(name, '[', ']', out);
    }
    /// `N'…'`: without the prefix, characters outside the code page become `?`.
    fn quote_str(&self, s: &str, out: &mut String) {
        out.push('N');
        quote_doubling(s, '\'', '\'', out);
    }
    fn float32(&self) -> Option<Float32> {
        Some(Float32::Cast("REAL"))
    }
    /// SQL Server's natural logarithm is LOG; CEIL is CEILING.
    fn math(&self, f: Math) -> &'static str {
        match f {
            Math::Ln => "LOG",
            Math::Ceil => "CEILING",
            other => Ansi.math(other),
        }
    }
    /// GREATEST arrived only in SQL Server 2022.
    fn greatest(&self) -> Option<&'static str> {
        None
    }
    /// "Case expressions may only be nested to level 10."
    fn max_case_nesting(&self) -> usize {
        10
    }
}

pub struct BigQuery;
impl Dialect for BigQuery {
    /// "Generates an error if the result overflows" (BigQuery's EXP).
    fn exp_overflow_fails(&self) -> bool {
        true
    }
    fn float64_type(&self) -> &'static str {
        "FLOAT64"
    }
    fn name(&self) -> &'static str {
        "bigquery"
    }
    fn quote_ident(&self, name: &str, out: &mut String) {
        quote_backslash(name, '`', out);
    }
    fn quote_str(&self, s: &str, out: &mut String) {
        quote_backslash(s, '\'', out);
    }
    fn function_style(&self) -> Option<FunctionStyle> {
        Some(FunctionStyle::BigQueryStructFunction)
    }
    /// BigQuery paths (`project.dataset.view`) are one backquoted identifier.
    fn quote_object_name(&self, name: &str, out: &mut String) {
        self.quote_ident(name, out);
    }
}

pub struct Snowflake;
impl Dialect for Snowflake {
    fn float64_type(&self) -> &'static str {
        "DOUBLE"
    }
    fn name(&self) -> &'static str {
        "snowflake"
    }
    fn function_style(&self) -> Option<FunctionStyle> {
        Some(FunctionStyle::SnowflakeTableFunction)
    }
    /// Snowflake reads backslash escapes inside single quotes.
    fn quote_str(&self, s: &str, out: &mut String) {
        quote_backslash(s, '\'', out);
    }
    fn float(&self, x: f64, out: &mut String) {
        float_literal(x, "", "::FLOAT", out);
    }
}

/// Spark SQL and Databricks.
pub struct Spark;
impl Dialect for Spark {
    fn float64_type(&self) -> &'static str {
        "DOUBLE"
    }
    fn name(&self) -> &'static str {
        "spark"
    }
    fn quote_ident(&self, name: &str, out: &mut String) {
        quote_doubling(name, '`', '`', out);
    }
    fn quote_str(&self, s: &str, out: &mut String) {
        quote_backslash(s, '\'', out);
    }
    /// `D` makes the literal a DOUBLE whatever `exponentLiteralAsDecimal` says.
    fn float(&self, x: f64, out: &mut String) {
        float_literal(x, "", "D", out);
    }
    fn float32(&self) -> Option<Float32> {
        Some(Float32::Cast("FLOAT"))
    }
    fn float32_closed(&self) -> bool {
        true
    }
    fn float32_division_closed(&self) -> bool {
        false
    }
    /// Spark's optimizer collapses chained projections into one expression, and its
    /// parser and analyser overflow the JVM stack at a few hundred nested terms.
    fn fold(&self) -> Option<Fold> {
        Some(Fold::SparkAggregate)
    }
    /// Spark keeps a CASE's branches in one generated method per expression: a
    /// 300-tree depth-12 forest of nested CASEs ran out of a 2 GB driver heap, the same
    /// trees as nested IFs did not.
    fn if_function(&self) -> Option<&'static str> {
        Some("IF")
    }
}

/// Trino, Presto and Athena.
pub struct Trino;
impl Dialect for Trino {
    fn float64_type(&self) -> &'static str {
        "DOUBLE"
    }
    fn name(&self) -> &'static str {
        "trino"
    }
    fn float32(&self) -> Option<Float32> {
        Some(Float32::Cast("REAL"))
    }
}

pub struct ClickHouse;
impl Dialect for ClickHouse {
    fn float64_type(&self) -> &'static str {
        "Float64"
    }
    fn name(&self) -> &'static str {
        "clickhouse"
    }
    /// ClickHouse reads backslash escapes inside both kinds of quotes.
    fn quote_ident(&self, name: &str, out: &mut String) {
        quote_backslash(name, '"', out);
    }
    fn quote_str(&self, s: &str, out: &mut String) {
        quote_backslash(s, '\'', out);
    }
    fn float32(&self) -> Option<Float32> {
        Some(Float32::Function("toFloat32"))
    }
    /// A model's query exceeds the default 256 KiB `max_query_size` and 50,000 AST
    /// elements; a trailing SETTINGS clause is applied before the rest is parsed.
    /// Merging the steps' expressions into one is most of the planning time of a large
    /// ensemble (the 500-tree GBM on 300 rows: 96 s merged, 27 s not); the 300-tree
    /// forest on 1,000,000 rows took 127 s merged, 114 s not.
    ///
    /// ClickHouse also lets an alias of a SELECT shadow a column of the same name in
    /// that SELECT: `SELECT "f0" AS f1, "f1" AS f0` swapped nothing, and an input
    /// named `s1` read the score aliased `s1`. `prefer_column_name_to_alias` makes
    /// every name mean the column of the FROM, as in standard SQL (the query never
    /// reads an alias of its own SELECT).
    fn statement_suffix(&self) -> &'static str {
        "\nSETTINGS max_query_size = 1073741824, max_ast_elements = 100000000, max_expanded_ast_elements = 100000000, query_plan_merge_expressions = 0, prefer_column_name_to_alias = 1"
    }
    /// `CAST(x AS Float64)` refuses NULL; `toFloat64` keeps Nullable.
    fn float64_function(&self) -> Option<&'static str> {
        Some("toFloat64")
    }
    /// `max_ast_depth` defaults to 1000.
    fn trees_per_step(&self) -> usize {
        25
    }
}

pub struct Oracle;
impl Dialect for Oracle {
    fn float64_type(&self) -> &'static str {
        "BINARY_DOUBLE"
    }
    fn name(&self) -> &'static str {
        "oracle"
    }
    /// `d` makes the literal a BINARY_DOUBLE rather than a decimal NUMBER.
    fn float(&self, x: f64, out: &mut String) {
        float_literal(x, "", "d", out);
    }
    fn float32(&self) -> Option<Float32> {
        Some(Float32::Function("TO_BINARY_FLOAT"))
    }
    fn table_alias_as(&self) -> &'static str {
        " "
    }
}

/// The names `--dialect` accepts.
pub const DIALECT_NAMES: [&str; 13] = [
    "ansi",
    "sqlite",
    "duckdb",
    "postgres",
    "mysql",
    "mariadb",
    "sqlserver",
    "bigquery",
    "snowflake",
    "spark",
    "trino",
    "clickhouse",
    "oracle",
];

/// The dialect called `name` (as in [`DIALECT_NAMES`], plus a few common aliases).
pub fn dialect(name: &str) -> Option<&'static dyn Dialect> {
    static MYSQL: MySql = MySql { name: "mysql" };
    static MARIADB: MySql = MySql { name: "mariadb" };
    Some(match name.to_ascii_lowercase().as_str() {
        "ansi" => &Ansi,
        "sqlite" => &Sqlite,
        "duckdb" => &DuckDb,
        "postgres" | "postgresql" | "redshift" => &Postgres,
        "mysql" => &MYSQL,
        "mariadb" => &MARIADB,
        "sqlserver" | "mssql" | "tsql" => &SqlServer,
        "bigquery" => &BigQuery,
        "snowflake" => &Snowflake,
        "spark" | "databricks" => &Spark,
        "trino" | "presto" | "athena" => &Trino,
        "clickhouse" => &ClickHouse,
        "oracle" => &Oracle,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(d: &dyn Dialect, s: &str) -> String {
        let mut out = String::new();
        d.quote_ident(s, &mut out);
        out
    }

    fn string(d: &dyn Dialect, s: &str) -> String {
        let mut out = String::new();
        d.quote_str(s, &mut out);
        out
    }

    #[test]
    fn every_name_resolves() {
        for name in DIALECT_NAMES {
            assert_eq!(dialect(name).map(|d| d.name()), Some(name));
        }
        assert!(dialect("nosuch").is_none());
    }

    #[test]
    fn quoting_escapes_the_closing_character() {
        assert_eq!(ident(&Ansi, r#"a"b"#), r#""a""b""#);
        assert_eq!(ident(&SqlServer, "a]b"), "[a]]b]");
        assert_eq!(ident(dialect("mysql").unwrap(), "a`b"), "`a``b`");
        assert_eq!(ident(&ClickHouse, r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(string(&Postgres, r"it's \"), r"'it''s \'");
        assert_eq!(string(&Spark, r"it's \"), r"'it\'s \\'");
        assert_eq!(
            string(dialect("mariadb").unwrap(), r"a\b'"),
            r"CONCAT('a', CHAR(92 USING utf8mb4), 'b''')"
        );
        assert_eq!(string(&SqlServer, "é"), "N'é'");
    }

    #[test]
    fn float_literals_round_trip_and_never_form_comments() {
        for x in [0.1, -0.1, 1e300, -5e-324, 123456.789, 0.0, -0.0, 3.0] {
            let mut out = String::new();
            float_literal(x, "", "", &mut out);
            let text = out.trim_start_matches('(').trim_end_matches(')');
            assert_eq!(text.parse::<f64>().unwrap(), if x == 0.0 { 0.0 } else { x });
            assert!(!out.contains("--"));
            assert!(out.contains('e'), "{out} must read as approximate");
        }
    }
}

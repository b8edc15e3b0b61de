//! `ferry explain`: the model as an equation, rules or a summary people can read.

use std::io::Write;

use anyhow::Result;

use crate::cli::ExplainArgs;
use crate::model;

pub fn explain(args: &ExplainArgs) -> Result<()> {
    let model = model::load(&args.model)?;
    let explanation = ferry_explain::explain(&model);
    let text = match args.format.as_str() {
        "json" => serde_json::to_string_pretty(&explanation)? + "\n",
        "markdown" => ferry_explain::markdown(&explanation),
        _ => ferry_explain::text(&explanation),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

//! PMML 4.x (and 3.x) documents as R, SAS, KNIME, Spark and sklearn2pmml write them.
//!
//! The XML is parsed without a DTD, so no entity is ever expanded or fetched, within
//! limits on size, node count and nesting ([`xml`]). The document then becomes IR:
//! fields and transformations are columns ([`fields`], [`expr`]), the model element an
//! estimator ([`models`], [`tree`]). Unknown elements inside `<Extension>` are ignored;
//! an element ferry cannot reproduce exactly is refused naming it and its line.
//!
//! Arithmetic follows JPMML-Evaluator, the reference implementation: float64 throughout,
//! except that a `dataType="float"` field holds float32 values and a constant compared
//! with it (a split threshold) is read as float32 too.

mod compose;
mod expr;
mod fields;
mod glm;
mod models;
mod nb;
mod nn;
mod svm;
mod tree;
mod xml;

use ferry_ir::Model;

use crate::{Format, ImportError, ImportOptions};

pub(crate) const FORMAT: &str = "pmml";

pub(crate) struct Pmml;

impl Format for Pmml {
    fn name(&self) -> &'static str {
        FORMAT
    }

    /// An XML document whose first element is `<PMML`.
    fn sniff(&self, bytes: &[u8]) -> bool {
        let trimmed = crate::trim_start(bytes);
        let head = String::from_utf8_lossy(&trimmed[..trimmed.len().min(4096)]);
        let mut rest = head.as_ref();
        // Skip the XML declaration, comments and processing instructions.
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix("<?") {
                match r.find("?>") {
                    Some(end) => rest = &r[end + 2..],
                    None => return false,
                }
            } else if let Some(r) = rest.strip_prefix("<!--") {
                match r.find("-->") {
                    Some(end) => rest = &r[end + 3..],
                    None => return false,
                }
            } else {
                break;
            }
        }
        // A DOCTYPE is refused by the importer, but the file is still PMML.
        if rest.starts_with("<!DOCTYPE") {
            return rest.contains("<PMML") || rest.len() >= 4000;
        }
        rest.starts_with("<PMML") || rest.contains(":PMML") && rest.starts_with('<')
    }

    fn max_bytes(&self) -> u64 {
        xml::MAX_BYTES as u64
    }

    fn import(&self, bytes: &[u8], _options: &ImportOptions) -> Result<Model, ImportError> {
        let doc = xml::parse(bytes)?;
        models::translate(xml::El(doc.root_element()))
    }
}

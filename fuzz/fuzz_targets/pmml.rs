//! PMML documents: the input is taken as the body of a `<PMML>` element, so the fuzzer
//! spends its time inside the importer rather than on format detection.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut doc = b"<PMML version=\"4.4\">".to_vec();
    doc.extend_from_slice(data);
    doc.extend_from_slice(b"</PMML>");
    let _ = ferry_import::import(&doc, &ferry_import::ImportOptions::default());
});

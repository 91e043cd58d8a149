//! Code generators: the IR's constraints for other targets. `generated_files` is the single
//! list of what air/generated/ holds.

pub mod cuda;
pub mod solidity;

use crate::dump::dump;
use crate::ir::Air;

/// (path under air/generated/, contents) of every generated file.
pub fn generated_files(air: &Air) -> Vec<(String, String)> {
    let mut files = vec![
        ("cairo_air.txt".into(), dump(air)),
        ("cuda/cairo_air.cu".into(), cuda::generate(air)),
    ];
    files.extend(
        solidity::generate(air)
            .into_iter()
            .map(|(name, text)| (format!("solidity/{name}"), text)),
    );
    files
}

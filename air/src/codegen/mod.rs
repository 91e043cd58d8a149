//! Code generators: the IR's constraints for other targets. `generated_files` is the single
//! list of what air/generated/ holds.

pub mod cuda;
pub mod evm;
pub mod relation_uses;

use crate::dump::dump;
use crate::ir::Air;
use crate::CodegenError;

/// (path under air/generated/, contents) of every generated file.
pub fn generated_files(air: &Air) -> Result<Vec<(String, String)>, CodegenError> {
    let mut files = vec![
        ("cairo_air.txt".into(), dump(air)),
        ("cuda/cairo_air.cu".into(), cuda::generate(air)),
    ];
    files.push((
        "evm/RelationUses.sol".into(),
        relation_uses::generate(air, &crate::uses::relation_uses(air)?)?,
    ));
    files.extend(
        evm::generate(air)?
            .into_iter()
            .map(|(name, text)| (format!("evm/{name}"), text)),
    );
    Ok(files)
}

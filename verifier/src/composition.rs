//! The composition check's contracts (`CompositionStatement`, the generated `AirEvaluator` and
//! every component's program as data contracts): their deployment, and the statement's input
//! for a proof.
//!
//! The programs are compiled from starfarm-air's IR (`codegen::evm::compile`, the bytes
//! `air/generated/evm/<name>.hex` commits, which `air-codegen --check` keeps current) and
//! deployed once; the statement holds their addresses from its constructor, so no prover
//! names a program.

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use starfarm_air::codegen::evm;

use crate::contracts::composition::{AirEvaluator, CompositionStatement};

/// Why deploying the composition contracts failed.
#[derive(Debug, thiserror::Error)]
pub enum CompositionDeployError {
    #[error("extracting the AIR: {0}")]
    Air(String),
    #[error("deploying {what}: {source}")]
    Contract {
        what: String,
        #[source]
        source: alloy::contract::Error,
    },
    #[error("deploying {what}: {message}")]
    Transaction { what: String, message: String },
}

/// The deployed composition check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompositionContracts {
    pub evaluator: Address,
    /// Per component (the IR's order), its program's data contracts.
    pub programs: Vec<Vec<Address>>,
    pub statement: Address,
}

/// The init code of a data contract whose runtime code is `runtime` (a STOP byte, then the
/// program's bytes): copy the code after these 10 bytes to memory and return it.
fn data_initcode(runtime: &[u8]) -> Bytes {
    let len = runtime.len() as u16;
    let mut code = vec![
        0x61,
        (len >> 8) as u8,
        len as u8,
        0x80,
        0x60,
        0x0a,
        0x3d,
        0x39,
        0x3d,
        0xf3,
    ];
    code.extend_from_slice(runtime);
    code.into()
}

/// Deploys the evaluator, every component's program and the statement from `provider`'s
/// wallet (~90 M gas of programs: 75 transactions).
pub async fn deploy_composition<P: Provider>(
    provider: &P,
) -> Result<CompositionContracts, CompositionDeployError> {
    let air = starfarm_air::extract().map_err(|e| CompositionDeployError::Air(e.to_string()))?;
    let evaluator = AirEvaluator::deploy_builder(provider)
        .deploy()
        .await
        .map_err(|source| CompositionDeployError::Contract {
            what: "AirEvaluator".into(),
            source,
        })?;
    let mut programs = Vec::with_capacity(air.components.len());
    for c in &air.components {
        let program =
            evm::compile(&air, c).map_err(|e| CompositionDeployError::Air(e.to_string()))?;
        let mut addresses = vec![];
        for chunk in evm::chunks(&program.bytes) {
            let what = format!("the program of {}", c.name);
            let fail = |message: String| CompositionDeployError::Transaction {
                what: what.clone(),
                message,
            };
            let request = TransactionRequest::default().with_deploy_code(data_initcode(&chunk));
            let receipt = provider
                .send_transaction(request)
                .await
                .map_err(|e| fail(e.to_string()))?
                .get_receipt()
                .await
                .map_err(|e| fail(e.to_string()))?;
            if !receipt.status() {
                return Err(fail("reverted".into()));
            }
            addresses.push(
                receipt
                    .contract_address
                    .ok_or_else(|| fail("no contract address".into()))?,
            );
        }
        programs.push(addresses);
    }
    let statement = CompositionStatement::deploy_builder(provider, evaluator, programs.clone())
        .deploy()
        .await
        .map_err(|source| CompositionDeployError::Contract {
            what: "CompositionStatement".into(),
            source,
        })?;
    Ok(CompositionContracts {
        evaluator,
        programs,
        statement,
    })
}

/// The statement's input for `proof` (the calldata encoding) with the draws of its replayed
/// transcript.
pub fn composition_input(
    claim: &Bytes,
    claimed_sums: &Bytes,
    sampled_values: &Bytes,
    columns: &[Bytes; 4],
    draws: CompositionDraws,
) -> CompositionStatement::Input {
    CompositionStatement::Input {
        claim: claim.clone(),
        claimedSums: claimed_sums.clone(),
        sampledValues: sampled_values.clone(),
        columns: columns.clone(),
        lookupZ: draws.lookup_z,
        lookupAlpha: draws.lookup_alpha,
        coeff: draws.coeff,
        oodsX: draws.oods_x,
        oodsY: draws.oods_y,
        liftingLogSize: U256::from(draws.lifting_log_size),
        logBlowup: U256::from(draws.log_blowup),
    }
}

/// The transcript's draws the statement reads (`StwoVerifier.Transcript`'s), and the domain.
#[derive(Clone, Copy, Debug)]
pub struct CompositionDraws {
    pub lookup_z: U256,
    pub lookup_alpha: U256,
    pub coeff: U256,
    pub oods_x: U256,
    pub oods_y: U256,
    pub lifting_log_size: u32,
    pub log_blowup: u32,
}

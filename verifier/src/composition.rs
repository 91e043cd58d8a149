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

/// A range's call: the first range (`from == 0`) carries the whole input (`verify`), a later
/// one the input without its claim, the claim's hash and the claim's fields the parts read
/// (`verifyRange`: the first range bound them on chain), so only the first pays the claim's
/// calldata (a block's program section: ~240 KB).
pub fn range_calldata(
    input: &CompositionStatement::Input,
    from: usize,
    to: usize,
) -> Result<Vec<u8>, CompositionPlanError> {
    use alloy::sol_types::SolCall;
    Ok(if from == 0 {
        CompositionStatement::verifyCall {
            s: input.clone(),
            from: U256::from(from),
            to: U256::from(to),
        }
        .abi_encode()
    } else {
        later_range_call(input, from, to)?.abi_encode()
    })
}

/// `verifyRange(input without its claim, keccak(claim), claim's fields, from, to)`: a range
/// after the first ([`range_calldata`]).
pub fn later_range_call(
    input: &CompositionStatement::Input,
    from: usize,
    to: usize,
) -> Result<CompositionStatement::verifyRangeCall, CompositionPlanError> {
    Ok(CompositionStatement::verifyRangeCall {
        s: CompositionStatement::Input {
            claim: Bytes::new(),
            ..input.clone()
        },
        claimHash: alloy::primitives::keccak256(&input.claim),
        fields: claim_fields(&input.claim)?,
        from: U256::from(from),
        to: U256::from(to),
    })
}

/// The claim's fields the parts read (`CompositionStatement.ClaimView`), from its encoding:
/// the enable flags, the log sizes, the variant and the public segments' starts.
pub fn claim_fields(
    claim: &Bytes,
) -> Result<CompositionStatement::ClaimView, CompositionPlanError> {
    use alloy::sol_types::SolValue;
    let claim = crate::contracts::CairoClaim::Claim::abi_decode(claim)
        .map_err(|e| CompositionPlanError::Claim(e.to_string()))?;
    Ok(CompositionStatement::ClaimView {
        enabled: claim.enabled.clone(),
        logSizes: claim.logSizes.iter().map(|l| U256::from(*l)).collect(),
        variant: U256::from(claim.variant),
        segmentStarts: claim.publicData.segments.map(|s| U256::from(s.start)),
    })
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

/// cairo-air's flat claim: how many components it has (enable bytes).
const N_FLAT: usize = 83;
/// The flat index of memory_id_to_big's first instance, and how many it has.
const MEMORY_ID_TO_BIG: usize = 49;
const MEMORY_ADDRESS_TO_ID_SPLIT: usize = 16;

/// The IR component (`CairoComponents` order) of flat component `i` (memory_id_to_big's
/// instances are one), as `CompositionStatement.irComponent`.
fn ir_component(i: usize) -> usize {
    if i <= MEMORY_ID_TO_BIG {
        i
    } else if i < MEMORY_ID_TO_BIG + MEMORY_ADDRESS_TO_ID_SPLIT {
        MEMORY_ID_TO_BIG
    } else {
        i - MEMORY_ADDRESS_TO_ID_SPLIT + 1
    }
}

/// Why the composition's ranges cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum CompositionPlanError {
    #[error("extracting the AIR: {0}")]
    Air(String),
    #[error("the claim: {0}")]
    Claim(String),
}

/// What one component instance costs in a range transaction, by its IR component: the
/// evaluator's instructions and mask words (`codegen::evm`'s program and layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ComponentCost {
    pub instructions: u64,
    pub mask_words: u64,
}

/// Every IR component's [`ComponentCost`] (extracted and compiled once per process: a second
/// or so).
pub fn component_costs() -> Result<&'static [ComponentCost], CompositionPlanError> {
    static COSTS: std::sync::OnceLock<Result<Vec<ComponentCost>, String>> =
        std::sync::OnceLock::new();
    COSTS
        .get_or_init(|| {
            let air = starfarm_air::extract().map_err(|e| e.to_string())?;
            air.components
                .iter()
                .map(|c| {
                    let program = evm::compile(&air, c).map_err(|e| e.to_string())?;
                    Ok(ComponentCost {
                        instructions: program.n_instructions as u64,
                        mask_words: evm::Layout::of(&air, c).n_mask as u64,
                    })
                })
                .collect()
        })
        .as_deref()
        .map_err(|e| CompositionPlanError::Air(e.clone()))
}

/// The gas of a composition range transaction, as a model: 21,000, the calldata (EIP-7623:
/// the larger of 4 gas a token plus the execution, and 10 a token; a token per zero byte,
/// four per other byte), a fixed execution (decoding the claim, hashing the input, the
/// relations, the committed value, the accumulator's storage), the instances before the range
/// (walked past) and per instance a fixed part
/// (building it: its mask and parameters, the program's data contracts) plus its evaluator
/// instructions and mask words. Its constants are fitted to anvil receipts, and
/// `tests/composition.rs` checks it against receipts of every range it plans: never below a
/// receipt, at most a third above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompositionGasModel {
    pub per_transaction: u64,
    pub per_instance: u64,
    pub per_instruction: u64,
    pub per_mask_word: u64,
    /// Each instance before the range (the cursor walks past it).
    pub per_skipped_instance: u64,
}

/// The model's constants (anvil 1.7.1, receipts of one-instance ranges of the test proofs).
pub const COMPOSITION_GAS_MODEL: CompositionGasModel = CompositionGasModel {
    per_transaction: 600_000,
    per_instance: 80_000,
    per_instruction: 520,
    per_mask_word: 1_500,
    per_skipped_instance: 8_000,
};

/// The model gas the planner fills a composition range transaction to: well under EIP-7825's
/// 2^24 (16.78 M), so a receipt above the model still fits.
pub const DEFAULT_COMPOSITION_RANGE_GAS: u64 = 12_000_000;

impl CompositionGasModel {
    /// The calldata's gas and its EIP-7623 floor (tokens × 4, tokens × 10).
    pub fn calldata_gas(calldata: &[u8]) -> (u64, u64) {
        let zeros = calldata.iter().filter(|b| **b == 0).count() as u64;
        let tokens = zeros + 4 * (calldata.len() as u64 - zeros);
        (4 * tokens, 10 * tokens)
    }

    /// A transaction's gas with `calldata` and `execution` gas of execution.
    pub fn transaction(calldata: &[u8], execution: u64) -> u64 {
        let (standard, floor) = Self::calldata_gas(calldata);
        21_000 + (standard + execution).max(floor)
    }

    /// One instance's execution gas.
    pub fn instance(&self, cost: &ComponentCost) -> u64 {
        self.per_instance
            + self.per_instruction * cost.instructions
            + self.per_mask_word * cost.mask_words
    }
}

/// Each enabled instance's IR component, in flat order (the composition's accumulation
/// order), from the claim's encoding (`Proof.claim`).
pub fn instance_components(claim: &Bytes) -> Result<Vec<usize>, CompositionPlanError> {
    use alloy::sol_types::SolValue;
    let claim = crate::contracts::CairoClaim::Claim::abi_decode(claim)
        .map_err(|e| CompositionPlanError::Claim(e.to_string()))?;
    if claim.enabled.len() != N_FLAT {
        return Err(CompositionPlanError::Claim(format!(
            "{} enable flags, not {N_FLAT}",
            claim.enabled.len()
        )));
    }
    let instances: Vec<usize> = (0..N_FLAT)
        .filter(|i| claim.enabled[*i] == 1)
        .map(ir_component)
        .collect();
    if instances.len() != claim.logSizes.len() {
        return Err(CompositionPlanError::Claim(
            "one log size per enabled component".into(),
        ));
    }
    Ok(instances)
}

/// The composition's ranges of instances ([from, to), in order, covering them all): each
/// range as many instances as fit `budget` gas of `model` with its calldata (`first`: the
/// first range's, the whole input; `later`: the others', [`later_range_call`]'s; each the
/// same for every range but its two words); an instance alone above the budget is a range of
/// its own.
pub fn composition_ranges(
    instances: &[usize],
    costs: &[ComponentCost],
    model: &CompositionGasModel,
    (first, later): (&[u8], &[u8]),
    budget: u64,
) -> Result<Vec<(usize, usize)>, CompositionPlanError> {
    let mut ranges = vec![];
    let mut from = 0;
    let mut execution = model.per_transaction;
    for (k, ir) in instances.iter().enumerate() {
        let cost = costs
            .get(*ir)
            .ok_or_else(|| CompositionPlanError::Claim(format!("no component {ir}")))?;
        let more = model.instance(cost);
        let calldata = if from == 0 { first } else { later };
        if k > from && CompositionGasModel::transaction(calldata, execution + more) > budget {
            ranges.push((from, k));
            from = k;
            execution = model.per_transaction + model.per_skipped_instance * k as u64;
        }
        execution += more;
    }
    if from < instances.len() {
        ranges.push((from, instances.len()));
    }
    Ok(ranges)
}

/// The model's gas of the range [from, to) of `instances`.
pub fn range_gas(
    instances: &[usize],
    costs: &[ComponentCost],
    model: &CompositionGasModel,
    calldata: &[u8],
    (from, to): (usize, usize),
) -> u64 {
    let execution = instances[from..to]
        .iter()
        .filter_map(|ir| costs.get(*ir))
        .map(|c| model.instance(c))
        .sum::<u64>();
    CompositionGasModel::transaction(
        calldata,
        model.per_transaction + model.per_skipped_instance * from as u64 + execution,
    )
}

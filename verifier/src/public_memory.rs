//! A claim's public memory as the contracts sum it (`PublicMemory.sol`): its entries as words
//! (two each: `address << 32 | id`, then the value), in `CairoClaim.publicMemoryWords`' order,
//! and the part of the logup sum a range of them contributes under the lookup elements
//! (z, alpha): what a `PublicMemoryStatement` of that range registers, computed here with
//! stwo's field types so a plan states each range's sum before the chain checks it.

use alloy::primitives::U256;
use stwo::core::fields::m31::M31;
use stwo::core::fields::qm31::SecureField;
use stwo::core::fields::FieldExpOps;

use crate::calldata::EncodeError;
use crate::contracts::CairoClaim;

/// cairo-air's relation ids of the two memory relations.
const MEMORY_ADDRESS_TO_ID_RELATION_ID: u32 = 1444891767;
const MEMORY_ID_TO_BIG_RELATION_ID: u32 = 1662111297;
/// A felt as 28 limbs of 9 bits (cairo-air's FELT252_N_WORDS, FELT252_BITS_PER_WORD).
const FELT_WORDS: usize = 28;
const P: u64 = (1 << 31) - 1;

/// The public memory entries of `claim`, two words each, in the contracts' order: the
/// program section from the initial pc, the safe call cells below the initial ap, each present
/// segment's start (from the initial ap) and stop pointer (below the final ap), the output
/// from the final ap.
pub fn public_memory_words(claim: &CairoClaim::Claim) -> Result<Vec<U256>, EncodeError> {
    let pd = &claim.publicData;
    let [pc, ap, _, _, final_ap, _] = pd.state.map(u64::from);
    let n_seg = (0..11).filter(|i| pd.presentSegments >> i & 1 == 1).count() as u64;
    let head = |addr: u64, id: u32| (U256::from(addr) << 32usize) | U256::from(id);
    let below = |a: u64, b: u64| {
        a.checked_sub(b)
            .ok_or_else(|| EncodeError::Layout("a public memory address below 0".into()))
    };
    let mut words = Vec::new();
    if pd.programIds.len() != pd.program.len() || pd.outputIds.len() != pd.output.len() {
        return Err(EncodeError::Layout(
            "public memory: ids and values differ in length".into(),
        ));
    }
    for (i, (id, value)) in pd.programIds.iter().zip(&pd.program).enumerate() {
        words.extend([head(pc + i as u64, *id), *value]);
    }
    words.extend([
        head(below(ap, 2)?, pd.safeCallIds[0]),
        U256::from(ap),
        head(below(ap, 1)?, pd.safeCallIds[1]),
        U256::ZERO,
    ]);
    let mut k = 0;
    for (i, s) in pd.segments.iter().enumerate() {
        if pd.presentSegments >> i & 1 == 0 {
            continue;
        }
        words.extend([head(ap + k, s.startId), U256::from(s.start)]);
        words.extend([
            head(below(final_ap, n_seg)? + k, s.stopId),
            U256::from(s.stop),
        ]);
        k += 1;
    }
    for (i, (id, value)) in pd.outputIds.iter().zip(&pd.output).enumerate() {
        words.extend([head(final_ap + i as u64, *id), *value]);
    }
    Ok(words)
}

fn m31(v: u64) -> Result<SecureField, EncodeError> {
    if v >= P {
        return Err(EncodeError::Layout(format!(
            "public memory: {v} is not an M31"
        )));
    }
    Ok(SecureField::from(M31::from_u32_unchecked(v as u32)))
}

/// The sum over `words`' entries of 1/combine(address-to-id) + 1/combine(id-to-big) under
/// (z, alpha), combine(v) = sum alpha^i v_i - z (cairo-air's `PublicData::logup_sum` for those
/// entries, without the opcode terms).
pub fn public_memory_sum(
    words: &[U256],
    z: SecureField,
    alpha: SecureField,
) -> Result<SecureField, EncodeError> {
    let mut powers = vec![SecureField::from(M31::from_u32_unchecked(1))];
    for i in 1..FELT_WORDS + 2 {
        powers.push(powers[i - 1] * alpha);
    }
    let mut sum = SecureField::from(M31::from_u32_unchecked(0));
    for entry in words.chunks(2) {
        let (head, value): (U256, U256) = match entry {
            [head, value] => (*head, *value),
            _ => {
                return Err(EncodeError::Layout(
                    "public memory: entries are two words each".into(),
                ))
            }
        };
        let addr = m31((head >> 32usize).saturating_to::<u64>())?;
        let id = m31((head & U256::from(u32::MAX)).to::<u64>())?;
        let addr_to_id =
            m31(MEMORY_ADDRESS_TO_ID_RELATION_ID.into())? + powers[1] * addr + powers[2] * id - z;
        let mut id_to_big = m31(MEMORY_ID_TO_BIG_RELATION_ID.into())? + powers[1] * id - z;
        for (k, power) in powers[2..].iter().enumerate() {
            let limb = (value >> (9 * k)) & U256::from(0x1ffu32);
            id_to_big += *power * m31(limb.to::<u64>())?;
        }
        let zero = SecureField::from(M31::from_u32_unchecked(0));
        if addr_to_id == zero || id_to_big == zero {
            return Err(EncodeError::Layout(
                "public memory: a lookup denominator is zero".into(),
            ));
        }
        sum += addr_to_id.inverse() + id_to_big.inverse();
    }
    Ok(sum)
}

//! Attestations for `AttestedFactRegistry.registerFact` (the TRUSTED registry: it believes
//! registered prover keys). Scheme (the contract's NatSpec): EIP-712 typed data, domain
//! `EIP712Domain(name "StarfarmAttestedFactRegistry", version "1", chainId, verifyingContract
//! = the registry)`, message `FactAttestation(bytes32 fact,uint32 securityBits)`; the
//! signature is `r ‖ s ‖ v` (65 bytes, v = 27 or 28, low s).

use alloy::primitives::{Address, Bytes, B256};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy::sol_types::{eip712_domain, Eip712Domain, SolStruct};

use crate::error::L1Error;

alloy::sol! {
    /// The attested message.
    struct FactAttestation {
        bytes32 fact;
        uint32 securityBits;
    }
}

/// The registry's EIP-712 domain on `chain_id`.
pub fn domain(chain_id: u64, registry: Address) -> Eip712Domain {
    eip712_domain! {
        name: "StarfarmAttestedFactRegistry",
        version: "1",
        chain_id: chain_id,
        verifying_contract: registry,
    }
}

/// The digest a prover key signs (the contract's `attestationDigest(fact, securityBits)`).
pub fn digest(chain_id: u64, registry: Address, fact: B256, security_bits: u32) -> B256 {
    let attestation = FactAttestation {
        fact,
        securityBits: security_bits,
    };
    attestation.eip712_signing_hash(&domain(chain_id, registry))
}

/// Signs `fact` at `security_bits` for the registry at `registry` on `chain_id`.
pub fn sign(
    signer: &PrivateKeySigner,
    chain_id: u64,
    registry: Address,
    fact: B256,
    security_bits: u32,
) -> Result<Bytes, L1Error> {
    let hash = digest(chain_id, registry, fact, security_bits);
    let signature = signer
        .sign_hash_sync(&hash)
        .map_err(|e| L1Error::Signer(e.to_string()))?;
    Ok(Bytes::from(signature.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{address, b256, hex};

    const FACT: B256 = b256!("c12189f765657b2faef73c03ec5a0de99353b2854d0c1d1e38da25bdd563d203");
    const REGISTRY: Address = address!("5FbDB2315678afecb367f032d93F642f64180aa3");

    /// Vector from eth_account 0.13.7 (`encode_typed_data` + `Account.sign_message`, the
    /// repository's cairo-lang venv) with key 0x11…11.
    #[test]
    fn matches_eth_account() {
        let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x11)).unwrap();
        assert_eq!(
            signer.address(),
            address!("19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A")
        );
        assert_eq!(
            digest(31337, REGISTRY, FACT, 96),
            b256!("6352dce08cc95f8d75588a49ff19a53e8ded942d5cc0f2475da581345e08b14c")
        );
        let signature = sign(&signer, 31337, REGISTRY, FACT, 96).unwrap();
        assert_eq!(
            signature.as_ref(),
            hex!("36becbde314644073aba82114be297c7c64a914ad757a8e1de30faa71fb4247310701074de6292c0bd5fd20ea6a8014cd85b63eaaba06218fe7fb4c7311c366b1c")
        );
    }
}

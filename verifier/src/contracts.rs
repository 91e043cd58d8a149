//! Bindings of the contracts, generated from the committed artifacts that
//! `verifier/contracts/build.sh` writes. `#[sol(rpc)]` adds the `deploy` and call builders.

// sol! reads the JSON at compile time; including the bytes makes cargo rebuild when an
// artifact changes.
const _: &[u8] = include_bytes!("../contracts/out/StwoVerifier.json");
const _: &[u8] = include_bytes!("../contracts/out/ChannelProbe.json");
const _: &[u8] = include_bytes!("../contracts/out/StwoVerifierProbe.json");
const _: &[u8] = include_bytes!("../contracts/out/MerkleStatement.json");
const _: &[u8] = include_bytes!("../contracts/out/QuotientStatement.json");
const _: &[u8] = include_bytes!("../contracts/out/FriStatement.json");
const _: &[u8] = include_bytes!("../contracts/out/StwoFactRegistry.json");
const _: &[u8] = include_bytes!("../contracts/out/CairoClaim.json");
const _: &[u8] = include_bytes!("../contracts/out/ClaimLayout.json");
const _: &[u8] = include_bytes!("../contracts/out/FriLayerProbe.json");
const _: &[u8] = include_bytes!("../contracts/out/QuotientProbe.json");
const _: &[u8] = include_bytes!("../contracts/out/PublicMemoryStatement.json");

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    ClaimLayout,
    "contracts/out/ClaimLayout.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq)]
    CairoClaim,
    "contracts/out/CairoClaim.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq)]
    StwoVerifier,
    "contracts/out/StwoVerifier.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    ChannelProbe,
    "contracts/out/ChannelProbe.json"
);

/// `StwoVerifierProbe` (tests only): its own copies of the proof's types, converted from
/// `StwoVerifier`'s through their ABI encoding.
pub mod probe {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        StwoVerifierProbe,
        "contracts/out/StwoVerifierProbe.json"
    );
}

/// The split verification's contracts, each in its own module: each binding has its own
/// copies of the structs it shares (`Opening`, `Layer`, `Proof`), converted through their
/// ABI encoding (`crate::plan`).
pub mod merkle {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        MerkleStatement,
        "contracts/out/MerkleStatement.json"
    );
}

pub mod quotients {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        QuotientStatement,
        "contracts/out/QuotientStatement.json"
    );
}

pub mod fri {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        FriStatement,
        "contracts/out/FriStatement.json"
    );
}

pub mod public_memory {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        PublicMemoryStatement,
        "contracts/out/PublicMemoryStatement.json"
    );
}

pub mod registry {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        StwoFactRegistry,
        "contracts/out/StwoFactRegistry.json"
    );
}

/// `FriLayerProbe` (tests only: each FRI layer's gas), with its own copies of the types.
pub mod fri_probe {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        FriLayerProbe,
        "contracts/out/FriLayerProbe.json"
    );
}

/// `QuotientProbe` (tests only: where a quotient range's gas goes), with its own copies of the
/// types; its `profile` takes `QuotientStatement.verify`'s arguments.
pub mod quotient_probe {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        QuotientProbe,
        "contracts/out/QuotientProbe.json"
    );
}

/// The composition check: `CompositionStatement` and the generated `AirEvaluator`
/// (air/generated/evm/AirEvaluator.sol, compiled by `contracts/build.sh`).
pub mod composition {
    const _: &[u8] = include_bytes!("../contracts/out/CompositionStatement.json");
    const _: &[u8] = include_bytes!("../contracts/out/AirEvaluator.json");

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        CompositionStatement,
        "contracts/out/CompositionStatement.json"
    );

    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        AirEvaluator,
        "contracts/out/AirEvaluator.json"
    );
}

//! Bindings of the contracts, generated from the committed artifacts (`abi`, `bytecode`,
//! `deployedBytecode`) that `l1/contracts/build.sh` writes. `#[sol(rpc)]` adds the
//! `deploy`/call builders used by [`crate::client`].

// sol! reads the JSON at compile time; including the bytes makes cargo rebuild when an
// artifact changes.
const _: &[u8] = include_bytes!("../contracts/out/IFactRegistry.json");
const _: &[u8] = include_bytes!("../contracts/out/AttestedFactRegistry.json");
const _: &[u8] = include_bytes!("../contracts/out/StarfarmCore.json");
const _: &[u8] = include_bytes!("../contracts/out/StarfarmBridge.json");

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    IFactRegistry,
    "contracts/out/IFactRegistry.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    AttestedFactRegistry,
    "contracts/out/AttestedFactRegistry.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    StarfarmCore,
    "contracts/out/StarfarmCore.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    StarfarmBridge,
    "contracts/out/StarfarmBridge.json"
);

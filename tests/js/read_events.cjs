// Reads a starfarm JSON-RPC endpoint with starknet.js, default settings, as a dApp or an
// indexer would: every event of `address` with first key `key` (two a page, following the
// continuation token), and the events of one transaction's receipt. Prints one JSON line.
// Usage: node read_events.cjs <rpc url> <address> <key> <transaction hash>
// STARFARM_STARKNET_JS: the starknet package's folder (scripts/starknet-js.sh prints it).
const { RpcProvider } = require(process.env.STARFARM_STARKNET_JS);

async function main() {
  const [nodeUrl, address, key, txHash] = process.argv.slice(2);
  const provider = new RpcProvider({ nodeUrl });
  const events = [];
  let pages = 0;
  let continuation_token;
  do {
    const page = await provider.getEvents({
      from_block: { block_number: 0 },
      to_block: "latest",
      address,
      keys: [[key]],
      chunk_size: 2,
      continuation_token,
    });
    events.push(...page.events);
    continuation_token = page.continuation_token;
    pages += 1;
  } while (continuation_token);
  const receipt = await provider.getTransactionReceipt(txHash);
  console.log(JSON.stringify({ events, pages, receipt_events: receipt.value.events }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// Follows a starfarm endpoint over WebSocket with starknet.js's WebSocketChannel, as a wallet
// or an indexer would: new heads, and one transaction's status until ACCEPTED_ON_L2. Prints
// "subscribed" once both subscriptions are open and the transaction's current status came,
// then one JSON line with what arrived, and exits; fails after 60 s in all, saying on stderr
// how far it got.
// Usage: node subscribe.cjs <ws url> <transaction hash> <block number to wait for>
// STARFARM_STARKNET_JS: the starknet package's folder (scripts/starknet-js.sh prints it).
// Needs a global WebSocket (node 22, or node 20 with --experimental-websocket).
const { WebSocketChannel } = require(process.env.STARFARM_STARKNET_JS);

let step = "starting";
const log = (what) => {
  step = what;
  console.error(`subscribe.cjs: ${what}`);
};
setTimeout(() => {
  console.error(`subscribe.cjs: timed out after 60 s at: ${step}`);
  process.exit(1);
}, 60000);

async function main() {
  const [nodeUrl, transactionHash, block] = process.argv.slice(2);
  const channel = new WebSocketChannel({ nodeUrl, websocket: WebSocket, autoReconnect: false });
  log("connecting");
  await channel.waitForConnection();
  const heads = [];
  const statuses = [];
  log("subscribing to new heads");
  const newHeads = await channel.subscribeNewHeads();
  log("subscribing to the transaction's status");
  const status = await channel.subscribeTransactionStatus({ transactionHash });
  let sawStatus;
  const firstStatus = new Promise((resolve) => (sawStatus = resolve));
  const done = new Promise((resolve) => {
    const check = () => {
      if (heads.includes(Number(block)) && statuses.includes("ACCEPTED_ON_L2")) {
        resolve();
      }
    };
    newHeads.on((head) => {
      heads.push(head.block_number);
      check();
    });
    status.on((update) => {
      statuses.push(update.status.finality_status);
      sawStatus();
      check();
    });
  });
  log("waiting for the transaction's current status");
  await firstStatus;
  console.log("subscribed");
  log(`waiting for head ${block} and ACCEPTED_ON_L2`);
  await done;
  log("unsubscribing");
  const unsubscribed = [await newHeads.unsubscribe(), await status.unsubscribe()];
  channel.disconnect();
  console.log(JSON.stringify({ heads, statuses, unsubscribed }));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

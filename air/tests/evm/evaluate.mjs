// Deploys the generated AIR evaluator and the programs' data contracts on anvil (ordinary
// transactions: EIP-170's code size limit applies) and runs calls against them, each with a
// gas limit of 2^24 (EIP-7825's cap per transaction).
//
// Usage: node evaluate.mjs <solc package dir> <request.json> <response.json>
// request:  { "anvil": "http://127.0.0.1:PORT", "evaluator": "/abs/AirEvaluator.sol",
//             "programs": { "<name>": ["<chunk hex: runtime code>", ...] },
//             "calls": [{ "method": "accumulate" | "composition",
//                         "parts": [{ "program": "<name>", "mask": ["0x.."], "params": ["0x.."] }],
//                         "relations": ["0x.."], "coeff": "0x..", "acc": "0x.." | "previous",
//                         "pointX": "0x..", "logSize": n }] }
//           ("previous": the result of the call before, so a split evaluation is chained)
// response: { "evaluator": { "bytes", "deployGas" }, "oversizedRejected": bool,
//             "programs": { "<name>": { "bytes": [..], "deployGas": n } },
//             "results": [{ "value": "0x..", "gas": n, "calldataGas": n } | { "error": ".." }] }
//           (gas: the transaction's, as eth_estimateGas; calldataGas: 21,000 + 4 a zero byte and
//           16 a non-zero byte of calldata, what the evaluation itself does not cost)
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const GAS_CAP = 1 << 24;
const [solcDir, requestPath, responsePath] = process.argv.slice(2);
const solc = createRequire(path.join(path.resolve(solcDir), "noop.js"))("solc");
const request = JSON.parse(fs.readFileSync(requestPath, "utf8"));

let id = 0;
async function rpc(method, params) {
  const res = await (await fetch(request.anvil, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }),
  })).json();
  if (res.error) throw new Error(`${method}: ${JSON.stringify(res.error)}`);
  return res.result;
}

const input = {
  language: "Solidity",
  sources: { "AirEvaluator.sol": { content: fs.readFileSync(request.evaluator, "utf8") } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of output.errors ?? []) {
  console.error(e.formattedMessage ?? e.message);
  if (e.severity === "error") process.exit(1);
}
const evaluator = output.contracts["AirEvaluator.sol"].AirEvaluator;
const [from] = await rpc("eth_accounts", []);

/// Sends a contract creation; returns { address, gas } or null when it reverted.
async function deploy(initcode) {
  let hash;
  try {
    hash = await rpc("eth_sendTransaction", [{ from, data: "0x" + initcode, gas: "0x" + GAS_CAP.toString(16) }]);
  } catch (e) {
    console.error(`a deployment is refused: ${e.message.slice(0, 200)}`);
    return null;
  }
  let receipt = null;
  for (let tries = 0; receipt === null && tries < 100; tries++) {
    receipt = await rpc("eth_getTransactionReceipt", [hash]);
    if (receipt === null) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (receipt === null) throw new Error("no receipt in 2 s");
  if (receipt.status !== "0x1") return null;
  return { address: receipt.contractAddress, gas: Number(BigInt(receipt.gasUsed)) };
}

/// Creation code that returns the rest of itself as the runtime code (SSTORE2's).
const dataInitcode = (runtime) =>
  "61" + (runtime.length / 2).toString(16).padStart(4, "0") + "80600a3d393df3" + runtime;

const response = { programs: {}, results: [] };
const deployed = await deploy(evaluator.evm.bytecode.object);
if (!deployed) throw new Error("the evaluator does not deploy");
response.evaluator = { bytes: evaluator.evm.deployedBytecode.object.length / 2, deployGas: deployed.gas };
response.oversizedRejected = (await deploy(dataInitcode("00".repeat(24_577)))) === null;

const addresses = {};
for (const [name, chunks] of Object.entries(request.programs)) {
  addresses[name] = [];
  const info = { bytes: [], deployGas: 0 };
  for (const chunk of chunks) {
    const d = await deploy(dataInitcode(chunk));
    if (!d) throw new Error(`${name}: a data contract of ${chunk.length / 2} bytes does not deploy`);
    if ((await rpc("eth_getCode", [d.address, "latest"])) !== "0x" + chunk) throw new Error(`${name}: code differs`);
    addresses[name].push(d.address);
    info.bytes.push(chunk.length / 2);
    info.deployGas += d.gas;
  }
  response.programs[name] = info;
}

// ABI encoding: a tuple of (static word | dynamic encoding) fields.
const word = (v) => BigInt(v).toString(16).padStart(64, "0");
function tuple(fields) {
  let head = "";
  let tail = "";
  for (const f of fields) {
    if (f.dynamic === undefined) {
      head += f.word;
    } else {
      head += word(32 * fields.length + tail.length / 2);
      tail += f.dynamic;
    }
  }
  return head + tail;
}
const array = (items) => ({ dynamic: word(items.length) + items.map(word).join("") });
const dynamicArray = (items) => ({ dynamic: word(items.length) + tuple(items) });
const selectors = evaluator.evm.methodIdentifiers;

let previous = null;
for (const call of request.calls) {
  const parts = dynamicArray(call.parts.map((p) => ({
    dynamic: tuple([array(addresses[p.program]), array(p.mask), array(p.params)]),
  })));
  const acc = call.acc === "previous" ? previous : call.acc;
  const fields = [parts, array(call.relations), { word: word(call.coeff) }, { word: word(acc ?? 0) }];
  let selector = selectors["accumulate((address[],uint256[],uint256[])[],uint256[],uint256,uint256)"];
  if (call.method === "composition") {
    selector = selectors["composition((address[],uint256[],uint256[])[],uint256[],uint256,uint256,uint256,uint256)"];
    fields.push({ word: word(call.pointX) }, { word: word(call.logSize) });
  }
  const tx = { from, to: deployed.address, data: "0x" + selector + tuple(fields), gas: "0x" + GAS_CAP.toString(16) };
  try {
    const value = "0x" + (await rpc("eth_call", [tx, "latest"])).slice(2).padStart(64, "0");
    const gas = Number(BigInt(await rpc("eth_estimateGas", [tx, "latest"])));
    const bytes = tx.data.slice(2).match(/../g);
    const calldataGas = 21_000 + bytes.reduce((sum, b) => sum + (b === "00" ? 4 : 16), 0);
    response.results.push({ value, gas, calldataGas });
    previous = value;
  } catch (e) {
    response.results.push({ error: e.message });
    previous = null;
  }
}
fs.writeFileSync(responsePath, JSON.stringify(response));

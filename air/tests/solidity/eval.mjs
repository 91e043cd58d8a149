// Compiles the generated Solidity with solc-js (standard JSON, as l1/contracts/compile.mjs) and,
// given an anvil URL, evaluates contracts with eth_call (their runtime code set by a state
// override, so no deployment and no code size limit).
//
// Usage: node eval.mjs <solc package dir> <request.json> <response.json>
// request:  { "sources": ["/abs/Air_x.sol", ...] (imports resolve beside them),
//             "anvil": "http://127.0.0.1:PORT" | null,
//             "calls": [{ "contract": "Air_x", "mask": ["0x..."], "params": ["0x..."] }] }
// response: { "deployedBytes": { "Air_x": n }, "results": [["0x...", ...]] }
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [solcDir, requestPath, responsePath] = process.argv.slice(2);
const solc = createRequire(path.join(path.resolve(solcDir), "noop.js"))("solc");
const request = JSON.parse(fs.readFileSync(requestPath, "utf8"));
const dir = path.dirname(request.sources[0]);
const sources = Object.fromEntries(
  request.sources.map((f) => [path.basename(f), { content: fs.readFileSync(f, "utf8") }]),
);

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 1 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["evm.deployedBytecode.object", "evm.methodIdentifiers"] } },
  },
};
const findImports = (p) => {
  const file = path.join(dir, path.basename(p));
  return fs.existsSync(file) ? { contents: fs.readFileSync(file, "utf8") } : { error: `not found: ${p}` };
};
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
let failed = false;
for (const e of output.errors ?? []) {
  console.error(e.formattedMessage ?? e.message);
  if (e.severity === "error") failed = true;
}
if (failed) process.exit(1);
const contracts = Object.assign({}, ...Object.values(output.contracts));

const word = (hex) => BigInt(hex).toString(16).padStart(64, "0");
const encodeArray = (items) => word(items.length) + items.map(word).join("");
function calldata(selector, mask, params) {
  const first = encodeArray(mask);
  return "0x" + selector + word(64) + word(64 + first.length / 2) + first + encodeArray(params);
}
function decodeArray(hex) {
  const h = hex.slice(2);
  const at = Number(BigInt("0x" + h.slice(0, 64))) * 2;
  const n = Number(BigInt("0x" + h.slice(at, at + 64)));
  return Array.from({ length: n }, (_, i) => "0x" + h.slice(at + 64 + 64 * i, at + 128 + 64 * i));
}

const results = [];
const target = "0x00000000000000000000000000000000000a1a1a";
for (const call of request.calls) {
  const c = contracts[call.contract];
  const selector = c.evm.methodIdentifiers["constraints(uint256[],uint256[])"];
  const body = {
    jsonrpc: "2.0",
    id: 1,
    method: "eth_call",
    params: [
      { to: target, data: calldata(selector, call.mask, call.params), gas: "0x3b9aca00" },
      "latest",
      { [target]: { code: "0x" + c.evm.deployedBytecode.object } },
    ],
  };
  const res = await (await fetch(request.anvil, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  })).json();
  if (res.error) {
    console.error(call.contract, JSON.stringify(res.error));
    process.exit(1);
  }
  results.push(decodeArray(res.result));
}
const deployedBytes = Object.fromEntries(
  Object.entries(contracts).map(([k, v]) => [k, v.evm.deployedBytecode.object.length / 2]),
);
fs.writeFileSync(responsePath, JSON.stringify({ deployedBytes, results }));

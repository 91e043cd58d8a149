// Compiles every .sol file of a folder with solc-js (standard JSON) and writes one artifact per
// contract: <outDir>/<Name>.json with abi, bytecode, deployedBytecode (0x-hex) and the compiler
// settings, keys sorted, 2-space indent, trailing newline (rebuilds are byte-identical).
//
// Usage: node compile.mjs <solc package dir> <source dir> <out dir>
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [solcDir, srcDir, outDir] = process.argv.slice(2);
if (!solcDir || !srcDir || !outDir) {
  console.error("usage: node compile.mjs <solc package dir> <source dir> <out dir>");
  process.exit(2);
}

const solc = createRequire(path.join(path.resolve(solcDir), "noop.js"))("solc");

const OPTIMIZER_RUNS = 200;
const EVM_VERSION = "cancun";

const files = fs.readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort();
if (files.length === 0) {
  console.error(`no .sol files in ${srcDir}`);
  process.exit(1);
}
const sources = {};
for (const f of files) sources[f] = { content: fs.readFileSync(path.join(srcDir, f), "utf8") };
// Generated sources kept elsewhere (STARFARM_EXTRA_SOURCES, ':'-separated paths), compiled
// under their file names so one generated file has one home (the verifier's AIR evaluator).
for (const p of (process.env.STARFARM_EXTRA_SOURCES ?? "").split(":").filter(Boolean)) {
  sources[path.basename(p)] = { content: fs.readFileSync(p, "utf8") };
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
    evmVersion: EVM_VERSION,
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};

// Every import is one of the files above; anything else is an error.
const findImports = (p) => ({ error: `import not found: ${p} (only files of ${srcDir} are available)` });
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

let failed = false;
for (const e of output.errors ?? []) {
  console.error(e.formattedMessage ?? e.message);
  if (e.severity === "error" || e.severity === "warning") failed = true;
}
if (failed) {
  console.error("solc reported errors or warnings: nothing written");
  process.exit(1);
}

const sortKeys = (v) => {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  }
  return v;
};

const version = solc.version();
fs.mkdirSync(outDir, { recursive: true });
const seen = new Set();
for (const file of Object.keys(output.contracts).sort()) {
  for (const name of Object.keys(output.contracts[file]).sort()) {
    if (seen.has(name)) {
      console.error(`two contracts named ${name}: artifact names must be unique`);
      process.exit(1);
    }
    seen.add(name);
    const c = output.contracts[file][name];
    const artifact = {
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      compiler: { evmVersion: EVM_VERSION, optimizerRuns: OPTIMIZER_RUNS, version },
      contractName: name,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      sourceName: file,
    };
    fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(sortKeys(artifact), null, 2) + "\n");
  }
}
console.error(`compiled ${files.length} sources, ${seen.size} contracts with solc ${version}`);

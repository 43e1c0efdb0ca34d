#!/usr/bin/env node
// Compiles the contracts walletless deploys into artifacts/<Name>.json, reproducibly: the
// compiler and OpenZeppelin are pinned by package-lock.json, the settings are fixed below, and
// the metadata hash is left out of the bytecode so the output depends only on the sources.
//
//   node build.js          write artifacts/*.json
//   node build.js --check  compile in memory; exit 1 naming every artifact that differs from the
//                          committed one (or is missing, or is stale)
//
// Runs from any working directory; every path is relative to this file.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = __dirname;
const NODE_MODULES = path.join(ROOT, 'node_modules');
const ARTIFACTS = path.join(ROOT, 'artifacts');

/** The contracts to build, each from src/<Name>.sol. */
const CONTRACTS = ['WalletlessMintable', 'WalletlessPreminted'];

/**
 * Fixed compiler settings. Shanghai because ganache (the local test chain) lacks Cancun opcodes
 * and Shanghai is valid on Base too; bytecodeHash "none" keeps the IPFS hash of the metadata
 * (which changes with comments and file paths) out of the bytecode.
 */
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'shanghai',
  metadata: { bytecodeHash: 'none' },
};

function fail(message) {
  process.stderr.write(`build.js: ${message}\n`);
  process.exit(1);
}

/** Loads solc, first checking node_modules holds exactly the versions package.json pins. */
function loadPinnedSolc() {
  if (!fs.existsSync(NODE_MODULES)) {
    fail(
      'contracts/evm/node_modules is missing: run scripts/test, which installs it ' +
        '(or `npm ci --prefix contracts/evm`)',
    );
  }
  const pins = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).dependencies;
  for (const [name, pinned] of Object.entries(pins)) {
    const manifest = path.join(NODE_MODULES, name, 'package.json');
    const installed = fs.existsSync(manifest)
      ? JSON.parse(fs.readFileSync(manifest, 'utf8')).version
      : 'nothing';
    if (installed !== pinned) {
      fail(
        `package.json pins ${name} ${pinned} but node_modules has ${installed}: ` +
          'run `npm ci --prefix contracts/evm`',
      );
    }
  }
  return require(path.join(NODE_MODULES, 'solc'));
}

/** Resolves an import (e.g. "@openzeppelin/contracts/...") inside node_modules, nowhere else. */
function findImport(unitName) {
  const file = path.resolve(NODE_MODULES, unitName);
  if (!file.startsWith(NODE_MODULES + path.sep)) {
    return { error: `import outside node_modules: ${unitName}` };
  }
  try {
    return { contents: fs.readFileSync(file, 'utf8') };
  } catch (err) {
    return { error: `cannot read ${unitName}: ${err.message}` };
  }
}

function sha256(text) {
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Compiles every contract; returns { fileName: serialized artifact text }. */
function compile(solc) {
  const sources = {};
  for (const name of CONTRACTS) {
    const unit = `src/${name}.sol`;
    sources[unit] = { content: fs.readFileSync(path.join(ROOT, unit), 'utf8') };
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      ...SETTINGS,
      outputSelection: {
        '*': {
          '*': [
            'abi',
            'metadata',
            'evm.bytecode.object',
            'evm.bytecode.linkReferences',
            'evm.deployedBytecode.object',
            'evm.deployedBytecode.immutableReferences',
          ],
        },
      },
    },
  };

  // Source texts as the compiler read them, to hash exactly what was compiled.
  const read = new Map(Object.entries(sources).map(([unit, { content }]) => [unit, content]));
  const importCallback = (unitName) => {
    const found = findImport(unitName);
    if (found.contents !== undefined) read.set(unitName, found.contents);
    return found;
  };

  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: importCallback }));

  // Errors fail the build; so do warnings in our own sources (OpenZeppelin's are only shown).
  const problems = (output.errors || []).filter(
    (e) => e.severity === 'error' || (e.severity === 'warning' && e.sourceLocation?.file?.startsWith('src/')),
  );
  for (const e of output.errors || []) process.stderr.write(`${e.formattedMessage || e.message}\n`);
  if (problems.length > 0) fail(`${problems.length} compiler error(s) or warning(s) in src/`);

  const version = solc.version();
  const artifacts = {};
  for (const name of CONTRACTS) {
    const unit = `src/${name}.sol`;
    const contract = output.contracts?.[unit]?.[name];
    if (!contract) fail(`the compiler produced no ${name} in ${unit}`);
    if (Object.keys(contract.evm.bytecode.linkReferences || {}).length > 0) {
      fail(`${name} needs library linking, which deployment does not do`);
    }
    // The sources this contract was built from, per its metadata, sorted for a stable order.
    const used = Object.keys(JSON.parse(contract.metadata).sources).sort();
    const sourceHash = {};
    for (const unitName of used) {
      if (!read.has(unitName)) fail(`${name} uses ${unitName}, which the compiler never read`);
      sourceHash[unitName] = sha256(read.get(unitName));
    }
    const artifact = {
      contractName: name,
      abi: contract.abi,
      bytecode: `0x${contract.evm.bytecode.object}`,
      deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
      // Where the runtime code holds immutables (zeros here, filled in at deployment): needed
      // to compare deployedBytecode with the code actually on chain.
      immutableReferences: contract.evm.deployedBytecode.immutableReferences || {},
      compiler: { version, settings: SETTINGS },
      sourceHash,
    };
    artifacts[`${name}.json`] = `${JSON.stringify(artifact, null, 2)}\n`;
  }
  return artifacts;
}

function check(artifacts) {
  const problems = [];
  for (const [file, text] of Object.entries(artifacts)) {
    const committed = path.join(ARTIFACTS, file);
    if (!fs.existsSync(committed)) {
      problems.push(`artifacts/${file} is missing`);
    } else if (fs.readFileSync(committed, 'utf8') !== text) {
      problems.push(`artifacts/${file} differs from a fresh compile`);
    }
  }
  const stale = fs.existsSync(ARTIFACTS)
    ? fs.readdirSync(ARTIFACTS).filter((f) => f.endsWith('.json') && !(f in artifacts))
    : [];
  for (const file of stale) problems.push(`artifacts/${file} belongs to no contract in build.js`);
  if (problems.length > 0) {
    fail(
      `${problems.join('; ')}. Run \`node contracts/evm/build.js\` and commit artifacts/ ` +
        '(the artifacts must always match the sources and the pinned compiler).',
    );
  }
}

function main() {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--check');
  if (unknown.length > 0) fail(`unknown argument(s): ${unknown.join(' ')} (only --check)`);
  const checkOnly = args.includes('--check');

  const solc = loadPinnedSolc();
  const started = process.hrtime.bigint();
  const artifacts = compile(solc);
  const millis = Number(process.hrtime.bigint() - started) / 1e6;

  if (checkOnly) {
    check(artifacts);
    process.stderr.write(
      `build.js: ${Object.keys(artifacts).length} artifacts match a fresh compile ` +
        `(solc ${solc.version()}, ${millis.toFixed(0)} ms)\n`,
    );
    return;
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const [file, text] of Object.entries(artifacts)) {
    fs.writeFileSync(path.join(ARTIFACTS, file), text);
  }
  process.stderr.write(
    `build.js: wrote ${Object.keys(artifacts).join(', ')} to artifacts/ ` +
      `(solc ${solc.version()}, ${millis.toFixed(0)} ms)\n`,
  );
}

main();

#!/usr/bin/env node
// The local EVM devnet: ganache 7 (runs on Node 20) as chain id 31337, the id the network
// registry's evm-devnet uses. Deterministic: the accounts come from the well-known test mnemonic
// ("test test ... junk"; account #0 is 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266), each
// prefunded with 10,000 ETH, and every transaction is mined into its own block at once
// (instamine "eager", so a receipt exists when eth_sendRawTransaction returns). Shanghai is
// ganache's newest hardfork: compile contracts for evmVersion "shanghai". Nothing persists.
//
// Usage: node start.js [--host 127.0.0.1] [--port N]   (port 0 or none: a free port)
// Prints one JSON line (url, chainId, accounts) and then a ready line with the URL.
"use strict";

const net = require("node:net");
const ganache = require("ganache");

const CHAIN_ID = 31337;
const TEST_MNEMONIC = "test test test test test test test test test test test junk";
const ACCOUNTS = 10;
const BALANCE_ETH = 10000;

function parseArgs(argv) {
  const args = { host: "127.0.0.1", port: 0 };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === "--host" && value !== undefined) {
      args.host = value;
      i += 1;
    } else if (flag === "--port" && value !== undefined && /^\d+$/.test(value)) {
      args.port = Number(value);
      i += 1;
    } else {
      throw new Error(`unknown or incomplete argument: ${flag} (use --host H --port N)`);
    }
  }
  return args;
}

// ganache's server cannot report the port it got for 0, so ask the OS for a free one first.
function freePort(host) {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function main() {
  const started = process.hrtime.bigint();
  const args = parseArgs(process.argv.slice(2));
  const port = args.port || (await freePort(args.host));
  const server = ganache.server({
    chain: { chainId: CHAIN_ID, networkId: CHAIN_ID, hardfork: "shanghai" },
    wallet: { mnemonic: TEST_MNEMONIC, totalAccounts: ACCOUNTS, defaultBalance: BALANCE_ETH },
    miner: { instamine: "eager", blockTime: 0 },
    logging: { quiet: true },
  });
  await server.listen(port, args.host);
  const accounts = await server.provider.request({ method: "eth_accounts", params: [] });
  const url = `http://${args.host}:${port}`;
  process.stdout.write(`${JSON.stringify({ url, chainId: CHAIN_ID, accounts })}\n`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`evm devnet ready on ${url} (${seconds.toFixed(2)}s)\n`);

  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error) => {
  process.stderr.write(`evm devnet failed to start: ${error.stack || error}\n`);
  process.exit(1);
});

// Independent ARC-76 derivation for tests/arc76_independent.rs.
//
// Reads a JSON array of {email, password, slot} on stdin (email null for the password-only
// variant) and prints a JSON array of {seed, algorand_address, algorand_mnemonic, evm_address}:
// the seed and Algorand account from the `arc76` npm package (which uses algosdk), the EVM
// address from ethers. The derivations run concurrently (WebCrypto PBKDF2 runs on libuv's
// thread pool).
"use strict";

const { generateSeed, generateAlgorandAccount } = require("arc76");
const algosdk = require("algosdk");
const { Wallet } = require("ethers");

async function derive({ email, password, slot }) {
  const seed = await generateSeed(password, email ?? "", slot);
  const account = await generateAlgorandAccount(password, email ?? "", slot);
  const seedHex = Buffer.from(seed).toString("hex");
  return {
    seed: seedHex,
    algorand_address: account.addr.toString(),
    algorand_mnemonic: algosdk.mnemonicFromSeed(seed),
    evm_address: new Wallet("0x" + seedHex).address,
  };
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const requests = JSON.parse(Buffer.concat(chunks).toString("utf-8"));
  const results = await Promise.all(requests.map(derive));
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

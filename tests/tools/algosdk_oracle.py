"""Encoding oracle for tests/algorand_encoding.rs: builds the transactions it describes with
py-algorand-sdk and prints what algosdk makes of them.

Reads one JSON document on stdin:
  {"cases": [case...], "groups": [{"name", "members": [case...]}...],
   "abi": {"selectors": [method signature...], "event_selectors": [event signature...],
           "encodings": [{"type", "value"}...]}}
where a case is {"name", "type", "params", "sender", "signer_seed", "note", "lease",
"rekey_to", ...kind fields}: bytes as hex, addresses as base32 strings, every integer as a
JSON number.

Writes one JSON document on stdout, every byte string as hex:
  {"cases": [{"name", "unsigned", "txid", "signed"}...],
   "groups": [{"name", "group_id", "txids", "signed"}...],
   "abi": {"selectors": [...], "event_selectors": [...], "encodings": [...]}}

Everything goes through algosdk's public constructors (`*Txn`, `SuggestedParams`,
`StateSchema`), `encoding.msgpack_encode`, `get_txid`, `calculate_group_id` /
`assign_group_id` and `AccountTransactionSigner`: nothing here re-implements the encoding.
"""

import base64
import json
import sys

from algosdk import abi, encoding, transaction
from algosdk.atomic_transaction_composer import (
    AccountTransactionSigner,
    sign_transaction_with_signer,
)
from nacl.signing import SigningKey


def hex_bytes(value):
    return bytes.fromhex(value) if value else None


def private_key(seed_hex):
    """algosdk's private key format: base64 of seed || public key."""
    seed = bytes.fromhex(seed_hex)
    public_key = SigningKey(seed).verify_key.encode()
    return base64.b64encode(seed + public_key).decode()


def suggested_params(p):
    return transaction.SuggestedParams(
        fee=p["fee"],
        first=p["first"],
        last=p["last"],
        gh=p["gh"],
        gen=p["gen"],
        flat_fee=p["flat"],
        min_fee=p["min_fee"],
    )


def schema(pair):
    return transaction.StateSchema(num_uints=pair[0], num_byte_slices=pair[1])


def build(case):
    sp = suggested_params(case["params"])
    sender = case["sender"]
    common = {
        "note": hex_bytes(case["note"]),
        "lease": hex_bytes(case["lease"]),
        "rekey_to": case["rekey_to"],
    }
    kind = case["type"]
    if kind == "pay":
        return transaction.PaymentTxn(
            sender,
            sp,
            case["receiver"],
            case["amount"],
            close_remainder_to=case["close_remainder_to"],
            **common,
        )
    if kind == "acfg":
        return transaction.AssetConfigTxn(
            sender,
            sp,
            index=case["asset_id"],
            total=case["total"],
            decimals=case["decimals"],
            default_frozen=case["default_frozen"],
            unit_name=case["unit_name"],
            asset_name=case["asset_name"],
            url=case["url"],
            metadata_hash=hex_bytes(case["metadata_hash"]),
            manager=case["manager"],
            reserve=case["reserve"],
            freeze=case["freeze"],
            clawback=case["clawback"],
            strict_empty_address_check=False,
            **common,
        )
    if kind == "optin":
        return transaction.AssetOptInTxn(sender, sp, case["asset_id"], **common)
    if kind == "axfer":
        return transaction.AssetTransferTxn(
            sender,
            sp,
            case["receiver"],
            case["amount"],
            case["asset_id"],
            close_assets_to=case["close_to"],
            revocation_target=case["revocation_target"],
            **common,
        )
    if kind == "afrz":
        return transaction.AssetFreezeTxn(
            sender, sp, case["asset_id"], case["target"], case["frozen"], **common
        )
    if kind == "appl":
        return transaction.ApplicationCallTxn(
            sender,
            sp,
            case["app_id"],
            transaction.OnComplete(case["on_complete"]),
            local_schema=schema(case["local_schema"]),
            global_schema=schema(case["global_schema"]),
            approval_program=hex_bytes(case["approval_program"]),
            clear_program=hex_bytes(case["clear_program"]),
            app_args=[bytes.fromhex(a) for a in case["args"]],
            accounts=case["accounts"],
            foreign_apps=case["foreign_apps"],
            foreign_assets=case["foreign_assets"],
            extra_pages=case["extra_pages"],
            boxes=[(app_id, bytes.fromhex(name)) for app_id, name in case["boxes"]],
            **common,
        )
    raise ValueError(f"unknown transaction type {kind!r}")


def raw_msgpack(obj):
    return base64.b64decode(encoding.msgpack_encode(obj))


def sign(txn, seed_hex):
    return sign_transaction_with_signer(txn, AccountTransactionSigner(private_key(seed_hex)))


def run_case(case):
    txn = build(case)
    return {
        "name": case["name"],
        "unsigned": raw_msgpack(txn).hex(),
        "txid": txn.get_txid(),
        "signed": raw_msgpack(sign(txn, case["signer_seed"])).hex(),
    }


def run_group(group):
    txns = [build(member) for member in group["members"]]
    group_id = transaction.calculate_group_id(txns)
    transaction.assign_group_id(txns)
    signed = b"".join(
        raw_msgpack(sign(txn, member["signer_seed"]))
        for txn, member in zip(txns, group["members"])
    )
    return {
        "name": group["name"],
        "group_id": group_id.hex(),
        "txids": [txn.get_txid() for txn in txns],
        "signed": signed.hex(),
    }


def abi_value(ty, value):
    if ty.startswith("uint"):
        return int(value)
    if ty.startswith("byte["):
        return bytes.fromhex(value)
    return value  # bool, address (base32 string)


def run_abi(request):
    return {
        "selectors": [
            abi.Method.from_signature(signature).get_selector().hex()
            for signature in request["selectors"]
        ],
        # ARC-28 events have no return type, which Method refuses: same hash, taken directly.
        "event_selectors": [
            encoding.checksum(signature.encode())[:4].hex()
            for signature in request["event_selectors"]
        ],
        "encodings": [
            abi.ABIType.from_string(e["type"]).encode(abi_value(e["type"], e["value"])).hex()
            for e in request["encodings"]
        ],
    }


def main():
    request = json.load(sys.stdin)
    json.dump(
        {
            "cases": [run_case(case) for case in request["cases"]],
            "groups": [run_group(group) for group in request["groups"]],
            "abi": run_abi(request["abi"]),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()

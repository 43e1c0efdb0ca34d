"""Tests of the algod devnet through py-algorand-sdk's algod client, as a real client sees it.

Run: .venv/bin/python -m unittest discover -s devnets/algod -v
(starts its own server on a free loopback port and stops it afterwards).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

from algosdk import abi, account, encoding, logic, mnemonic, transaction
from algosdk.atomic_transaction_composer import AccountTransactionSigner
from algosdk.error import AlgodHTTPError
from algosdk.v2client import algod, models

HERE = os.path.dirname(os.path.abspath(__file__))
GENESIS_HASH_B64 = "mwEI4/JRLTYf2QF6nAeKYOONUsVE6TxX69g5qbnfd0A="
# `#pragma version 10; int 1`: the trivial clear-state program.
ALWAYS_APPROVE = bytes.fromhex("0a8101")

COUNTER_APP = """#pragma version 10
txn ApplicationID
bz create
txn OnCompletion
int OptIn
==
bnz opt_in
txn OnCompletion
int UpdateApplication
==
bnz allow
txn OnCompletion
int DeleteApplication
==
bnz allow
txna ApplicationArgs 0
byte "fail"
==
bnz fail
byte "counter"
byte "counter"
app_global_get
int 1
+
app_global_put
byte "hello"
log
byte "box"
int 16
box_create
pop
itxn_begin
int pay
itxn_field TypeEnum
txn Sender
itxn_field Receiver
int 1000
itxn_field Amount
int 0
itxn_field Fee
itxn_submit
int 1
return
opt_in:
txn Sender
byte "visits"
int 7
app_local_put
int 1
return
create:
byte "counter"
int 0
app_global_put
allow:
int 1
return
fail:
err
"""

# The same app after an update: every call logs "v2".
UPDATED_APP = """#pragma version 10
byte "v2"
log
int 1
"""

# ARC-4 methods over one box: write(byte[3]) stores its argument in box "data" and counts the
# writes in global "total"; read()byte[3] returns the box; any other call fails.
BOX_APP = """#pragma version 10
txn ApplicationID
bz create
txna ApplicationArgs 0
method "write(byte[3])void"
==
bnz write
txna ApplicationArgs 0
method "read()byte[3]"
==
bnz read
err
create:
byte "total"
int 0
app_global_put
int 1
return
write:
byte "data"
txna ApplicationArgs 1
box_put
byte "total"
byte "total"
app_global_get
int 1
+
app_global_put
int 1
return
read:
byte 0x151f7c75
byte "data"
box_get
assert
concat
log
int 1
return
"""
# The prefix of the log carrying an ABI method's return value.
RETURN_PREFIX = bytes.fromhex("151f7c75")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sign(txn: transaction.Transaction, private_key: str):
    return AccountTransactionSigner(private_key).sign_transactions([txn], [0])[0]


def raw(signed) -> bytes:
    return base64.b64decode(encoding.msgpack_encode(signed))


class DevnetTest(unittest.TestCase):
    server: subprocess.Popen
    url: str
    client: algod.AlgodClient
    dispenser_address: str
    dispenser_sk: str

    @classmethod
    def setUpClass(cls):
        started = time.monotonic()
        cls.server = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "server.py"), "--host", "127.0.0.1", "--port", "0",
             "--wait-seconds", "1"],
            stdout=subprocess.PIPE,
            text=True,
        )
        info = json.loads(cls.server.stdout.readline())
        ready = cls.server.stdout.readline()
        if "ready" not in ready:
            cls.server.kill()
            raise RuntimeError(f"devnet did not start: {ready!r}")
        cls.startup_seconds = time.monotonic() - started
        cls.url = info["url"]
        cls.dispenser_address = info["dispenser"]["address"]
        cls.dispenser_sk = mnemonic.to_private_key(info["dispenser"]["mnemonic"])
        cls.client = algod.AlgodClient("", cls.url)

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait(timeout=10)
        cls.server.stdout.close()

    # -- helpers -------------------------------------------------------------------------------

    def http(self, method: str, path: str, body: bytes | None = None,
             content_type: str = "application/json") -> tuple[int, dict | None]:
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                data = response.read()
                return response.status, json.loads(data) if data else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def fund(self, address: str, amount: int) -> dict:
        status, answer = self.http("POST", "/dev/fund",
                                   json.dumps({"address": address, "amount": amount}).encode())
        self.assertEqual(status, 200, answer)
        return answer

    def new_account(self, amount: int = 10_000_000) -> tuple[str, str]:
        private_key, address = account.generate_account()
        self.fund(address, amount)
        return private_key, address

    def params(self) -> transaction.SuggestedParams:
        return self.client.suggested_params()

    def send(self, *signed) -> str:
        return self.client.send_raw_transaction(base64.b64encode(b"".join(raw(s) for s in signed)))

    def assert_rejected(self, body: bytes, *fragments: str) -> str:
        with self.assertRaises(AlgodHTTPError) as caught:
            self.client.send_raw_transaction(base64.b64encode(body))
        self.assertEqual(caught.exception.code, 400)
        message = str(caught.exception)
        for fragment in fragments:
            self.assertIn(fragment, message)
        return message

    def compile(self, teal: str) -> bytes:
        return base64.b64decode(self.client.compile(teal)["result"])

    # -- node ----------------------------------------------------------------------------------

    def test_health_versions_and_params(self):
        self.assertEqual(self.http("GET", "/health"), (200, None))
        versions = self.client.versions()
        self.assertEqual(versions["genesis_id"], "algojig")
        self.assertEqual(versions["genesis_hash_b64"], GENESIS_HASH_B64)

        params = self.client.suggested_params()
        self.assertEqual((params.fee, params.min_fee), (0, 1000))
        self.assertEqual((params.gen, params.gh), ("algojig", GENESIS_HASH_B64))
        # The window the SDK derives must contain algojig's evaluation round 2.
        self.assertLessEqual(params.first, 2)
        self.assertGreaterEqual(params.last, 2)
        self.assertEqual(params.consensus_version, "future")

    def test_status_rounds_increase_with_each_block(self):
        before = self.client.status()["last-round"]
        _, address = account.generate_account()
        answer = self.fund(address, 150_000)
        after = self.client.status()
        self.assertEqual(after["last-round"], before + 1)
        self.assertEqual(answer["confirmed-round"], after["last-round"])
        info = self.client.pending_transaction_info(answer["txId"])
        self.assertEqual(info["confirmed-round"], after["last-round"])
        self.assertEqual(info["pool-error"], "")
        self.assertEqual(info["txn"]["txn"]["type"], "pay")
        self.assertEqual(info["txn"]["txn"]["rcv"], address)
        self.assertEqual(info["txn"]["txn"]["snd"], self.dispenser_address)
        # The params window stays fixed while the round counter moves on.
        self.assertEqual(self.params().first, 1)

    def test_wait_for_block_after(self):
        current = self.client.status()["last-round"]
        # A past round answers at once; the current one waits (at most --wait-seconds).
        self.assertGreaterEqual(self.client.status_after_block(current - 1)["last-round"], current)
        started = time.monotonic()
        self.assertGreaterEqual(self.client.status_after_block(current)["last-round"], current)
        self.assertLess(time.monotonic() - started, 5)

    def test_unknown_routes_and_pending(self):
        status, answer = self.http("GET", "/v2/nothing")
        self.assertEqual((status, answer), (404, {"message": "Not Found"}))
        status, answer = self.http("GET", "/v2/transactions/pending/NOTATXID")
        self.assertEqual((status, answer), (404, {"message": "txn does not exist"}))
        status, answer = self.http("GET", "/v2/accounts/not-an-address")
        self.assertEqual(status, 400)
        self.assertIn("failed to parse the address", answer["message"])

    # -- accounts ------------------------------------------------------------------------------

    def test_fund_and_account_info(self):
        _, address = account.generate_account()
        info = self.client.account_info(address)
        self.assertEqual((info["amount"], info["min-balance"]), (0, 0))
        self.fund(address, 2_500_000)
        info = self.client.account_info(address)
        self.assertEqual(info["address"], address)
        self.assertEqual(info["amount"], 2_500_000)
        self.assertEqual(info["min-balance"], 100_000)
        self.assertEqual(info["status"], "Offline")
        self.assertEqual(info["round"], self.client.status()["last-round"])
        self.assertEqual(info["assets"], [])

        for body in (b"{}", b'{"address": "nope", "amount": 1}', b"not json",
                     json.dumps({"address": address, "amount": 0}).encode()):
            status, answer = self.http("POST", "/dev/fund", body)
            self.assertEqual(status, 400, body)
            self.assertTrue(answer["message"])
        # Below the receiver's minimum balance: the evaluator's own rejection.
        _, empty = account.generate_account()
        status, answer = self.http("POST", "/dev/fund",
                                   json.dumps({"address": empty, "amount": 1000}).encode())
        self.assertEqual(status, 400)
        self.assertIn("balance 1000 below min 100000", answer["message"])

    # -- assets --------------------------------------------------------------------------------

    def test_asset_create_read_transfer_and_resubmit(self):
        creator_sk, creator = account.generate_account()
        params = self.params()
        # One group: the dispenser funds the creator, who creates the asset with those funds.
        pay = transaction.PaymentTxn(self.dispenser_address, params, creator, 1_000_000)
        metadata_hash = bytes(range(32))
        acfg = transaction.AssetCreateTxn(
            creator, params, total=1_000_000, decimals=2, default_frozen=False, unit_name="WLT",
            asset_name="Walletless Token", manager=creator, reserve=creator, freeze=creator,
            clawback=creator, url="https://example.org/token.json#arc3",
            metadata_hash=metadata_hash,
        )
        transaction.assign_group_id([pay, acfg])
        signed_pay, signed_acfg = sign(pay, self.dispenser_sk), sign(acfg, creator_sk)
        group_bytes = raw(signed_pay) + raw(signed_acfg)
        started = time.monotonic()
        txid = self.client.send_raw_transaction(base64.b64encode(group_bytes))
        latency = time.monotonic() - started
        self.assertEqual(txid, signed_pay.get_txid())
        self.assertLess(latency, 5)

        pending = self.client.pending_transaction_info(signed_acfg.get_txid())
        asset_id = pending["asset-index"]
        self.assertGreater(asset_id, 1000)
        self.assertEqual(pending["confirmed-round"], self.client.status()["last-round"])
        self.assertEqual(pending["txn"]["txn"]["apar"]["an"], "Walletless Token")
        self.assertEqual(pending["txn"]["txn"]["apar"]["m"], creator)

        asset = self.client.asset_info(asset_id)
        self.assertEqual(asset["index"], asset_id)
        expected = {
            "creator": creator, "total": 1_000_000, "decimals": 2, "default-frozen": False,
            "unit-name": "WLT", "name": "Walletless Token",
            "url": "https://example.org/token.json#arc3",
            "metadata-hash": base64.b64encode(metadata_hash).decode(),
            "manager": creator, "reserve": creator, "freeze": creator, "clawback": creator,
            "unit-name-b64": base64.b64encode(b"WLT").decode(),
        }
        for key, value in expected.items():
            self.assertEqual(asset["params"][key], value, key)

        info = self.client.account_info(creator)
        self.assertEqual(info["assets"], [{"amount": 1_000_000, "asset-id": asset_id, "is-frozen": False}])
        self.assertEqual(info["created-assets"][0]["index"], asset_id)
        self.assertEqual(info["min-balance"], 200_000)

        # The same signed bytes again: algod's "already in ledger", which callers treat as done.
        message = self.assert_rejected(group_bytes, "transaction already in ledger")
        self.assertIn("TransactionPool.Remember", message)
        self.assert_rejected(raw(signed_acfg), "transaction already in ledger", signed_acfg.get_txid())

        # Later blocks keep the asset's parameters: opt in, transfer, then reconfigure as manager.
        holder_sk, holder = self.new_account(1_000_000)
        self.send(sign(transaction.AssetOptInTxn(holder, self.params(), asset_id), holder_sk))
        self.send(sign(transaction.AssetTransferTxn(creator, self.params(), holder, 2_500, asset_id),
                       creator_sk))
        self.assertEqual(self.client.account_asset_info(holder, asset_id)["asset-holding"]["amount"], 2_500)
        self.assertEqual(self.client.account_info(creator)["assets"][0]["amount"], 997_500)
        self.send(sign(transaction.AssetConfigTxn(creator, self.params(), index=asset_id, manager=holder,
                                                  reserve=creator, freeze=creator, clawback=creator),
                       creator_sk))
        self.assertEqual(self.client.asset_info(asset_id)["params"]["manager"], holder)
        # Freezing changes only the holder's account, which is not among the freeze's parties.
        self.send(sign(transaction.AssetFreezeTxn(creator, self.params(), asset_id, holder, True), creator_sk))
        self.assertTrue(self.client.account_asset_info(holder, asset_id)["asset-holding"]["is-frozen"])
        # The old manager may no longer reconfigure.
        stale = sign(transaction.AssetConfigTxn(creator, self.params(), index=asset_id, manager=creator,
                                                reserve=creator, freeze=creator, clawback=creator),
                     creator_sk)
        self.assert_rejected(raw(stale), "this transaction should be issued by the manager")

        status, answer = self.http("GET", "/v2/assets/999999")
        self.assertEqual((status, answer), (404, {"message": "asset does not exist"}))

    # -- rejections ----------------------------------------------------------------------------

    def test_rejected_transactions(self):
        sender_sk, sender = self.new_account(1_000_000)
        _, receiver = account.generate_account()

        overspend = sign(transaction.PaymentTxn(sender, self.params(), receiver, 5_000_000), sender_sk)
        message = self.assert_rejected(raw(overspend), "overspend", overspend.get_txid())
        self.assertTrue(message.startswith("TransactionPool.Remember: transaction "), message)
        status, _ = self.http("GET", f"/v2/transactions/pending/{overspend.get_txid()}")
        self.assertEqual(status, 404)

        wrong_signer_sk, _ = account.generate_account()
        self.assert_rejected(
            raw(sign(transaction.PaymentTxn(sender, self.params(), receiver, 200_000), wrong_signer_sk)),
            "should have been authorized by",
        )
        low_fee = self.params()
        low_fee.flat_fee, low_fee.fee = True, 10
        self.assert_rejected(raw(sign(transaction.PaymentTxn(sender, low_fee, receiver, 200_000), sender_sk)),
                             "less than the minimum")
        outside = self.params()
        outside.first, outside.last = 10, 20
        self.assert_rejected(raw(sign(transaction.PaymentTxn(sender, outside, receiver, 200_000), sender_sk)),
                             "txn dead: round 2 outside of 10--20")

        # Two transactions without a group id are not a group.
        first = sign(transaction.PaymentTxn(sender, self.params(), receiver, 200_000), sender_sk)
        second = sign(transaction.PaymentTxn(sender, self.params(), receiver, 300_000), sender_sk)
        self.assert_rejected(raw(first) + raw(second), "had zero Group but was submitted in a group of 2")

        status, answer = self.http("POST", "/v2/transactions", b"\x81\xa3abc\x01", "application/x-binary")
        self.assertEqual(status, 400)
        self.assertIn("msgpack decode error", answer["message"])
        status, answer = self.http("POST", "/v2/transactions", b"", "application/x-binary")
        self.assertEqual(status, 400)
        # Nothing rejected touched the sender's balance.
        self.assertEqual(self.client.account_info(sender)["amount"], 1_000_000)

    def test_lease_is_held_once_confirmed(self):
        sender_sk, sender = self.new_account(2_000_000)
        _, receiver = account.generate_account()
        lease = b"L" * 32
        first = sign(transaction.PaymentTxn(sender, self.params(), receiver, 200_000, lease=lease), sender_sk)
        self.send(first)
        second = sign(transaction.PaymentTxn(sender, self.params(), receiver, 300_000, lease=lease), sender_sk)
        self.assert_rejected(raw(second), "using an overlapping lease")

    # -- groups --------------------------------------------------------------------------------

    def test_group_of_two_payments(self):
        sender_sk, sender = self.new_account(5_000_000)
        first_receiver_sk, first_receiver = account.generate_account()
        _, second_receiver = account.generate_account()
        params = self.params()
        pay_one = transaction.PaymentTxn(sender, params, first_receiver, 1_000_000)
        pay_two = transaction.PaymentTxn(sender, params, second_receiver, 2_000_000)
        transaction.assign_group_id([pay_one, pay_two])
        signed = [sign(pay_one, sender_sk), sign(pay_two, sender_sk)]
        txid = self.client.send_transactions(signed)
        self.assertEqual(txid, signed[0].get_txid())
        rounds = {self.client.pending_transaction_info(s.get_txid())["confirmed-round"] for s in signed}
        self.assertEqual(len(rounds), 1)
        self.assertEqual(self.client.account_info(first_receiver)["amount"], 1_000_000)
        self.assertEqual(self.client.account_info(second_receiver)["amount"], 2_000_000)
        self.assertEqual(self.client.account_info(sender)["amount"], 5_000_000 - 3_000_000 - 2_000)

        # A member missing: the evaluator sees the incomplete group and nothing moves.
        pay_three = transaction.PaymentTxn(sender, params, first_receiver, 100_000)
        pay_four = transaction.PaymentTxn(sender, params, second_receiver, 100_000)
        transaction.assign_group_id([pay_three, pay_four])
        self.assert_rejected(raw(sign(pay_three, sender_sk)), "incomplete group")
        self.assertEqual(self.client.account_info(first_receiver)["amount"], 1_000_000)

        # Closing an account empties it (go-algorand deletes it); the remainder goes to close-to.
        close = transaction.PaymentTxn(first_receiver, self.params(), sender, 0, close_remainder_to=sender)
        self.send(sign(close, first_receiver_sk))
        closed = self.client.account_info(first_receiver)
        self.assertEqual((closed["amount"], closed["min-balance"]), (0, 0))
        self.assertEqual(self.client.account_info(sender)["amount"], 5_000_000 - 3_000_000 - 2_000 + 999_000)

    # -- applications --------------------------------------------------------------------------

    def test_application_lifecycle(self):
        self.assertEqual(self.compile("#pragma version 10\nint 1\n"), ALWAYS_APPROVE)
        approval = self.compile(COUNTER_APP)
        creator_sk, creator = self.new_account(10_000_000)

        create = transaction.ApplicationCreateTxn(
            creator, self.params(), transaction.OnComplete.NoOpOC, approval, ALWAYS_APPROVE,
            global_schema=transaction.StateSchema(num_uints=1, num_byte_slices=0),
            local_schema=transaction.StateSchema(num_uints=1, num_byte_slices=0),
        )
        signed_create = sign(create, creator_sk)
        self.send(signed_create)
        created = self.client.pending_transaction_info(signed_create.get_txid())
        app_id = created["application-index"]
        self.assertGreater(app_id, 1000)
        self.assertEqual(created["global-state-delta"],
                         [{"key": base64.b64encode(b"counter").decode(), "value": {"action": 2, "uint": 0}}])

        app = self.client.application_info(app_id)
        self.assertEqual(app["id"], app_id)
        self.assertEqual(app["params"]["creator"], creator)
        self.assertEqual(base64.b64decode(app["params"]["approval-program"]), approval)
        self.assertEqual(base64.b64decode(app["params"]["clear-state-program"]), ALWAYS_APPROVE)
        self.assertEqual(app["params"]["global-state-schema"], {"num-byte-slice": 0, "num-uint": 1})
        # 100,000 base + 100,000 per app + 25,000 + 3,500 per global uint (local: once opted in).
        self.assertEqual(self.client.account_info(creator)["min-balance"], 228_500)

        # The first call comes in a group with the payment that funds the app's account (its box
        # and inner payments); the second alone, so nothing but the app itself changes that
        # account: its new state must still show (algojig does not report it by itself).
        app_address = logic.get_application_address(app_id)
        for expected_counter in (1, 2):
            call_params = self.params()
            call_params.flat_fee, call_params.fee = True, 2_000
            call = transaction.ApplicationNoOpTxn(creator, call_params, app_id, app_args=[b"go"],
                                                  boxes=[(0, b"box")], note=f"call {expected_counter}".encode())
            signed_call = sign(call, creator_sk)
            if expected_counter == 1:
                fund_app = transaction.PaymentTxn(creator, self.params(), app_address, 300_000)
                transaction.assign_group_id([fund_app, call])
                signed_call = sign(call, creator_sk)
                self.send(sign(fund_app, creator_sk), signed_call)
            else:
                self.send(signed_call)
            info = self.client.pending_transaction_info(signed_call.get_txid())
            self.assertEqual(info["logs"], [base64.b64encode(b"hello").decode()])
            self.assertEqual(len(info["inner-txns"]), 1)
            inner = info["inner-txns"][0]["txn"]["txn"]
            self.assertEqual((inner["type"], inner["snd"], inner["rcv"], inner["amt"]),
                             ("pay", app_address, creator, 1000))
            state = {base64.b64decode(kv["key"]): kv["value"] for kv in
                     self.client.application_info(app_id)["params"]["global-state"]}
            self.assertEqual(state[b"counter"], {"bytes": "", "type": 2, "uint": expected_counter})
            self.assertEqual(self.client.account_info(app_address)["amount"], 300_000 - 1000 * expected_counter)

        box = self.client.application_box_by_name(app_id, b"box")
        self.assertEqual(base64.b64decode(box["value"]), bytes(16))
        self.assertEqual(self.client.application_boxes(app_id)["boxes"],
                         [{"name": base64.b64encode(b"box").decode()}])
        app_account = self.client.account_info(app_address)
        self.assertEqual((app_account["total-boxes"], app_account["total-box-bytes"]), (1, 19))
        self.assertEqual(app_account["min-balance"], 100_000 + 2_500 + 400 * 19)
        status, answer = self.http("GET", f"/v2/applications/{app_id}/box?name=str:missing")
        self.assertEqual((status, answer), (404, {"message": "box not found"}))

        # Opt in: local state, kept across blocks.
        opt_in = sign(transaction.ApplicationOptInTxn(creator, self.params(), app_id), creator_sk)
        self.send(opt_in)
        local = self.client.account_application_info(creator, app_id)["app-local-state"]
        self.assertEqual(local["key-value"], [{"key": base64.b64encode(b"visits").decode(),
                                               "value": {"bytes": "", "type": 2, "uint": 7}}])
        creator_info = self.client.account_info(creator)
        self.assertEqual(creator_info["apps-local-state"][0]["id"], app_id)
        self.assertEqual(creator_info["min-balance"], 228_500 + 100_000 + 28_500)

        # A failing call: the evaluator's logic error, and no state change.
        failing = sign(transaction.ApplicationNoOpTxn(creator, self.params(), app_id, app_args=[b"fail"]),
                       creator_sk)
        self.assert_rejected(raw(failing), "logic eval error", "err opcode executed")

        # Update the program: later calls run the new one.
        update = sign(transaction.ApplicationUpdateTxn(creator, self.params(), app_id,
                                                       self.compile(UPDATED_APP), ALWAYS_APPROVE),
                      creator_sk)
        self.send(update)
        call = sign(transaction.ApplicationNoOpTxn(creator, self.params(), app_id, note=b"after update"),
                    creator_sk)
        self.send(call)
        self.assertEqual(self.client.pending_transaction_info(call.get_txid())["logs"],
                         [base64.b64encode(b"v2").decode()])

    def test_application_delete_releases_minimum_balance(self):
        creator_sk, creator = self.new_account(5_000_000)
        approval = self.compile(COUNTER_APP)
        create = sign(transaction.ApplicationCreateTxn(
            creator, self.params(), transaction.OnComplete.NoOpOC, approval, ALWAYS_APPROVE,
            global_schema=transaction.StateSchema(num_uints=1, num_byte_slices=0),
            local_schema=transaction.StateSchema(num_uints=0, num_byte_slices=0),
        ), creator_sk)
        self.send(create)
        app_id = self.client.pending_transaction_info(create.get_txid())["application-index"]
        # Another block in between, so the schema totals must survive a round trip.
        self.fund(creator, 1_000_000)
        info = self.client.account_info(creator)
        self.assertEqual(info["apps-total-schema"], {"num-byte-slice": 0, "num-uint": 1})
        self.assertEqual(info["min-balance"], 100_000 + 100_000 + 28_500)
        self.send(sign(transaction.ApplicationDeleteTxn(creator, self.params(), app_id), creator_sk))
        info = self.client.account_info(creator)
        self.assertEqual((info["min-balance"], info["created-apps"]), (100_000, []))
        status, answer = self.http("GET", f"/v2/applications/{app_id}")
        self.assertEqual((status, answer), (404, {"message": "application does not exist"}))


    # -- simulate ------------------------------------------------------------------------------

    def deploy_box_app(self) -> tuple[str, str, int]:
        """A funded creator and the BOX_APP it created, its box "data" written with "abc"."""
        creator_sk, creator = self.new_account(10_000_000)
        create = sign(transaction.ApplicationCreateTxn(
            creator, self.params(), transaction.OnComplete.NoOpOC, self.compile(BOX_APP), ALWAYS_APPROVE,
            global_schema=transaction.StateSchema(num_uints=1, num_byte_slices=0),
            local_schema=transaction.StateSchema(num_uints=0, num_byte_slices=0),
        ), creator_sk)
        self.send(create)
        app_id = self.client.pending_transaction_info(create.get_txid())["application-index"]
        self.send(sign(transaction.PaymentTxn(creator, self.params(), logic.get_application_address(app_id),
                                              200_000), creator_sk))
        self.send(sign(self.box_app_call(creator, app_id, "write(byte[3])void", b"abc"), creator_sk))
        return creator_sk, creator, app_id

    def box_app_call(self, sender: str, app_id: int, method: str, *args: bytes,
                     note: bytes = b"") -> transaction.ApplicationNoOpTxn:
        return transaction.ApplicationNoOpTxn(sender, self.params(), app_id,
                                              app_args=[abi.Method.from_signature(method).get_selector(), *args],
                                              boxes=[(0, b"data")], note=note)

    def simulate(self, *txns, allow_empty_signatures: bool = True) -> dict:
        """algosdk's simulate (msgpack body, JSON answer); unsigned transactions go as they are."""
        stxns = [t if not isinstance(t, transaction.Transaction) else transaction.SignedTransaction(t, None)
                 for t in txns]
        request = models.SimulateRequest(txn_groups=[models.SimulateRequestTransactionGroup(txns=stxns)],
                                         allow_empty_signatures=allow_empty_signatures)
        return self.client.simulate_transactions(request)

    def snapshot(self, app_id: int, *addresses: str) -> dict:
        """Everything a simulation must leave as it was."""
        return {
            "round": self.client.status()["last-round"],
            "amounts": [self.client.account_info(a)["amount"] for a in addresses],
            "app account": self.client.account_info(logic.get_application_address(app_id)),
            "box": self.client.application_box_by_name(app_id, b"data")["value"],
            "global": self.client.application_info(app_id)["params"]["global-state"],
        }

    def test_simulate_read_only_abi_call_returns_its_log_and_commits_nothing(self):
        creator_sk, creator, app_id = self.deploy_box_app()
        before = self.snapshot(app_id, creator)

        answer = self.simulate(self.box_app_call(creator, app_id, "read()byte[3]"))
        self.assertEqual((answer["version"], answer["last-round"]), (2, before["round"]))
        self.assertEqual(answer["eval-overrides"], {"allow-empty-signatures": True})
        [group] = answer["txn-groups"]
        self.assertNotIn("failure-message", group)
        [result] = group["txn-results"]
        self.assertEqual(result["txn-result"]["logs"], [b64(RETURN_PREFIX + b"abc")])
        # The transaction shown is the one sent: unsigned, no signer named.
        self.assertEqual(set(result["txn-result"]["txn"]), {"txn"})
        self.assertNotIn("confirmed-round", result["txn-result"])

        # A state-changing call simulated: its effects show in the answer only.
        write = self.box_app_call(creator, app_id, "write(byte[3])void", b"xyz")
        written = self.simulate(write)["txn-groups"][0]
        self.assertNotIn("failure-message", written)
        self.assertEqual(written["txn-results"][0]["txn-result"]["global-state-delta"],
                         [{"key": b64(b"total"), "value": {"action": 2, "uint": 2}}])
        self.assertEqual(self.snapshot(app_id, creator), before)
        status, _ = self.http("GET", f"/v2/transactions/pending/{write.get_txid()}")
        self.assertEqual(status, 404)
        # Neither its id nor the creatable counter was taken: the same write, and a creation,
        # commit afterwards as if nothing had been simulated.
        creation = transaction.ApplicationCreateTxn(
            creator, self.params(), transaction.OnComplete.NoOpOC, ALWAYS_APPROVE, ALWAYS_APPROVE,
            global_schema=None, local_schema=None)
        simulated_id = self.simulate(creation)["txn-groups"][0]["txn-results"][0]["txn-result"]["application-index"]
        signed_creation = sign(creation, creator_sk)
        self.send(signed_creation)
        self.assertEqual(self.client.pending_transaction_info(signed_creation.get_txid())["application-index"],
                         simulated_id)
        self.send(sign(write, creator_sk))
        self.assertEqual(base64.b64decode(self.client.application_box_by_name(app_id, b"data")["value"]), b"xyz")

        # The same request as JSON (the answer's own transaction sent back) gives the same log.
        read = self.box_app_call(creator, app_id, "read()byte[3]", note=b"json")
        as_json = self.simulate(read)["txn-groups"][0]["txn-results"][0]["txn-result"]["txn"]
        status, answer = self.http("POST", "/v2/transactions/simulate", json.dumps(
            {"txn-groups": [{"txns": [as_json]}], "allow-empty-signatures": True}).encode())
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["txn-groups"][0]["txn-results"][0]["txn-result"]["logs"],
                         [b64(RETURN_PREFIX + b"xyz")])

    def test_simulate_reports_a_failing_group_and_commits_nothing(self):
        creator_sk, creator, app_id = self.deploy_box_app()
        _, receiver = account.generate_account()
        before = self.snapshot(app_id, creator)

        # A signed payment, then a call that fails: a 200 naming the failure and where it is.
        pay = transaction.PaymentTxn(creator, self.params(), receiver, 500_000)
        fail = self.box_app_call(creator, app_id, "fail()void")
        transaction.assign_group_id([pay, fail])
        answer = self.simulate(sign(pay, creator_sk), fail)
        [group] = answer["txn-groups"]
        self.assertIn("logic eval error", group["failure-message"])
        self.assertIn("err opcode executed", group["failure-message"])
        self.assertIn(fail.get_txid(), group["failure-message"])
        self.assertEqual(group["failed-at"], [1])
        self.assertEqual(len(group["txn-results"]), 2)
        self.assertNotIn("logs", group["txn-results"][1]["txn-result"])
        self.assertEqual(self.snapshot(app_id, creator), before)
        self.assertEqual(self.client.account_info(receiver)["amount"], 0)

        # Without allow-empty-signatures an unsigned transaction fails as on algod.
        unsigned = self.simulate(self.box_app_call(creator, app_id, "read()byte[3]"), allow_empty_signatures=False)
        self.assertNotIn("eval-overrides", unsigned)
        self.assertIn("signedtxn has no sig", unsigned["txn-groups"][0]["failure-message"])
        self.assertEqual(unsigned["txn-groups"][0]["failed-at"], [0])
        # Signed transactions need no override; one already confirmed fails as a duplicate.
        confirmed = sign(self.box_app_call(creator, app_id, "read()byte[3]", note=b"once"), creator_sk)
        self.assertNotIn("failure-message", self.simulate(confirmed, allow_empty_signatures=False)["txn-groups"][0])
        self.send(confirmed)
        duplicate = self.simulate(confirmed, allow_empty_signatures=False)["txn-groups"][0]
        self.assertEqual(duplicate["failure-message"], f"transaction already in ledger: {confirmed.get_txid()}")
        self.assertEqual(duplicate["failed-at"], [0])

    def test_simulate_signers_of_unsigned_transactions(self):
        creator_sk, creator, app_id = self.deploy_box_app()
        # The sender's signed transactions beside its unsigned ones still count (and are checked).
        pay = transaction.PaymentTxn(creator, self.params(), creator, 0, note=b"beside")
        read = self.box_app_call(creator, app_id, "read()byte[3]")
        transaction.assign_group_id([pay, read])
        group = self.simulate(sign(pay, creator_sk), read)["txn-groups"][0]
        self.assertNotIn("failure-message", group)
        self.assertEqual(group["txn-results"][1]["txn-result"]["logs"], [b64(RETURN_PREFIX + b"abc")])
        forged = sign(pay, account.generate_account()[0])
        forged.authorizing_address = None
        status, answer = self.http("POST", "/v2/transactions/simulate", base64.b64decode(encoding.msgpack_encode(
            {"txn-groups": [{"txns": [forged.dictify(), transaction.SignedTransaction(read, None).dictify()]}],
             "allow-empty-signatures": True})), "application/msgpack")
        self.assertEqual((status, answer), (400, {"message": "At least one signature didn't pass verification"}))

        # An account rekeyed elsewhere: its unsigned transaction was not signed by its auth address.
        holder_sk, holder = self.new_account(1_000_000)
        _, new_key = account.generate_account()
        self.send(sign(transaction.PaymentTxn(holder, self.params(), holder, 0, rekey_to=new_key), holder_sk))
        rekeyed = self.simulate(transaction.PaymentTxn(holder, self.params(), creator, 1_000))["txn-groups"][0]
        self.assertIn(f"should have been authorized by {new_key} but was actually authorized by {holder}",
                      rekeyed["failure-message"])
        self.assertEqual(rekeyed["failed-at"], [0])
        # An unfunded sender pays no fee: the overspend names it, with no auth address of its own.
        _, unfunded = account.generate_account()
        overspend = self.simulate(transaction.PaymentTxn(unfunded, self.params(), creator, 0))["txn-groups"][0]
        self.assertIn(f"overspend (account {unfunded}", overspend["failure-message"])
        self.assertIn(f"AuthAddr:{encoding.encode_address(bytes(32))}", overspend["failure-message"])

    def test_simulate_refuses_malformed_requests(self):
        _, sender = self.new_account(1_000_000)
        unsigned = transaction.SignedTransaction(transaction.PaymentTxn(sender, self.params(), sender, 0), None)
        one_group = [{"txns": [unsigned.dictify()]}]

        def post(request: dict) -> tuple[int, dict]:
            return self.http("POST", "/v2/transactions/simulate",
                             base64.b64decode(encoding.msgpack_encode(request)), "application/msgpack")

        self.assertEqual(post({"txn-groups": one_group})[0], 200)
        for request, message in (
            ({"txn-groups": one_group * 2}, "expected 1 transaction group, got 2"),
            ({"txn-groups": [{"txns": []}], "allow-empty-signatures": True}, "empty txgroup"),
            ({"txn-groups": [{"txns": [unsigned.dictify()] * 17}]}, "exceeds protocol max 16"),
            ({"txn-groups": one_group, "round": 3}, "'round'"),
            ({"txn-groups": one_group, "extra-opcode-budget": 700}, "'extra-opcode-budget'"),
            ({"txn-groups": one_group, "exec-trace-config": {"enable": True}}, "'exec-trace-config'"),
            ({"txn-groups": one_group, "surprise": 1}, "unknown simulate request field"),
            ({"txn-groups": [{"txns": [{"sig": bytes(64)}]}]}, "not a signed transaction"),
        ):
            status, answer = post(request)
            self.assertEqual(status, 400, request)
            self.assertIn(message, answer["message"])
        # Two transactions without a group id are not a group, as on submission.
        second = transaction.SignedTransaction(transaction.PaymentTxn(sender, self.params(), sender, 1), None)
        status, answer = post({"txn-groups": [{"txns": [unsigned.dictify(), second.dictify()]}]})
        self.assertEqual(status, 400)
        self.assertIn("had zero Group", answer["message"])
        for body in (b"", b"\xc1", b"[1, 2]", b'{"txn-groups": [{"txns": [{"txn": {"snd": "nope"}}]}]}'):
            status, answer = self.http("POST", "/v2/transactions/simulate", body)
            self.assertEqual(status, 400, body)
            self.assertTrue(answer["message"])
        self.assertEqual(self.http("GET", "/v2/transactions/simulate")[0], 405)

if __name__ == "__main__":
    unittest.main()

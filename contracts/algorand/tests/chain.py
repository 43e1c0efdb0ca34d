"""Helpers shared by the contract unit tests (algorand-python-testing emulates the AVM in Python).

pytest.ini puts contracts/ on sys.path: tests import the contracts as `algorand.*`, the module
names puyapy gives them.
"""

import hashlib
import typing
from collections.abc import Callable

from algopy import Account, UInt64, arc4
from algopy_testing import AlgopyTestContext

# ARC-200 event selectors, as listed in docs (first 4 bytes of SHA-512/256 of the signature).
TRANSFER_SELECTOR = bytes.fromhex("7983c35c")
APPROVAL_SELECTOR = bytes.fromhex("1969f865")
ABI_RETURN_PREFIX = bytes.fromhex("151f7c75")

# Box minimum balance (µAlgo): 2,500 per box plus 400 per byte of name and value.
BOX_FLAT = 2_500
BOX_PER_BYTE = 400

T = typing.TypeVar("T")

Bytes32 = arc4.StaticArray[arc4.Byte, typing.Literal[32]]
Bytes8 = arc4.StaticArray[arc4.Byte, typing.Literal[8]]


def padded32(text: bytes) -> Bytes32:
    return Bytes32.from_bytes(text.ljust(32, b"\0"))


def padded8(text: bytes) -> Bytes8:
    return Bytes8.from_bytes(text.ljust(8, b"\0"))


def address(account: Account) -> arc4.Address:
    return arc4.Address(account)


def u256(value: int) -> arc4.UInt256:
    return arc4.UInt256(value)


def num(value: arc4.UInt8 | arc4.UInt64 | arc4.UInt256) -> int:
    """An ARC-4 unsigned integer as a Python int (big-endian bytes)."""
    return int.from_bytes(bytes(value.bytes.value), "big")


def u8(value: int) -> arc4.UInt8:
    return arc4.UInt8(value)


def selector(signature: str) -> bytes:
    return hashlib.new("sha512_256", signature.encode()).digest()[:4]


def box_cost(name_len: int, value_len: int) -> int:
    return BOX_FLAT + BOX_PER_BYTE * (name_len + value_len)


class Chain:
    """A thin driver over the test context: calls as a given sender and reads the logs."""

    def __init__(self, ctx: AlgopyTestContext) -> None:
        self.ctx = ctx

    def account(self) -> Account:
        return self.ctx.any.account()

    def call(self, sender: Account, method: Callable[..., T], *args: object) -> T:
        """Run one ABI method in its own transaction sent by `sender`."""
        with self.ctx.txn.create_group(active_txn_overrides={"sender": sender}):
            return method(*args)

    def logs(self) -> list[bytes]:
        return [bytes(log) for log in self.ctx.txn.last_active._logs]

    def events(self, event_selector: bytes) -> list[bytes]:
        """Payloads of the last transaction's ARC-28 events with this selector."""
        return [log[4:] for log in self.logs() if log[:4] == event_selector]

    def transfers(self) -> list[tuple[bytes, bytes, int]]:
        return [_address_pair_amount(payload) for payload in self.events(TRANSFER_SELECTOR)]

    def approvals(self) -> list[tuple[bytes, bytes, int]]:
        return [_address_pair_amount(payload) for payload in self.events(APPROVAL_SELECTOR)]

    def set_time(self, unix_seconds: int) -> None:
        self.ctx.ledger.patch_global_fields(latest_timestamp=UInt64(unix_seconds))

    def fund_and_bootstrap(self, contract: typing.Any, amount: int = 1_000_000) -> None:
        """Deployment's second step: [payment to the app account, bootstrap(payment)]."""
        app = self.ctx.ledger.get_app(contract)
        payment = self.ctx.any.txn.payment(
            sender=self.ctx.default_sender, receiver=app.address, amount=UInt64(amount)
        )
        contract.bootstrap(payment)

    def box(self, contract: typing.Any, key: bytes) -> bytes | None:
        if not self.ctx.ledger.box_exists(contract, key):
            return None
        return self.ctx.ledger.get_box(contract, key)


def _address_pair_amount(payload: bytes) -> tuple[bytes, bytes, int]:
    assert len(payload) == 96, payload.hex()
    return payload[:32], payload[32:64], int.from_bytes(payload[64:], "big")


def raw(account: Account) -> bytes:
    return bytes(account.bytes.value)


def balance_key(account: Account) -> bytes:
    """README.md: "b" + address."""
    return b"b" + raw(account)


def allowance_key(owner: Account, spender: Account) -> bytes:
    """README.md: "a" + sha256(owner || spender) (the pair alone would exceed 64 bytes)."""
    return b"a" + hashlib.sha256(raw(owner) + raw(spender)).digest()


ZERO = bytes(32)

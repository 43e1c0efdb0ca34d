"""The ARC-200 core shared by this project's token contracts.

Balances and allowances live in boxes, so the app account pays their minimum balance: see
README.md for the funding a deployer must provide per holder. A box is deleted when its value
drops to zero, which returns its minimum balance to the app account's free funds.

Subclasses decide who may move tokens by overriding `_check_holder_transfer`, which runs before
every transfer a holder (or an approved spender) starts (issuer actions bypass it on purpose),
and what bootstrap does by overriding `_on_bootstrap`. This class is not compiled on its own:
puyapy only builds the contracts of the files it is given (arc200.py, security_token.py).
"""

import typing

from algopy import (
    ARC4Contract,
    BigUInt,
    BoxMap,
    Bytes,
    Global,
    GlobalState,
    Txn,
    UInt64,
    arc4,
    gtxn,
    op,
    subroutine,
)

Bytes32: typing.TypeAlias = arc4.StaticArray[arc4.Byte, typing.Literal[32]]
Bytes8: typing.TypeAlias = arc4.StaticArray[arc4.Byte, typing.Literal[8]]


class arc200_Transfer(arc4.Struct):
    """ARC-28 event `arc200_Transfer(address,address,uint256)`, selector 7983c35c."""

    sender: arc4.Address
    receiver: arc4.Address
    value: arc4.UInt256


class arc200_Approval(arc4.Struct):
    """ARC-28 event `arc200_Approval(address,address,uint256)`, selector 1969f865."""

    owner: arc4.Address
    spender: arc4.Address
    value: arc4.UInt256


class Arc200Base(ARC4Contract):
    """ARC-200 methods, storage and the balance and allowance bookkeeping."""

    def __init__(self) -> None:
        self.token_name = GlobalState(Bytes32, key="name")
        self.token_symbol = GlobalState(Bytes8, key="symbol")
        self.token_decimals = GlobalState(UInt64, key="decimals")
        self.total_supply = GlobalState(arc4.UInt256, key="total_supply")
        self.supply_cap = GlobalState(arc4.UInt256, key="cap")
        # Set by bootstrap once the app account holds its own minimum balance: box writes
        # before that would fail the transaction anyway, this makes the failure explicit.
        self.initialised = GlobalState(bool, key="initialised")
        # Key: prefix "b" + 32-byte address (33 bytes); value: uint256 (32 bytes).
        self.balances = BoxMap(arc4.Address, arc4.UInt256, key_prefix=b"b")
        # Key: prefix "a" + sha256(owner || spender) (33 bytes): owner and spender side by side
        # would be 65 bytes, over the 64-byte box name limit. Value: uint256 (32 bytes).
        self.allowances = BoxMap(Bytes, arc4.UInt256, key_prefix=b"a")

    # ---- ARC-200 -------------------------------------------------------------------------

    @arc4.abimethod(readonly=True)
    def arc200_name(self) -> Bytes32:
        """The token name, zero-padded to 32 bytes."""
        return self.token_name.value

    @arc4.abimethod(readonly=True)
    def arc200_symbol(self) -> Bytes8:
        """The token symbol, zero-padded to 8 bytes."""
        return self.token_symbol.value

    @arc4.abimethod(readonly=True)
    def arc200_decimals(self) -> arc4.UInt8:
        """The number of decimals of the token's base unit."""
        return arc4.UInt8(self.token_decimals.value)

    @arc4.abimethod(readonly=True)
    def arc200_totalSupply(self) -> arc4.UInt256:
        """Tokens in existence: minted or issued, less redeemed."""
        return self.total_supply.value

    @arc4.abimethod(readonly=True)
    def arc200_balanceOf(self, owner: arc4.Address) -> arc4.UInt256:
        """The balance of `owner`; zero for an account that never held the token."""
        return arc4.UInt256(self._balance(owner))

    @arc4.abimethod
    def arc200_transfer(self, to: arc4.Address, value: arc4.UInt256) -> bool:
        """Move `value` from the sender to `to`. Box refs: b+sender, b+to."""
        sender = arc4.Address(Txn.sender)
        self._check_holder_transfer(sender, to)
        self._move(sender, to, value.as_biguint())
        return True

    @arc4.abimethod
    def arc200_transferFrom(
        self, from_: arc4.Address, to: arc4.Address, value: arc4.UInt256
    ) -> bool:
        """Move `value` from `from_` to `to` within the sender's allowance.

        Box refs: b+from, b+to, a+sha256(from||sender).
        """
        spender = arc4.Address(Txn.sender)
        self._check_holder_transfer(from_, to)
        amount = value.as_biguint()
        allowed = self._allowance(from_, spender)
        # ARC-200: transferFrom errors unless the sender is an approved spender (a zero
        # allowance is no approval), even for a zero amount.
        assert allowed != 0, "not an approved spender"
        assert allowed >= amount, "allowance exceeded"
        remaining = allowed - amount
        self._set_allowance(from_, spender, remaining)
        # ARC-200: transferFrom emits Approval with the allowance left after the spend.
        arc4.emit(arc200_Approval(from_, spender, arc4.UInt256(remaining)))
        self._move(from_, to, amount)
        return True

    @arc4.abimethod
    def arc200_approve(self, spender: arc4.Address, value: arc4.UInt256) -> bool:
        """Set the sender's allowance for `spender` (zero revokes).

        Box ref: a+sha256(sender||spender).
        """
        self._require_initialised()
        owner = arc4.Address(Txn.sender)
        self._set_allowance(owner, spender, value.as_biguint())
        arc4.emit(arc200_Approval(owner, spender, value))
        return True

    @arc4.abimethod(readonly=True)
    def arc200_allowance(self, owner: arc4.Address, spender: arc4.Address) -> arc4.UInt256:
        """What `spender` may still move out of `owner`'s balance."""
        return arc4.UInt256(self._allowance(owner, spender))

    # ---- deployment ----------------------------------------------------------------------

    @arc4.abimethod
    def bootstrap(self, funding: gtxn.PaymentTransaction) -> None:
        """Second step of deployment, after the app account has been funded by `funding`
        (the payment just before this call in the same group). Creator only, once."""
        assert Txn.sender == Global.creator_address, "only the creator can bootstrap"
        assert not self.initialised.value, "already bootstrapped"
        assert funding.receiver == Global.current_application_address, "fund the app account"
        self.initialised.value = True
        self._on_bootstrap()

    @arc4.abimethod(readonly=True)
    def cap(self) -> arc4.UInt256:
        """The supply cap (zero on a preminted ARC-200 token: no minting)."""
        return self.supply_cap.value

    # ---- hooks ---------------------------------------------------------------------------

    @subroutine
    def _check_holder_transfer(self, from_: arc4.Address, to: arc4.Address) -> None:
        """Fail unless a holder-initiated transfer from `from_` to `to` is allowed now. By
        default (the open ARC-200 token) any holder may transfer once bootstrapped."""
        self._require_initialised()

    @subroutine
    def _on_bootstrap(self) -> None:
        """Work done once the app account is funded (the ARC-200 token mints its initial
        supply here); nothing by default."""

    # ---- bookkeeping ---------------------------------------------------------------------

    @subroutine
    def _initialise_metadata(
        self, name: Bytes32, symbol: Bytes8, decimals: arc4.UInt8, cap: arc4.UInt256
    ) -> None:
        self.token_name.value = name.copy()
        self.token_symbol.value = symbol.copy()
        self.token_decimals.value = decimals.as_uint64()
        self.total_supply.value = arc4.UInt256(0)
        self.supply_cap.value = cap
        self.initialised.value = False

    @subroutine
    def _require_initialised(self) -> None:
        assert self.initialised.value, "not bootstrapped"

    @subroutine
    def _balance(self, owner: arc4.Address) -> BigUInt:
        return self.balances.get(owner, default=arc4.UInt256(0)).as_biguint()

    @subroutine
    def _set_balance(self, owner: arc4.Address, amount: BigUInt) -> None:
        if amount == 0:
            if owner in self.balances:
                del self.balances[owner]
        else:
            self.balances[owner] = arc4.UInt256(amount)

    @subroutine
    def _allowance(self, owner: arc4.Address, spender: arc4.Address) -> BigUInt:
        return self.allowances.get(
            _allowance_key(owner, spender), default=arc4.UInt256(0)
        ).as_biguint()

    @subroutine
    def _set_allowance(self, owner: arc4.Address, spender: arc4.Address, amount: BigUInt) -> None:
        key = _allowance_key(owner, spender)
        if amount == 0:
            if key in self.allowances:
                del self.allowances[key]
        else:
            self.allowances[key] = arc4.UInt256(amount)

    @subroutine
    def _move(self, from_: arc4.Address, to: arc4.Address, amount: BigUInt) -> None:
        """Debit then credit (in that order, so a self-transfer leaves the balance unchanged)."""
        self._require_initialised()
        available = self._balance(from_)
        assert available >= amount, "insufficient balance"
        self._set_balance(from_, available - amount)
        self._set_balance(to, self._balance(to) + amount)
        arc4.emit(arc200_Transfer(from_, to, arc4.UInt256(amount)))

    @subroutine
    def _mint(self, to: arc4.Address, amount: BigUInt) -> None:
        """Create tokens, logged as a Transfer from the zero address. Callers enforce the cap
        (its meaning differs: zero means "no minting" on the ARC-200 token)."""
        self._require_initialised()
        self.total_supply.value = arc4.UInt256(self.total_supply.value.as_biguint() + amount)
        self._set_balance(to, self._balance(to) + amount)
        arc4.emit(arc200_Transfer(arc4.Address(), to, arc4.UInt256(amount)))

    @subroutine
    def _burn(self, from_: arc4.Address, amount: BigUInt) -> None:
        """Destroy tokens, logged as a Transfer to the zero address."""
        self._require_initialised()
        available = self._balance(from_)
        assert available >= amount, "insufficient balance"
        self._set_balance(from_, available - amount)
        self.total_supply.value = arc4.UInt256(self.total_supply.value.as_biguint() - amount)
        arc4.emit(arc200_Transfer(from_, arc4.Address(), arc4.UInt256(amount)))


@subroutine
def _allowance_key(owner: arc4.Address, spender: arc4.Address) -> Bytes:
    return op.sha256(owner.bytes + spender.bytes)

"""The project's security token: ARC-200 plus the issuer controls regulated securities need.

Algorand has no accepted security-token standard; this follows what the ARC-1400 drafts and
ERC-3643 show issuers expect: a controller who issues and redeems with reason codes, forces
transfers, keeps a whitelist, freezes accounts and pauses the token, and an optional lock-up.

Holder transfers (`arc200_transfer`, `arc200_transferFrom`) obey every rule; the controller's
actions (`issue`, `redeem`, `controller_transfer`) ignore pause, freeze and lock-up, but still
only deliver tokens to whitelisted accounts when the token is whitelist-only.

Deployment: `create` (alone), then the group [payment to the app account, `bootstrap`]. The app
cannot be updated or deleted.
"""

from algopy import BoxMap, Global, GlobalState, Txn, UInt64, arc4, subroutine

from .arc200_base import Arc200Base, Bytes8, Bytes32


class HolderStatus(arc4.Struct):
    """Per-account compliance flags (one box, 1 byte: ARC-4 packs the two bools)."""

    whitelisted: arc4.Bool
    frozen: arc4.Bool


class Issued(arc4.Struct):
    """ARC-28 event: `amount` issued to `to` for reason code `reason`."""

    to: arc4.Address
    amount: arc4.UInt256
    reason: arc4.UInt64


class Redeemed(arc4.Struct):
    """ARC-28 event: `amount` redeemed from `holder` for reason code `reason`."""

    holder: arc4.Address
    amount: arc4.UInt256
    reason: arc4.UInt64


class ControllerTransfer(arc4.Struct):
    """ARC-28 event: `controller` forced `amount` from `sender` to `receiver` for `reason`."""

    controller: arc4.Address
    sender: arc4.Address
    receiver: arc4.Address
    amount: arc4.UInt256
    reason: arc4.UInt64


class WhitelistUpdated(arc4.Struct):
    """ARC-28 event: `account` was added to (true) or removed from (false) the whitelist."""

    account: arc4.Address
    whitelisted: arc4.Bool


class FreezeUpdated(arc4.Struct):
    """ARC-28 event: `account` was frozen (true) or unfrozen (false)."""

    account: arc4.Address
    frozen: arc4.Bool


class PauseUpdated(arc4.Struct):
    """ARC-28 event: `controller` paused (true) or resumed (false) holder transfers."""

    controller: arc4.Address
    paused: arc4.Bool


class ControllerChanged(arc4.Struct):
    """ARC-28 event: the controller role moved from `previous` to `current`."""

    previous: arc4.Address
    current: arc4.Address


class SecurityToken(Arc200Base):
    """ARC-200 security token with controller, whitelist, freeze, pause, cap and lock-up."""

    def __init__(self) -> None:
        super().__init__()
        self.controller_account = GlobalState(arc4.Address, key="controller")
        self.whitelist_only = GlobalState(bool, key="whitelist_only")
        self.transfers_paused = GlobalState(bool, key="paused")
        # Unix seconds (block timestamp) before which holders cannot transfer; 0 for none.
        self.lockup_until = GlobalState(UInt64, key="lockup_until")
        # Key: prefix "h" + 32-byte address (33 bytes); value: HolderStatus (1 byte). A box
        # exists only while one of its flags is set.
        self.holders = BoxMap(arc4.Address, HolderStatus, key_prefix=b"h")

    @arc4.abimethod(create="require")
    def create(
        self,
        name: Bytes32,
        symbol: Bytes8,
        decimals: arc4.UInt8,
        cap: arc4.UInt256,
        controller: arc4.Address,
        whitelist_only: arc4.Bool,
        lockup_until: arc4.UInt64,
    ) -> None:
        """Record the token's parameters. Nothing is issued yet: the controller issues after
        `bootstrap`. `cap` bounds the supply and must be positive."""
        assert cap != 0, "cap must be positive"
        self._initialise_metadata(name, symbol, decimals, cap)
        self.controller_account.value = controller
        self.whitelist_only.value = whitelist_only.native
        self.transfers_paused.value = False
        self.lockup_until.value = lockup_until.as_uint64()

    # ---- controller actions --------------------------------------------------------------

    @arc4.abimethod
    def issue(self, to: arc4.Address, amount: arc4.UInt256, reason: arc4.UInt64) -> bool:
        """Controller only: create `amount` for `to` within the cap. Box refs: b+to, h+to."""
        self._require_controller()
        self._require_can_receive(to)
        supply_after = self.total_supply.value.as_biguint() + amount.as_biguint()
        assert supply_after <= self.supply_cap.value.as_biguint(), "cap exceeded"
        self._mint(to, amount.as_biguint())
        arc4.emit(Issued(to, amount, reason))
        return True

    @arc4.abimethod
    def redeem(self, from_: arc4.Address, amount: arc4.UInt256, reason: arc4.UInt64) -> bool:
        """Controller only: destroy `amount` of `from_`'s tokens (frozen or not).

        Box ref: b+from.
        """
        self._require_controller()
        self._burn(from_, amount.as_biguint())
        arc4.emit(Redeemed(from_, amount, reason))
        return True

    @arc4.abimethod
    def controller_transfer(
        self,
        from_: arc4.Address,
        to: arc4.Address,
        amount: arc4.UInt256,
        reason: arc4.UInt64,
    ) -> bool:
        """Controller only: force a transfer regardless of pause, freeze, lock-up and
        allowances (court orders, lost keys). Box refs: b+from, b+to, h+to."""
        self._require_controller()
        self._require_can_receive(to)
        self._move(from_, to, amount.as_biguint())
        arc4.emit(ControllerTransfer(arc4.Address(Txn.sender), from_, to, amount, reason))
        return True

    @arc4.abimethod
    def whitelist_add(self, account: arc4.Address) -> None:
        """Controller only: let `account` hold and receive the token. Box ref: h+account."""
        self._require_controller()
        status = self._status(account)
        self._set_status(account, arc4.Bool(True), status.frozen)
        arc4.emit(WhitelistUpdated(account, arc4.Bool(True)))

    @arc4.abimethod
    def whitelist_remove(self, account: arc4.Address) -> None:
        """Controller only: stop `account` sending or receiving (its balance stays, and the
        controller can still redeem or move it). Box ref: h+account."""
        self._require_controller()
        status = self._status(account)
        self._set_status(account, arc4.Bool(False), status.frozen)
        arc4.emit(WhitelistUpdated(account, arc4.Bool(False)))

    @arc4.abimethod
    def freeze(self, account: arc4.Address) -> None:
        """Controller only: `account` can neither send nor receive holder transfers.
        Box ref: h+account."""
        self._require_controller()
        status = self._status(account)
        self._set_status(account, status.whitelisted, arc4.Bool(True))
        arc4.emit(FreezeUpdated(account, arc4.Bool(True)))

    @arc4.abimethod
    def unfreeze(self, account: arc4.Address) -> None:
        """Controller only: lift a freeze. Box ref: h+account."""
        self._require_controller()
        status = self._status(account)
        self._set_status(account, status.whitelisted, arc4.Bool(False))
        arc4.emit(FreezeUpdated(account, arc4.Bool(False)))

    @arc4.abimethod
    def pause(self) -> None:
        """Controller only: stop all holder transfers (controller actions still work)."""
        self._require_controller()
        self.transfers_paused.value = True
        arc4.emit(PauseUpdated(arc4.Address(Txn.sender), arc4.Bool(True)))

    @arc4.abimethod
    def unpause(self) -> None:
        """Controller only: resume holder transfers."""
        self._require_controller()
        self.transfers_paused.value = False
        arc4.emit(PauseUpdated(arc4.Address(Txn.sender), arc4.Bool(False)))

    @arc4.abimethod
    def set_controller(self, controller: arc4.Address) -> None:
        """Controller only: hand the role to another account."""
        self._require_controller()
        arc4.emit(ControllerChanged(self.controller_account.value, controller))
        self.controller_account.value = controller

    # ---- read-only -----------------------------------------------------------------------

    @arc4.abimethod(readonly=True)
    def controller(self) -> arc4.Address:
        """The account holding the controller role."""
        return self.controller_account.value

    @arc4.abimethod(readonly=True)
    def is_whitelisted(self, account: arc4.Address) -> bool:
        """Whether `account` is on the whitelist."""
        return self._status(account).whitelisted.native

    @arc4.abimethod(readonly=True)
    def is_frozen(self, account: arc4.Address) -> bool:
        """Whether `account` is frozen."""
        return self._status(account).frozen.native

    @arc4.abimethod(readonly=True)
    def paused(self) -> bool:
        """Whether holder transfers are paused."""
        return self.transfers_paused.value

    @arc4.abimethod(readonly=True)
    def is_whitelist_only(self) -> bool:
        """Whether holder transfers and deliveries need whitelisted accounts."""
        return self.whitelist_only.value

    @arc4.abimethod(readonly=True)
    def lockup_end(self) -> arc4.UInt64:
        """The lock-up's end in Unix seconds (0: no lock-up)."""
        return arc4.UInt64(self.lockup_until.value)

    # ---- rules ---------------------------------------------------------------------------

    @subroutine
    def _check_holder_transfer(self, from_: arc4.Address, to: arc4.Address) -> None:
        """Holder transfers: bootstrapped, not paused, past the lock-up, neither side frozen,
        both sides whitelisted on a whitelist-only token. Box refs: h+from, h+to."""
        self._require_initialised()
        assert not self.transfers_paused.value, "paused"
        assert Global.latest_timestamp >= self.lockup_until.value, "locked up"
        source = self._status(from_)
        destination = self._status(to)
        assert not source.frozen.native, "sender frozen"
        assert not destination.frozen.native, "receiver frozen"
        if self.whitelist_only.value:
            assert source.whitelisted.native, "sender not whitelisted"
            assert destination.whitelisted.native, "receiver not whitelisted"

    @subroutine
    def _require_controller(self) -> None:
        assert Txn.sender == self.controller_account.value, "only the controller"

    @subroutine
    def _require_can_receive(self, to: arc4.Address) -> None:
        if self.whitelist_only.value:
            assert self._status(to).whitelisted.native, "receiver not whitelisted"

    @subroutine
    def _status(self, account: arc4.Address) -> HolderStatus:
        return self.holders.get(
            account, default=HolderStatus(whitelisted=arc4.Bool(False), frozen=arc4.Bool(False))
        )

    @subroutine
    def _set_status(
        self, account: arc4.Address, whitelisted: arc4.Bool, frozen: arc4.Bool
    ) -> None:
        if whitelisted.native or frozen.native:
            self.holders[account] = HolderStatus(whitelisted=whitelisted, frozen=frozen)
        elif account in self.holders:
            del self.holders[account]

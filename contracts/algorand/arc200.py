"""The project's ARC-200 token: preminted (cap 0) or mintable by its owner up to a cap.

Deployment: `create` (alone), then the group [payment to the app account, `bootstrap`], which
mints the initial supply to the receiver. The app cannot be updated or deleted.
"""

from algopy import GlobalState, Txn, arc4, subroutine

from .arc200_base import Arc200Base, Bytes8, Bytes32


class PendingMint(arc4.Struct):
    """The initial supply and its receiver, recorded by `create` and minted by `bootstrap`."""

    receiver: arc4.Address
    amount: arc4.UInt256


class Arc200(Arc200Base):
    """ARC-200 token with an optional owner-only, capped `mint`."""

    def __init__(self) -> None:
        super().__init__()
        self.token_owner = GlobalState(arc4.Address, key="owner")
        # Held between create and bootstrap: the receiver's box needs the funded app account.
        # One slot for both saves the creator 50,000 µAlgo of schema minimum balance.
        self.pending_mint = GlobalState(PendingMint, key="pending_mint")

    @arc4.abimethod(create="require")
    def create(
        self,
        name: Bytes32,
        symbol: Bytes8,
        decimals: arc4.UInt8,
        total_supply: arc4.UInt256,
        receiver: arc4.Address,
        cap: arc4.UInt256,
        owner: arc4.Address,
    ) -> None:
        """Record the token's parameters. `cap` 0 makes it preminted (no `mint`); otherwise
        `total_supply` must not exceed it. The supply is minted to `receiver` by `bootstrap`."""
        assert cap == 0 or total_supply <= cap, "initial supply exceeds cap"
        self._initialise_metadata(name, symbol, decimals, cap)
        self.token_owner.value = owner
        self.pending_mint.value = PendingMint(receiver=receiver, amount=total_supply)

    @arc4.abimethod
    def mint(self, to: arc4.Address, amount: arc4.UInt256) -> bool:
        """Owner only: create `amount` tokens for `to` within the cap. Box ref: b+to."""
        assert Txn.sender == self.token_owner.value, "only the owner can mint"
        assert self.supply_cap.value != 0, "minting disabled: preminted token"
        supply_after = self.total_supply.value.as_biguint() + amount.as_biguint()
        assert supply_after <= self.supply_cap.value.as_biguint(), "cap exceeded"
        self._mint(to, amount.as_biguint())
        return True

    @arc4.abimethod(readonly=True)
    def owner(self) -> arc4.Address:
        """The account allowed to mint."""
        return self.token_owner.value

    @subroutine
    def _on_bootstrap(self) -> None:
        """Mint the initial supply (a zero supply creates no box)."""
        pending = self.pending_mint.value.copy()
        if pending.amount != 0:
            self._mint(pending.receiver, pending.amount.as_biguint())
        self.pending_mint.value = PendingMint(receiver=arc4.Address(), amount=arc4.UInt256(0))

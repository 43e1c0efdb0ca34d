"""The ARC-200 token: deployment, transfer, approve/transferFrom, mint cap, events, box costs."""

import pytest
from algopy import Account, UInt64

from algorand.arc200 import Arc200
from chain import (
    ZERO,
    Chain,
    address,
    allowance_key,
    balance_key,
    box_cost,
    num,
    padded8,
    padded32,
    raw,
    u8,
    u256,
)

SUPPLY = 1_000_000
CAP = 1_500_000


def deploy(
    chain: Chain, receiver: Account, owner: Account, supply: int = SUPPLY, cap: int = CAP
) -> Arc200:
    """Create (as the context's default sender), then [fund, bootstrap]."""
    token = Arc200()
    token.create(
        padded32(b"Walletless Test Token"),
        padded8(b"WLT"),
        u8(6),
        u256(supply),
        address(receiver),
        u256(cap),
        address(owner),
    )
    chain.fund_and_bootstrap(token)
    return token


def balance(token: Arc200, account: Account) -> int:
    return num(token.arc200_balanceOf(address(account)))


def test_deploy_mints_the_initial_supply_to_the_receiver(chain: Chain) -> None:
    receiver, owner = chain.account(), chain.account()
    token = deploy(chain, receiver, owner)

    assert chain.transfers() == [(ZERO, raw(receiver), SUPPLY)]
    assert bytes(token.arc200_name().bytes.value) == b"Walletless Test Token".ljust(32, b"\0")
    assert bytes(token.arc200_symbol().bytes.value) == b"WLT\0\0\0\0\0"
    assert num(token.arc200_decimals()) == 6
    assert num(token.arc200_totalSupply()) == SUPPLY
    assert num(token.cap()) == CAP
    assert token.owner() == address(owner)
    assert balance(token, receiver) == SUPPLY
    assert balance(token, owner) == 0


def test_zero_initial_supply_creates_no_box(chain: Chain) -> None:
    receiver, owner = chain.account(), chain.account()
    token = deploy(chain, receiver, owner, supply=0)

    assert chain.transfers() == []
    assert chain.box(token, balance_key(receiver)) is None
    assert num(token.arc200_totalSupply()) == 0


def test_create_refuses_a_supply_above_the_cap(chain: Chain) -> None:
    token = Arc200()
    with pytest.raises(AssertionError, match="initial supply exceeds cap"):
        token.create(
            padded32(b"T"),
            padded8(b"T"),
            u8(0),
            u256(CAP + 1),
            address(chain.account()),
            u256(CAP),
            address(chain.account()),
        )


def test_bootstrap_is_once_by_the_creator_with_a_payment_to_the_app(chain: Chain) -> None:
    receiver, owner, stranger = chain.account(), chain.account(), chain.account()
    token = Arc200()
    token.create(
        padded32(b"T"),
        padded8(b"T"),
        u8(0),
        u256(SUPPLY),
        address(receiver),
        u256(0),
        address(owner),
    )
    with pytest.raises(AssertionError, match="not bootstrapped"):
        chain.call(receiver, token.arc200_transfer, address(owner), u256(1))

    misdirected = chain.ctx.any.txn.payment(receiver=stranger, amount=UInt64(200_000))
    with pytest.raises(AssertionError, match="fund the app account"):
        token.bootstrap(misdirected)

    app = chain.ctx.ledger.get_app(token)
    funding = chain.ctx.any.txn.payment(sender=stranger, receiver=app.address, amount=UInt64(1))
    with pytest.raises(AssertionError, match="only the creator"):
        with chain.ctx.txn.create_group(active_txn_overrides={"sender": stranger}):
            token.bootstrap(funding)

    chain.fund_and_bootstrap(token)
    assert balance(token, receiver) == SUPPLY
    with pytest.raises(AssertionError, match="already bootstrapped"):
        chain.fund_and_bootstrap(token)
    assert num(token.arc200_totalSupply()) == SUPPLY


def test_transfer_moves_balance_and_logs_transfer(chain: Chain) -> None:
    alice, owner, bob = chain.account(), chain.account(), chain.account()
    token = deploy(chain, alice, owner)

    assert chain.call(alice, token.arc200_transfer, address(bob), u256(250)) is True
    assert chain.transfers() == [(raw(alice), raw(bob), 250)]
    assert balance(token, alice) == SUPPLY - 250
    assert balance(token, bob) == 250
    assert num(token.arc200_totalSupply()) == SUPPLY


def test_transfer_of_more_than_the_balance_fails(chain: Chain) -> None:
    alice, owner, bob = chain.account(), chain.account(), chain.account()
    token = deploy(chain, alice, owner)
    chain.call(alice, token.arc200_transfer, address(bob), u256(10))

    with pytest.raises(AssertionError, match="insufficient balance"):
        chain.call(bob, token.arc200_transfer, address(alice), u256(11))
    assert balance(token, bob) == 10


def test_self_transfer_keeps_the_balance(chain: Chain) -> None:
    alice, owner = chain.account(), chain.account()
    token = deploy(chain, alice, owner)

    chain.call(alice, token.arc200_transfer, address(alice), u256(SUPPLY))
    assert chain.transfers() == [(raw(alice), raw(alice), SUPPLY)]
    assert balance(token, alice) == SUPPLY


def test_emptied_balance_box_is_deleted_and_zero_transfer_creates_none(chain: Chain) -> None:
    alice, owner, bob, carol = chain.account(), chain.account(), chain.account(), chain.account()
    token = deploy(chain, alice, owner)
    chain.call(alice, token.arc200_transfer, address(bob), u256(5))
    assert chain.box(token, balance_key(bob)) is not None

    chain.call(bob, token.arc200_transfer, address(alice), u256(5))
    assert chain.box(token, balance_key(bob)) is None
    assert balance(token, bob) == 0

    chain.call(alice, token.arc200_transfer, address(carol), u256(0))
    assert chain.box(token, balance_key(carol)) is None
    assert chain.transfers() == [(raw(alice), raw(carol), 0)]


def test_approve_then_transfer_from_spends_the_allowance(chain: Chain) -> None:
    alice, owner, spender, bob = (chain.account() for _ in range(4))
    token = deploy(chain, alice, owner)

    assert chain.call(alice, token.arc200_approve, address(spender), u256(100)) is True
    assert chain.approvals() == [(raw(alice), raw(spender), 100)]
    assert num(token.arc200_allowance(address(alice), address(spender))) == 100

    result = chain.call(
        spender, token.arc200_transferFrom, address(alice), address(bob), u256(60)
    )
    assert result is True
    # ARC-200: transferFrom logs the allowance left after the spend, and the transfer.
    assert chain.approvals() == [(raw(alice), raw(spender), 40)]
    assert chain.transfers() == [(raw(alice), raw(bob), 60)]
    assert balance(token, bob) == 60
    assert balance(token, alice) == SUPPLY - 60
    assert num(token.arc200_allowance(address(alice), address(spender))) == 40

    with pytest.raises(AssertionError, match="allowance exceeded"):
        chain.call(spender, token.arc200_transferFrom, address(alice), address(bob), u256(41))
    assert balance(token, bob) == 60


def test_transfer_from_without_approval_fails(chain: Chain) -> None:
    alice, owner, thief = chain.account(), chain.account(), chain.account()
    token = deploy(chain, alice, owner)

    with pytest.raises(AssertionError, match="not an approved spender"):
        chain.call(thief, token.arc200_transferFrom, address(alice), address(thief), u256(1))
    # ARC-200: "MUST error unless called by an approved spender", whatever the amount.
    with pytest.raises(AssertionError, match="not an approved spender"):
        chain.call(thief, token.arc200_transferFrom, address(alice), address(thief), u256(0))
    assert balance(token, alice) == SUPPLY


def test_allowance_cannot_spend_more_than_the_owners_balance(chain: Chain) -> None:
    alice, owner, spender, bob = (chain.account() for _ in range(4))
    token = deploy(chain, alice, owner)
    chain.call(alice, token.arc200_transfer, address(bob), u256(10))
    chain.call(bob, token.arc200_approve, address(spender), u256(1_000))

    with pytest.raises(AssertionError, match="insufficient balance"):
        chain.call(spender, token.arc200_transferFrom, address(bob), address(alice), u256(11))


def test_approve_zero_revokes_and_deletes_the_box(chain: Chain) -> None:
    alice, owner, spender = chain.account(), chain.account(), chain.account()
    token = deploy(chain, alice, owner)
    chain.call(alice, token.arc200_approve, address(spender), u256(7))

    chain.call(alice, token.arc200_approve, address(spender), u256(0))
    assert chain.approvals() == [(raw(alice), raw(spender), 0)]
    assert num(token.arc200_allowance(address(alice), address(spender))) == 0
    assert chain.box(token, allowance_key(alice, spender)) is None


def test_allowances_are_per_owner_and_spender(chain: Chain) -> None:
    alice, owner, spender_a, spender_b = (chain.account() for _ in range(4))
    token = deploy(chain, alice, owner)
    chain.call(alice, token.arc200_approve, address(spender_a), u256(1))
    chain.call(alice, token.arc200_approve, address(spender_b), u256(2))

    assert num(token.arc200_allowance(address(alice), address(spender_a))) == 1
    assert num(token.arc200_allowance(address(alice), address(spender_b))) == 2
    assert num(token.arc200_allowance(address(spender_a), address(alice))) == 0


def test_mint_is_owner_only_and_capped(chain: Chain) -> None:
    alice, owner, bob = chain.account(), chain.account(), chain.account()
    token = deploy(chain, alice, owner)

    with pytest.raises(AssertionError, match="only the owner"):
        chain.call(alice, token.mint, address(alice), u256(1))

    assert chain.call(owner, token.mint, address(bob), u256(CAP - SUPPLY)) is True
    assert chain.transfers() == [(ZERO, raw(bob), CAP - SUPPLY)]
    assert num(token.arc200_totalSupply()) == CAP
    assert balance(token, bob) == CAP - SUPPLY

    with pytest.raises(AssertionError, match="cap exceeded"):
        chain.call(owner, token.mint, address(bob), u256(1))
    assert num(token.arc200_totalSupply()) == CAP


def test_preminted_token_cannot_mint(chain: Chain) -> None:
    alice, owner = chain.account(), chain.account()
    token = deploy(chain, alice, owner, cap=0)

    with pytest.raises(AssertionError, match="minting disabled"):
        chain.call(owner, token.mint, address(owner), u256(1))
    assert num(token.arc200_totalSupply()) == SUPPLY


def test_uint256_amounts_beyond_64_bits(chain: Chain) -> None:
    big = 2**200 + 12345
    alice, owner, bob = chain.account(), chain.account(), chain.account()
    token = deploy(chain, alice, owner, supply=big, cap=2**256 - 1)

    chain.call(alice, token.arc200_transfer, address(bob), u256(2**199))
    assert balance(token, bob) == 2**199
    assert balance(token, alice) == big - 2**199
    chain.call(owner, token.mint, address(bob), u256(2**256 - 1 - big))
    assert num(token.arc200_totalSupply()) == 2**256 - 1


def test_box_sizes_match_the_documented_minimum_balance(chain: Chain) -> None:
    """README.md: 28,500 µAlgo per balance box and per live allowance."""
    alice, owner, spender = chain.account(), chain.account(), chain.account()
    token = deploy(chain, alice, owner)
    chain.call(alice, token.arc200_approve, address(spender), u256(1))

    for key in (balance_key(alice), allowance_key(alice, spender)):
        value = chain.box(token, key)
        assert value is not None, key.hex()
        assert (len(key), len(value)) == (33, 32)
        assert box_cost(len(key), len(value)) == 28_500

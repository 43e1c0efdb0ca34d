"""The security token: whitelist, controller transfer, freeze, pause, lock-up, issue/redeem."""

import pytest
from algopy import Account, arc4

from chain import (
    ZERO,
    Chain,
    address,
    balance_key,
    box_cost,
    num,
    padded8,
    padded32,
    raw,
    selector,
    u8,
    u256,
)
from algorand.security_token import SecurityToken

CAP = 1_000_000
LOCKUP_END = 1_800_000_000
ISSUED = selector("Issued(address,uint256,uint64)")
REDEEMED = selector("Redeemed(address,uint256,uint64)")
CONTROLLER_TRANSFER = selector("ControllerTransfer(address,address,address,uint256,uint64)")
WHITELIST_UPDATED = selector("WhitelistUpdated(address,bool)")
FREEZE_UPDATED = selector("FreezeUpdated(address,bool)")
PAUSE_UPDATED = selector("PauseUpdated(address,bool)")


def deploy(
    chain: Chain, controller: Account, *, whitelist_only: bool = True, lockup_until: int = 0
) -> SecurityToken:
    """Create (as the context's default sender), then [fund, bootstrap]."""
    token = SecurityToken()
    token.create(
        padded32(b"Walletless Bond 2030"),
        padded8(b"WLB30"),
        u8(0),
        u256(CAP),
        address(controller),
        arc4.Bool(whitelist_only),
        arc4.UInt64(lockup_until),
    )
    chain.fund_and_bootstrap(token)
    return token


def balance(token: SecurityToken, account: Account) -> int:
    return num(token.arc200_balanceOf(address(account)))


def reason(code: int) -> arc4.UInt64:
    return arc4.UInt64(code)


def onboard(chain: Chain, token: SecurityToken, controller: Account, *holders: Account) -> None:
    for holder in holders:
        chain.call(controller, token.whitelist_add, address(holder))


def issue(
    chain: Chain, token: SecurityToken, controller: Account, to: Account, amount: int
) -> None:
    chain.call(controller, token.issue, address(to), u256(amount), reason(1))


def test_create_records_the_parameters(chain: Chain) -> None:
    controller = chain.account()
    token = deploy(chain, controller, lockup_until=LOCKUP_END)

    assert bytes(token.arc200_name().bytes.value).rstrip(b"\0") == b"Walletless Bond 2030"
    assert bytes(token.arc200_symbol().bytes.value) == b"WLB30\0\0\0"
    assert num(token.arc200_decimals()) == 0
    assert num(token.arc200_totalSupply()) == 0
    assert num(token.cap()) == CAP
    assert token.controller() == address(controller)
    assert token.is_whitelist_only() is True
    assert token.paused() is False
    assert num(token.lockup_end()) == LOCKUP_END


def test_create_refuses_a_zero_cap(chain: Chain) -> None:
    token = SecurityToken()
    with pytest.raises(AssertionError, match="cap must be positive"):
        token.create(
            padded32(b"T"),
            padded8(b"T"),
            u8(0),
            u256(0),
            address(chain.account()),
            arc4.Bool(True),
            arc4.UInt64(0),
        )


def test_issue_and_redeem_log_reason_codes_within_the_cap(chain: Chain) -> None:
    controller, alice = chain.account(), chain.account()
    token = deploy(chain, controller)
    onboard(chain, token, controller, alice)

    assert chain.call(controller, token.issue, address(alice), u256(700), reason(11)) is True
    assert chain.transfers() == [(ZERO, raw(alice), 700)]
    assert chain.events(ISSUED) == [
        raw(alice) + (700).to_bytes(32, "big") + (11).to_bytes(8, "big")
    ]

    with pytest.raises(AssertionError, match="cap exceeded"):
        chain.call(controller, token.issue, address(alice), u256(CAP - 699), reason(11))
    chain.call(controller, token.issue, address(alice), u256(CAP - 700), reason(12))
    assert num(token.arc200_totalSupply()) == CAP

    assert chain.call(controller, token.redeem, address(alice), u256(200), reason(42)) is True
    assert chain.transfers() == [(raw(alice), ZERO, 200)]
    assert chain.events(REDEEMED) == [
        raw(alice) + (200).to_bytes(32, "big") + (42).to_bytes(8, "big")
    ]
    assert num(token.arc200_totalSupply()) == CAP - 200
    assert balance(token, alice) == CAP - 200

    with pytest.raises(AssertionError, match="insufficient balance"):
        chain.call(controller, token.redeem, address(alice), u256(CAP), reason(42))


def test_only_the_controller_issues_redeems_and_administers(chain: Chain) -> None:
    controller, alice = chain.account(), chain.account()
    token = deploy(chain, controller)
    onboard(chain, token, controller, alice)
    issue(chain, token, controller, alice, 10)

    attempts = [
        (token.issue, (address(alice), u256(1), reason(1))),
        (token.redeem, (address(alice), u256(1), reason(1))),
        (token.controller_transfer, (address(alice), address(alice), u256(1), reason(1))),
        (token.whitelist_add, (address(alice),)),
        (token.whitelist_remove, (address(alice),)),
        (token.freeze, (address(alice),)),
        (token.unfreeze, (address(alice),)),
        (token.pause, ()),
        (token.unpause, ()),
        (token.set_controller, (address(alice),)),
    ]
    for method, args in attempts:
        with pytest.raises(AssertionError, match="only the controller"):
            chain.call(alice, method, *args)
    assert balance(token, alice) == 10
    assert token.controller() == address(controller)


def test_set_controller_hands_over_the_role(chain: Chain) -> None:
    controller, successor, alice = chain.account(), chain.account(), chain.account()
    token = deploy(chain, controller)

    chain.call(controller, token.set_controller, address(successor))
    assert token.controller() == address(successor)
    with pytest.raises(AssertionError, match="only the controller"):
        chain.call(controller, token.whitelist_add, address(alice))
    chain.call(successor, token.whitelist_add, address(alice))
    assert token.is_whitelisted(address(alice)) is True


def test_whitelist_refuses_transfers_involving_unlisted_accounts(chain: Chain) -> None:
    controller, alice, bob, spender = (chain.account() for _ in range(4))
    token = deploy(chain, controller)
    onboard(chain, token, controller, alice)

    with pytest.raises(AssertionError, match="receiver not whitelisted"):
        issue(chain, token, controller, bob, 5)
    issue(chain, token, controller, alice, 100)

    with pytest.raises(AssertionError, match="receiver not whitelisted"):
        chain.call(alice, token.arc200_transfer, address(bob), u256(1))
    chain.call(alice, token.arc200_approve, address(spender), u256(50))
    with pytest.raises(AssertionError, match="receiver not whitelisted"):
        chain.call(spender, token.arc200_transferFrom, address(alice), address(bob), u256(1))

    chain.call(controller, token.whitelist_add, address(bob))
    assert chain.events(WHITELIST_UPDATED) == [raw(bob) + b"\x80"]
    assert token.is_whitelisted(address(bob)) is True
    chain.call(alice, token.arc200_transfer, address(bob), u256(30))
    chain.call(spender, token.arc200_transferFrom, address(alice), address(bob), u256(20))
    assert balance(token, bob) == 50

    chain.call(controller, token.whitelist_remove, address(bob))
    assert chain.events(WHITELIST_UPDATED) == [raw(bob) + b"\x00"]
    assert token.is_whitelisted(address(bob)) is False
    with pytest.raises(AssertionError, match="sender not whitelisted"):
        chain.call(bob, token.arc200_transfer, address(alice), u256(1))
    with pytest.raises(AssertionError, match="receiver not whitelisted"):
        chain.call(alice, token.arc200_transfer, address(bob), u256(1))
    assert balance(token, bob) == 50


def test_open_token_lets_unlisted_accounts_transfer(chain: Chain) -> None:
    controller, alice, bob = chain.account(), chain.account(), chain.account()
    token = deploy(chain, controller, whitelist_only=False)

    issue(chain, token, controller, alice, 10)
    chain.call(alice, token.arc200_transfer, address(bob), u256(4))
    assert balance(token, bob) == 4


def test_controller_transfer_forces_past_freeze_pause_and_lockup(chain: Chain) -> None:
    controller, alice, bob, outsider = (chain.account() for _ in range(4))
    chain.set_time(LOCKUP_END - 1)
    token = deploy(chain, controller, lockup_until=LOCKUP_END)
    onboard(chain, token, controller, alice, bob)
    issue(chain, token, controller, alice, 100)
    chain.call(controller, token.freeze, address(alice))
    chain.call(controller, token.pause)

    result = chain.call(
        controller, token.controller_transfer, address(alice), address(bob), u256(60), reason(7)
    )
    assert result is True
    assert chain.transfers() == [(raw(alice), raw(bob), 60)]
    assert chain.events(CONTROLLER_TRANSFER) == [
        raw(controller) + raw(alice) + raw(bob) + (60).to_bytes(32, "big") + (7).to_bytes(8, "big")
    ]
    assert balance(token, alice) == 40
    assert balance(token, bob) == 60

    with pytest.raises(AssertionError, match="receiver not whitelisted"):
        chain.call(
            controller,
            token.controller_transfer,
            address(alice),
            address(outsider),
            u256(1),
            reason(7),
        )
    with pytest.raises(AssertionError, match="insufficient balance"):
        chain.call(
            controller, token.controller_transfer, address(alice), address(bob), u256(41), reason(7)
        )


def test_frozen_accounts_can_neither_send_nor_receive(chain: Chain) -> None:
    controller, alice, bob, spender = (chain.account() for _ in range(4))
    token = deploy(chain, controller)
    onboard(chain, token, controller, alice, bob)
    issue(chain, token, controller, alice, 100)
    issue(chain, token, controller, bob, 100)
    chain.call(alice, token.arc200_approve, address(spender), u256(100))

    chain.call(controller, token.freeze, address(alice))
    assert chain.events(FREEZE_UPDATED) == [raw(alice) + b"\x80"]
    assert token.is_frozen(address(alice)) is True
    assert token.is_whitelisted(address(alice)) is True
    with pytest.raises(AssertionError, match="sender frozen"):
        chain.call(alice, token.arc200_transfer, address(bob), u256(1))
    with pytest.raises(AssertionError, match="sender frozen"):
        chain.call(spender, token.arc200_transferFrom, address(alice), address(bob), u256(1))
    with pytest.raises(AssertionError, match="receiver frozen"):
        chain.call(bob, token.arc200_transfer, address(alice), u256(1))

    chain.call(controller, token.unfreeze, address(alice))
    assert token.is_frozen(address(alice)) is False
    chain.call(alice, token.arc200_transfer, address(bob), u256(1))
    chain.call(bob, token.arc200_transfer, address(alice), u256(2))
    assert balance(token, alice) == 101


def test_freeze_applies_on_an_open_token_too(chain: Chain) -> None:
    controller, alice, bob = chain.account(), chain.account(), chain.account()
    token = deploy(chain, controller, whitelist_only=False)
    issue(chain, token, controller, alice, 10)

    chain.call(controller, token.freeze, address(alice))
    with pytest.raises(AssertionError, match="sender frozen"):
        chain.call(alice, token.arc200_transfer, address(bob), u256(1))
    # Redemption is an issuer action: it works on a frozen account.
    chain.call(controller, token.redeem, address(alice), u256(10), reason(3))
    assert balance(token, alice) == 0


def test_pause_stops_holder_transfers_only(chain: Chain) -> None:
    controller, alice, bob, spender = (chain.account() for _ in range(4))
    token = deploy(chain, controller)
    onboard(chain, token, controller, alice, bob)
    issue(chain, token, controller, alice, 100)
    chain.call(alice, token.arc200_approve, address(spender), u256(100))

    chain.call(controller, token.pause)
    assert chain.events(PAUSE_UPDATED) == [raw(controller) + b"\x80"]
    assert token.paused() is True
    with pytest.raises(AssertionError, match="paused"):
        chain.call(alice, token.arc200_transfer, address(bob), u256(1))
    with pytest.raises(AssertionError, match="paused"):
        chain.call(spender, token.arc200_transferFrom, address(alice), address(bob), u256(1))
    issue(chain, token, controller, bob, 5)
    chain.call(controller, token.redeem, address(bob), u256(5), reason(2))

    chain.call(controller, token.unpause)
    assert chain.events(PAUSE_UPDATED) == [raw(controller) + b"\x00"]
    chain.call(alice, token.arc200_transfer, address(bob), u256(1))
    assert balance(token, bob) == 1


def test_lockup_blocks_holder_transfers_until_its_end(chain: Chain) -> None:
    controller, alice, bob, spender = (chain.account() for _ in range(4))
    chain.set_time(LOCKUP_END - 100)
    token = deploy(chain, controller, lockup_until=LOCKUP_END)
    onboard(chain, token, controller, alice, bob)
    issue(chain, token, controller, alice, 100)
    chain.call(alice, token.arc200_approve, address(spender), u256(100))

    with pytest.raises(AssertionError, match="locked up"):
        chain.call(alice, token.arc200_transfer, address(bob), u256(1))
    chain.set_time(LOCKUP_END - 1)
    with pytest.raises(AssertionError, match="locked up"):
        chain.call(spender, token.arc200_transferFrom, address(alice), address(bob), u256(1))

    chain.set_time(LOCKUP_END)
    chain.call(alice, token.arc200_transfer, address(bob), u256(1))
    chain.call(spender, token.arc200_transferFrom, address(alice), address(bob), u256(1))
    assert balance(token, bob) == 2


def test_holder_status_boxes_exist_only_while_a_flag_is_set(chain: Chain) -> None:
    """README.md: 16,100 µAlgo per whitelisted or frozen account, freed when both clear."""
    controller, alice = chain.account(), chain.account()
    token = deploy(chain, controller)
    status_key = b"h" + raw(alice)

    chain.call(controller, token.whitelist_add, address(alice))
    value = chain.box(token, status_key)
    assert value == b"\x80"
    assert box_cost(len(status_key), len(value)) == 16_100
    chain.call(controller, token.freeze, address(alice))
    assert chain.box(token, status_key) == b"\xc0"
    chain.call(controller, token.whitelist_remove, address(alice))
    assert chain.box(token, status_key) == b"\x40"
    chain.call(controller, token.unfreeze, address(alice))
    assert chain.box(token, status_key) is None

    chain.call(controller, token.whitelist_add, address(alice))
    issue(chain, token, controller, alice, 1)
    assert box_cost(len(balance_key(alice)), len(chain.box(token, balance_key(alice)) or b"")) == (
        28_500
    )

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Pausable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Pausable.sol";

/// @title WalletlessMintable
/// @notice The ERC-20 walletless deploys for an issuer who may mint more later: mintable up to an
/// optional cap, burnable by holders, pausable, with roles instead of a single owner so that
/// minting and pausing can later be delegated without handing over administration.
/// @dev Constructor arguments, in order: name_, symbol_, decimals_, cap_, initialSupply,
/// initialReceiver, owner (the ABI in artifacts/WalletlessMintable.json is authoritative).
///
/// Cap: `cap_ == 0` means "no cap". Solidity inheritance is static, so the contract always
/// inherits ERC20Capped and stores `type(uint256).max` as the cap when none is wanted; the
/// checked total-supply arithmetic in ERC20 already stops minting there, so this is exactly
/// "uncapped". Clients read `cap() == type(uint256).max` as uncapped.
contract WalletlessMintable is ERC20, ERC20Burnable, ERC20Capped, ERC20Pausable, AccessControl {
    /// @notice May call `mint`.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    /// @notice May call `pause` and `unpause`.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice The initial supply is above the requested cap (checked before anything is minted,
    /// so the deployment fails with the caller's own numbers rather than a generic cap error).
    error InitialSupplyExceedsCap(uint256 initialSupply, uint256 cap);
    /// @notice The owner is the zero address: the roles would be unusable forever.
    error InvalidOwner(address owner);

    uint8 private immutable _decimals;

    constructor(
        string memory name_,
        string memory symbol_,
        uint8 decimals_,
        uint256 cap_,
        uint256 initialSupply,
        address initialReceiver,
        address owner
    ) ERC20(name_, symbol_) ERC20Capped(cap_ == 0 ? type(uint256).max : cap_) {
        if (cap_ != 0 && initialSupply > cap_) {
            revert InitialSupplyExceedsCap(initialSupply, cap_);
        }
        if (owner == address(0)) {
            revert InvalidOwner(owner);
        }
        _decimals = decimals_;
        _grantRole(DEFAULT_ADMIN_ROLE, owner);
        _grantRole(MINTER_ROLE, owner);
        _grantRole(PAUSER_ROLE, owner);
        if (initialSupply > 0) {
            _mint(initialReceiver, initialSupply);
        }
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Creates `amount` new tokens for `to`, within the cap and while not paused.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @notice Stops every transfer, mint and burn until `unpause`.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes transfers, mints and burns.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @dev Both the cap check and the pause check apply to every balance change.
    function _update(address from, address to, uint256 value)
        internal
        override(ERC20, ERC20Capped, ERC20Pausable)
    {
        super._update(from, to, value);
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";

/// @title WalletlessPreminted
/// @notice The ERC-20 walletless deploys for a fixed supply: everything is minted to one receiver
/// at deployment and nothing can ever be minted again (there is no mint function and no owner).
/// Holders may burn their own tokens, which only ever lowers the supply.
/// @dev Constructor arguments, in order: name_, symbol_, decimals_, totalSupply_, receiver (the
/// ABI in artifacts/WalletlessPreminted.json is authoritative).
contract WalletlessPreminted is ERC20, ERC20Burnable {
    /// @notice A fixed supply of zero could never change: the deployment would be useless.
    error ZeroTotalSupply();

    uint8 private immutable _decimals;

    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 totalSupply_, address receiver)
        ERC20(name_, symbol_)
    {
        if (totalSupply_ == 0) {
            revert ZeroTotalSupply();
        }
        _decimals = decimals_;
        _mint(receiver, totalSupply_);
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _decimals;
    }
}

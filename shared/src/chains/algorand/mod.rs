//! Algorand: canonical msgpack transactions, signing, ids and groups.

pub mod abi;
pub mod algod;
pub mod deploy;
pub mod msgpack;
pub mod transaction;

//! Lambda entry points live in src/bin.

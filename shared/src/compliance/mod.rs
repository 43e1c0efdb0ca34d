//! Compliance readiness: a compliance profile per draft, versioned rules, immutable reports
//! and the deployment gate. This is readiness checking against the issuer's own statements,
//! not legal advice.

pub mod profile;
pub mod report;
pub mod rules;

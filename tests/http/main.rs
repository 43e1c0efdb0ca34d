//! The suites that drive the API, in one test binary: the HTTP routes on both adapter
//! families, the Lambda sample events, deployments on the local devnets, the fault and rate-limit
//! scenarios, schemathesis against the OpenAPI document, and the sample-issuing script.
//!
//! One binary instead of one per suite: each would link the whole domain crate and the AWS
//! SDKs again (~75 MB and several seconds apiece). Each suite is a module, so filter a run with
//! `cargo test -p walletless-tests --test http -- <module>::`.

mod accounts;
mod api;
mod audit;
mod chain_deployments;
mod compliance;
mod deployments;
mod drafts;
mod faults;
mod idempotency;
mod lambda_events;
mod openapi;
mod rate_limits;
mod samples;
mod webhooks;

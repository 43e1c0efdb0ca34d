//! Deployments: a draft turned into a token on chain by a chain of queue steps, with an
//! enforced state machine and a durable timeline (see `pipeline` for the steps and their
//! guarantees, `state` for the moves).

pub mod pipeline;
pub mod service;
pub mod state;
pub mod store;
pub mod sweep;

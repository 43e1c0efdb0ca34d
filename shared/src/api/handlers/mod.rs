//! Route handlers, one module per area. Each is a plain async function of the app and the
//! request, so tests call them directly and the router serves them anywhere.

pub mod auth;
pub mod compliance;
pub mod deployments;
pub mod dev;
pub mod drafts;
pub mod health;
pub mod networks;
pub mod webhooks;

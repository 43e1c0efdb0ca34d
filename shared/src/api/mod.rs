//! The HTTP layer, the only place that knows HTTP: one route table, the handlers, the error
//! catalogue, and the router that serves any subset of the table (one route in a Lambda
//! function, all of them in the local server).

pub mod errors;
pub mod handlers;
pub mod idempotency;
pub mod openapi;
pub mod rate_limit;
pub mod routes;
pub mod service;

pub use errors::{ApiError, ErrorCode};
pub use routes::{Auth, LOCAL_ROUTES, ROUTES, Route};
pub use service::{ApiRequest, ApiResponse, ResponseBody, router};

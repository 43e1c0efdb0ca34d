//! Structured JSON logs. Each line is one JSON object; lines logged while serving a request
//! carry its `request_id` (from the request span), so CloudWatch Logs Insights can filter by it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The filter: `RUST_LOG` when set, else info for this crate and warnings for the rest.
fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,walletless=info,walletless_local=info"))
}

/// Install the JSON subscriber on stdout (Lambda sends stdout to CloudWatch). Calling it
/// twice is harmless: the first subscriber stays.
pub fn init() {
    init_with_writer(std::io::stdout, None);
}

/// Install the JSON subscriber writing to `writer`, with `directives` instead of the
/// default filter when given (tests capture logs this way).
pub fn init_with_writer<W>(writer: W, directives: Option<&str>)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = directives.map(EnvFilter::new).unwrap_or_else(filter);
    let _already_installed = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(true)
        .with_writer(writer)
        .try_init();
}

/// An in-memory log sink for tests: everything logged, as text.
#[derive(Clone, Debug, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn contents(&self) -> String {
        match self.0.lock() {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(poisoned) => String::from_utf8_lossy(&poisoned.into_inner()).into_owned(),
        }
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut bytes) => bytes.extend_from_slice(buf),
            Err(poisoned) => poisoned.into_inner().extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

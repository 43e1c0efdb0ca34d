//! One local server per test, of either adapter family, with the calls the HTTP tests make.
//! [`on_both_families!`](crate::on_both_families) runs a test case against both.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use walletless::app::App;
use walletless::config::{AwsResources, Backend, Config, vars};

use crate::aws::{aws_env, provision_all};
use crate::server::TestServer;

/// A password strong enough for the rule, shared by the tests.
pub const PASSWORD: &str = "lunar cactus violin 42 drizzle";

/// A running local server of one family, and what is needed to look behind it.
#[derive(Debug)]
pub struct TestEnv {
    pub server: TestServer,
    pub client: reqwest::Client,
    pub family: Family,
}

#[derive(Debug)]
pub enum Family {
    Embedded(tempfile::TempDir),
    Aws(AwsResources),
}

/// An answer: status, headers and the JSON body (or the text as a JSON string).
pub type Answer = (StatusCode, HeaderMap, Value);

impl TestEnv {
    pub async fn embedded() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let server = TestServer::embedded(dir.path())
            .await
            .expect("embedded server");
        Self {
            server,
            client: reqwest::Client::new(),
            family: Family::Embedded(dir),
        }
    }

    /// A server on fresh emulator resources, hosting its own ARC-3 metadata as a deployment
    /// with a custom domain would.
    pub async fn aws() -> Self {
        let resources = provision_all().await;
        let mut env = aws_env(&resources);
        env.push((vars::METADATA_BASE_URL, "{server}/v1/metadata/".into()));
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server = TestServer::start(&pairs).await.expect("aws server");
        Self {
            server,
            client: reqwest::Client::new(),
            family: Family::Aws(resources),
        }
    }

    /// A second app over the same stores, to look at what the server wrote or call what it
    /// calls internally.
    pub async fn backstage(&self) -> App {
        let config = |backend| Config {
            backend,
            networks_file: None,
            metadata_base_url: None,
            step_max_receives: 5,
        };
        match &self.family {
            Family::Embedded(dir) => {
                let config = config(Backend::Embedded {
                    data_dir: dir.path().to_path_buf(),
                    public_url: None,
                });
                let public_url = "http://127.0.0.1:1".parse().expect("literal URL");
                App::open_embedded(dir.path(), public_url, &config)
                    .await
                    .expect("embedded app")
                    .app
            }
            Family::Aws(resources) => {
                let config = config(Backend::Aws(resources.clone()));
                App::connect_aws(resources, &config).await.expect("aws app")
            }
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Answer {
        let method = method.parse().expect("HTTP method");
        let mut request = self.client.request(method, self.server.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(version) = if_match {
            request = request.header("if-match", version);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, body)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let (status, _, body) = self.call("POST", path, token, Some(&body), None).await;
        (status, body)
    }

    /// Register `email` with [`PASSWORD`]; the 201 answer.
    pub async fn register(&self, email: &str) -> Value {
        let (status, body) = self
            .post(
                "/v1/auth/register",
                None,
                json!({ "email": email, "password": PASSWORD, "displayName": "Test User" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// A new user: the registration answer (tokens, ids, addresses).
    pub async fn new_user(&self) -> Value {
        self.register(&unique_email("user")).await
    }
}

/// An email no other test uses.
pub fn unique_email(tag: &str) -> String {
    format!(
        "{tag}.{}@example.com",
        ulid::Ulid::new().to_string().to_lowercase()
    )
}

/// Run each listed `async fn case(env: &TestEnv)` once on the embedded family and once on the
/// AWS family (moto), as `embedded::case` and `aws::case`.
#[macro_export]
macro_rules! on_both_families {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(&$crate::family::TestEnv::embedded().await).await;
                }
            )*
        }
        mod aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(&$crate::family::TestEnv::aws().await).await;
                }
            )*
        }
    };
}

//! One local server per test, of either adapter family, with the calls the HTTP tests make.
//! [`on_both_families!`](crate::on_both_families) runs a test case against both.

use std::collections::HashMap;

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
    /// The server's configuration variables.
    vars: HashMap<String, String>,
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
        Self::embedded_with(&[]).await
    }

    /// An embedded server with these configuration variables besides its data directory.
    pub async fn embedded_with(env: &[(&'static str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data_dir = dir.path().display().to_string();
        let mut vars = vec![
            (vars::BACKEND, "embedded".to_string()),
            (vars::DATA_DIR, data_dir),
        ];
        vars.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
        Self::start(vars, Family::Embedded(dir)).await
    }

    /// A server on fresh emulator resources, hosting its own ARC-3 metadata as a deployment
    /// with a custom domain would.
    pub async fn aws() -> Self {
        Self::aws_with(&[(vars::METADATA_BASE_URL, "{server}/v1/metadata/")]).await
    }

    /// A server on fresh emulator resources with these configuration variables besides them.
    pub async fn aws_with(env: &[(&'static str, &str)]) -> Self {
        let resources = provision_all().await;
        let mut vars = aws_env(&resources);
        vars.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
        Self::start(vars, Family::Aws(resources)).await
    }

    /// A server the test started itself (e.g. over an app with a fault injected), over the
    /// stores of `family`.
    pub fn around(server: TestServer, family: Family) -> Self {
        let vars = match &family {
            Family::Embedded(dir) => vec![
                (vars::BACKEND, "embedded".to_string()),
                (vars::DATA_DIR, dir.path().display().to_string()),
            ],
            Family::Aws(resources) => aws_env(resources),
        };
        Self {
            server,
            client: reqwest::Client::new(),
            family,
            vars: vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }

    async fn start(vars: Vec<(&'static str, String)>, family: Family) -> Self {
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server = TestServer::start(&pairs).await.expect("local server");
        let vars = vars
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.replace("{server}", &server.base_url)))
            .collect();
        Self {
            server,
            client: reqwest::Client::new(),
            family,
            vars,
        }
    }

    /// A second app over the same stores and configuration, to look at what the server
    /// wrote or call what it calls internally.
    pub async fn backstage(&self) -> App {
        let config = Config::from_vars(&self.vars).expect("the server's configuration");
        match &config.backend {
            Backend::Embedded { data_dir, .. } => {
                let public_url = "http://127.0.0.1:1".parse().expect("literal URL");
                App::open_embedded(data_dir, public_url, &config)
                    .await
                    .expect("embedded app")
                    .app
            }
            Backend::Aws(resources) => App::connect_aws(resources, &config).await.expect("aws app"),
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

    /// A GET: status, headers and body.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call("GET", path, token, None, None).await
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

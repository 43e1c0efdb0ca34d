//! Configuration from the environment, validated once at start.
//!
//! There is no fallback secret in any mode: AWS mode names its KMS key, table, queues and
//! bucket; embedded mode creates its own key files under the data directory on first run.

use std::collections::HashMap;
use std::path::PathBuf;
use url::Url;

use crate::ports::step_queue::DEFAULT_MAX_RECEIVES;

/// Every variable this crate reads, for the README's configuration reference and its test.
pub mod vars {
    pub const BACKEND: &str = "WALLETLESS_BACKEND";
    pub const NETWORKS_FILE: &str = "WALLETLESS_NETWORKS_FILE";
    pub const METADATA_BASE_URL: &str = "WALLETLESS_METADATA_BASE_URL";
    pub const STEP_MAX_RECEIVES: &str = "WALLETLESS_STEP_MAX_RECEIVES";
    pub const DATA_DIR: &str = "WALLETLESS_DATA_DIR";
    pub const LISTEN: &str = "WALLETLESS_LISTEN";
    pub const PUBLIC_URL: &str = "WALLETLESS_PUBLIC_URL";
    pub const RECORDS_TABLE: &str = "WALLETLESS_RECORDS_TABLE";
    pub const KMS_KEY_ID: &str = "WALLETLESS_KMS_KEY_ID";
    pub const STEP_QUEUE_URL: &str = "WALLETLESS_STEP_QUEUE_URL";
    pub const STEP_DEAD_LETTER_QUEUE_URL: &str = "WALLETLESS_STEP_DEAD_LETTER_QUEUE_URL";
    pub const WEBHOOK_QUEUE_URL: &str = "WALLETLESS_WEBHOOK_QUEUE_URL";
    pub const WEBHOOK_DEAD_LETTER_QUEUE_URL: &str = "WALLETLESS_WEBHOOK_DEAD_LETTER_QUEUE_URL";
    pub const ARCHIVE_BUCKET: &str = "WALLETLESS_ARCHIVE_BUCKET";
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("configuration: {var} is not set ({what})")]
    Missing {
        var: &'static str,
        what: &'static str,
    },
    #[error("configuration: {var}={value:?} is invalid: {why}")]
    Invalid {
        var: &'static str,
        value: String,
        why: String,
    },
}

/// Where the adapters point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, a master key file and a directory under `data_dir`. `public_url` is where the
    /// local server is reached (for archive links); unset, the server uses its own address.
    Embedded {
        data_dir: PathBuf,
        public_url: Option<Url>,
    },
    Aws(AwsResources),
}

/// The AWS resources of a deployment (names from the SAM template's outputs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsResources {
    pub records_table: String,
    pub kms_key_id: String,
    pub step_queue_url: String,
    pub step_dead_letter_queue_url: String,
    /// Webhook deliveries have a queue of their own: a flood of them never delays a step.
    pub webhook_queue_url: String,
    pub webhook_dead_letter_queue_url: String,
    pub archive_bucket: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub backend: Backend,
    pub networks_file: Option<PathBuf>,
    /// Public base URL of ARC-3 metadata files (`.../v1/metadata/`); embedded mode defaults to
    /// the local server's own.
    pub metadata_base_url: Option<Url>,
    /// Receives after which a step goes to the dead-letter queue (AWS: the redrive policy's
    /// maxReceiveCount, which this must equal).
    pub step_max_receives: u32,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// The same as [`Config::from_env`], from an explicit map (tests, tools).
    pub fn from_vars(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |var: &str| env.get(var).map(|v| v.trim()).filter(|v| !v.is_empty());
        let require = |var: &'static str, what: &'static str| {
            get(var)
                .map(str::to_string)
                .ok_or(ConfigError::Missing { var, what })
        };
        let backend = match get(vars::BACKEND).unwrap_or("embedded") {
            "embedded" => Backend::Embedded {
                data_dir: get(vars::DATA_DIR)
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(".walletless")),
                public_url: get(vars::PUBLIC_URL)
                    .map(|value| {
                        Url::parse(value).map_err(|e| ConfigError::Invalid {
                            var: vars::PUBLIC_URL,
                            value: value.to_string(),
                            why: e.to_string(),
                        })
                    })
                    .transpose()?,
            },
            "aws" => Backend::Aws(AwsResources {
                records_table: require(vars::RECORDS_TABLE, "the DynamoDB records table")?,
                kms_key_id: require(vars::KMS_KEY_ID, "the KMS key id, ARN or alias")?,
                step_queue_url: require(vars::STEP_QUEUE_URL, "the SQS steps queue URL")?,
                step_dead_letter_queue_url: require(
                    vars::STEP_DEAD_LETTER_QUEUE_URL,
                    "the SQS dead-letter queue URL",
                )?,
                webhook_queue_url: require(
                    vars::WEBHOOK_QUEUE_URL,
                    "the SQS webhook deliveries queue URL",
                )?,
                webhook_dead_letter_queue_url: require(
                    vars::WEBHOOK_DEAD_LETTER_QUEUE_URL,
                    "the SQS webhook dead-letter queue URL",
                )?,
                archive_bucket: require(vars::ARCHIVE_BUCKET, "the S3 archive bucket")?,
            }),
            other => {
                return Err(ConfigError::Invalid {
                    var: vars::BACKEND,
                    value: other.to_string(),
                    why: "must be embedded or aws".into(),
                });
            }
        };
        let step_max_receives = match get(vars::STEP_MAX_RECEIVES) {
            None => DEFAULT_MAX_RECEIVES,
            Some(value) => value
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    var: vars::STEP_MAX_RECEIVES,
                    value: value.to_string(),
                    why: "must be a whole number from 1 to 1000".into(),
                })?,
        };
        let metadata_base_url = get(vars::METADATA_BASE_URL)
            .map(|value| {
                Url::parse(value)
                    .ok()
                    .filter(|url| {
                        matches!(url.scheme(), "https" | "http") && url.path().ends_with('/')
                    })
                    .ok_or_else(|| ConfigError::Invalid {
                        var: vars::METADATA_BASE_URL,
                        value: value.to_string(),
                        why: "must be an http(s) URL ending with /".into(),
                    })
            })
            .transpose()?;
        Ok(Self {
            backend,
            networks_file: get(vars::NETWORKS_FILE).map(PathBuf::from),
            metadata_base_url,
            step_max_receives,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn embedded_is_the_default() {
        let config = Config::from_vars(&env(&[])).unwrap();
        assert_eq!(
            config.backend,
            Backend::Embedded {
                data_dir: ".walletless".into(),
                public_url: None,
            }
        );
        assert_eq!(config.step_max_receives, DEFAULT_MAX_RECEIVES);
    }

    #[test]
    fn aws_mode_names_the_first_missing_resource() {
        let err = Config::from_vars(&env(&[(vars::BACKEND, "aws"), (vars::RECORDS_TABLE, "t")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration: WALLETLESS_KMS_KEY_ID is not set (the KMS key id, ARN or alias)"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Config::from_vars(&env(&[(vars::BACKEND, "cloud")])).is_err());
        assert!(Config::from_vars(&env(&[(vars::STEP_MAX_RECEIVES, "0")])).is_err());
    }
}

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
    pub const AUDIT_EXPORT_QUEUE_URL: &str = "WALLETLESS_AUDIT_EXPORT_QUEUE_URL";
    pub const AUDIT_EXPORT_DEAD_LETTER_QUEUE_URL: &str =
        "WALLETLESS_AUDIT_EXPORT_DEAD_LETTER_QUEUE_URL";
    pub const ARCHIVE_BUCKET: &str = "WALLETLESS_ARCHIVE_BUCKET";
    pub const RATE_LIMITS_ENABLED: &str = "WALLETLESS_RATE_LIMITS_ENABLED";
    pub const RATE_LIMIT_PER_MINUTE: &str = "WALLETLESS_RATE_LIMIT_PER_MINUTE";
    pub const RATE_LIMIT_WINDOW_SECONDS: &str = "WALLETLESS_RATE_LIMIT_WINDOW_SECONDS";
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
    /// Audit exports have one too: a job runs for minutes, far longer than a step.
    pub audit_export_queue_url: String,
    pub audit_export_dead_letter_queue_url: String,
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
    pub rate_limits: RateLimits,
}

/// The API's rate limits (`crate::api::rate_limit` applies them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    pub enabled: bool,
    /// Requests per window of a route without a budget of its own; the routes that have one
    /// (`crate::api::rate_limit::ROUTE_SHARES`) get a share of it.
    pub default_limit: u32,
    /// The sliding window's length: 60 s, so the limits are per minute (tests shorten it).
    pub window_seconds: u32,
}

impl RateLimits {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const DEFAULT_WINDOW_SECONDS: u32 = 60;
    /// Above this, counters would stop meaning anything (and their arithmetic stays far
    /// from overflow).
    pub const MAX_LIMIT: u32 = 10_000_000;
    /// An hour: a longer window would keep counters for hours after a burst.
    pub const MAX_WINDOW_SECONDS: u32 = 3600;

    /// Limits switched off: no counting, no headers.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// The limits as `WALLETLESS_RATE_LIMITS_ENABLED`, `WALLETLESS_RATE_LIMIT_PER_MINUTE` and
    /// `WALLETLESS_RATE_LIMIT_WINDOW_SECONDS` set them (part of [`Config::from_vars`]).
    pub fn from_vars(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let enabled = match get(env, vars::RATE_LIMITS_ENABLED) {
            None => true,
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: vars::RATE_LIMITS_ENABLED,
                    value: other.to_string(),
                    why: "must be true or false".into(),
                });
            }
        };
        Ok(Self {
            enabled,
            default_limit: bounded(
                env,
                vars::RATE_LIMIT_PER_MINUTE,
                Self::DEFAULT_LIMIT,
                Self::MAX_LIMIT,
            )?,
            window_seconds: bounded(
                env,
                vars::RATE_LIMIT_WINDOW_SECONDS,
                Self::DEFAULT_WINDOW_SECONDS,
                Self::MAX_WINDOW_SECONDS,
            )?,
        })
    }
}

/// A variable's value, trimmed; unset and blank are the same.
fn get<'e>(env: &'e HashMap<String, String>, var: &str) -> Option<&'e str> {
    env.get(var).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// A whole number from 1 to `max`, or `default` when unset.
fn bounded(
    env: &HashMap<String, String>,
    var: &'static str,
    default: u32,
    max: u32,
) -> Result<u32, ConfigError> {
    match get(env, var) {
        None => Ok(default),
        Some(value) => value
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ConfigError::Invalid {
                var,
                value: value.to_string(),
                why: format!("must be a whole number from 1 to {max}"),
            }),
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            default_limit: Self::DEFAULT_LIMIT,
            window_seconds: Self::DEFAULT_WINDOW_SECONDS,
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// The same as [`Config::from_env`], from an explicit map (tests, tools).
    pub fn from_vars(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |var: &str| get(env, var);
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
                audit_export_queue_url: require(
                    vars::AUDIT_EXPORT_QUEUE_URL,
                    "the SQS audit exports queue URL",
                )?,
                audit_export_dead_letter_queue_url: require(
                    vars::AUDIT_EXPORT_DEAD_LETTER_QUEUE_URL,
                    "the SQS audit exports dead-letter queue URL",
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
        let step_max_receives = bounded(env, vars::STEP_MAX_RECEIVES, DEFAULT_MAX_RECEIVES, 1000)?;
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
            rate_limits: RateLimits::from_vars(env)?,
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

    /// Every AWS-mode variable, each set to its own name in lowercase.
    fn all_aws_vars() -> HashMap<String, String> {
        let mut pairs = env(&[(vars::BACKEND, "aws")]);
        for var in [
            vars::RECORDS_TABLE,
            vars::KMS_KEY_ID,
            vars::STEP_QUEUE_URL,
            vars::STEP_DEAD_LETTER_QUEUE_URL,
            vars::WEBHOOK_QUEUE_URL,
            vars::WEBHOOK_DEAD_LETTER_QUEUE_URL,
            vars::AUDIT_EXPORT_QUEUE_URL,
            vars::AUDIT_EXPORT_DEAD_LETTER_QUEUE_URL,
            vars::ARCHIVE_BUCKET,
        ] {
            pairs.insert(var.to_string(), var.to_lowercase());
        }
        pairs
    }

    #[test]
    fn aws_mode_reads_every_resource_from_its_own_variable() {
        let config = Config::from_vars(&all_aws_vars()).unwrap();
        let Backend::Aws(resources) = config.backend else {
            panic!("not aws: {:?}", config.backend);
        };
        assert_eq!(
            resources,
            AwsResources {
                records_table: "walletless_records_table".into(),
                kms_key_id: "walletless_kms_key_id".into(),
                step_queue_url: "walletless_step_queue_url".into(),
                step_dead_letter_queue_url: "walletless_step_dead_letter_queue_url".into(),
                webhook_queue_url: "walletless_webhook_queue_url".into(),
                webhook_dead_letter_queue_url: "walletless_webhook_dead_letter_queue_url".into(),
                audit_export_queue_url: "walletless_audit_export_queue_url".into(),
                audit_export_dead_letter_queue_url: "walletless_audit_export_dead_letter_queue_url"
                    .into(),
                archive_bucket: "walletless_archive_bucket".into(),
            }
        );
    }

    #[test]
    fn aws_mode_requires_the_audit_export_queues() {
        for var in [
            vars::AUDIT_EXPORT_QUEUE_URL,
            vars::AUDIT_EXPORT_DEAD_LETTER_QUEUE_URL,
        ] {
            let mut pairs = all_aws_vars();
            pairs.remove(var);
            let err = Config::from_vars(&pairs).unwrap_err();
            assert!(
                matches!(err, ConfigError::Missing { var: missing, .. } if missing == var),
                "{var}: {err}"
            );
        }
    }

    #[test]
    fn rate_limits_default_to_100_a_minute_and_are_read_from_their_variables() {
        assert_eq!(
            Config::from_vars(&env(&[])).unwrap().rate_limits,
            RateLimits {
                enabled: true,
                default_limit: 100,
                window_seconds: 60,
            }
        );
        assert_eq!(
            Config::from_vars(&env(&[
                (vars::RATE_LIMITS_ENABLED, "false"),
                (vars::RATE_LIMIT_PER_MINUTE, "100000"),
                (vars::RATE_LIMIT_WINDOW_SECONDS, "2"),
            ]))
            .unwrap()
            .rate_limits,
            RateLimits {
                enabled: false,
                default_limit: 100_000,
                window_seconds: 2,
            }
        );
        assert!(!RateLimits::disabled().enabled);
    }

    #[test]
    fn bad_rate_limits_stop_the_configuration() {
        for (var, value) in [
            (vars::RATE_LIMITS_ENABLED, "yes"),
            (vars::RATE_LIMIT_PER_MINUTE, "0"),
            (vars::RATE_LIMIT_PER_MINUTE, "-5"),
            (vars::RATE_LIMIT_PER_MINUTE, "10000001"),
            (vars::RATE_LIMIT_WINDOW_SECONDS, "0"),
            (vars::RATE_LIMIT_WINDOW_SECONDS, "3601"),
            (vars::RATE_LIMIT_WINDOW_SECONDS, "1.5"),
        ] {
            let err = Config::from_vars(&env(&[(var, value)])).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { var: bad, .. } if *bad == var),
                "{var}={value}: {err}"
            );
        }
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Config::from_vars(&env(&[(vars::BACKEND, "cloud")])).is_err());
        assert!(Config::from_vars(&env(&[(vars::STEP_MAX_RECEIVES, "0")])).is_err());
    }
}

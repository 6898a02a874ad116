//! The only module that calls AWS: SDK clients built once per run from one `SdkConfig`, and the
//! operations rig needs on them (`cfn`: stacks and change sets; `store`: buckets, templates, SSM
//! parameters and ECR repositories; `apps`: what a running application looks like in ECS, ELB,
//! CloudWatch Logs and Route 53; `pipeline`: CodePipeline executions and approvals;
//! `preflight`: what `rig check` reads: the caller, the certificate, key pairs and quotas).
//!
//! Every command honours `--profile`, `--region` and `--endpoint-url` (or `AWS_ENDPOINT_URL`).
//! With an endpoint override S3 uses path-style addressing, which local emulators need.

pub mod apps;
pub mod cfn;
pub mod checkip;
pub mod pipeline;
pub mod preflight;
mod probes;
pub mod store;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Where and as whom to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// The service clients the engine uses, and the count of the calls made through them.
#[derive(Clone, Debug)]
pub struct Clients {
    pub acm: aws_sdk_acm::Client,
    pub cfn: aws_sdk_cloudformation::Client,
    pub codepipeline: aws_sdk_codepipeline::Client,
    pub s3: aws_sdk_s3::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub sts: aws_sdk_sts::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub rds: aws_sdk_rds::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub route53: aws_sdk_route53::Client,
    pub quotas: aws_sdk_servicequotas::Client,
    pub region: String,
    pub endpoint_url: Option<String>,
    pub calls: CallCounter,
}

impl Clients {
    /// Loads credentials and settings the standard way, then applies the overrides.
    pub async fn new(opts: &AwsOptions) -> Clients {
        let endpoint = opts
            .endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .filter(|s| !s.is_empty());
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // Three attempts: enough for throttling, short enough that an operation the
            // endpoint does not implement (HTTP 500/501) is reported within seconds.
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(200)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(p) = &opts.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &opts.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(e) = &endpoint {
            loader = loader.endpoint_url(e);
        }
        Clients::from_sdk_config(&loader.load().await)
    }

    /// Clients aimed at a closed loopback port (127.0.0.1:9), for unit tests that must make no
    /// call: any call fails, and the counter shows it.
    #[cfg(test)]
    pub(crate) fn offline() -> Clients {
        Clients::from_sdk_config(
            &aws_config::SdkConfig::builder()
                .endpoint_url("http://127.0.0.1:9")
                .region(Region::new("us-east-1"))
                .behavior_version(BehaviorVersion::latest())
                .build(),
        )
    }

    /// Every client from one `SdkConfig` (the seam tests and proxies use: point its endpoint
    /// anywhere). With an endpoint override S3 uses path-style addressing.
    pub fn from_sdk_config(conf: &aws_config::SdkConfig) -> Clients {
        let region = conf
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_string());
        let endpoint = conf.endpoint_url().map(str::to_string);
        let calls = CallCounter::default();
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(conf)
                        .interceptor(calls.clone())
                        .build(),
                )
            };
        }
        let s3conf = aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(endpoint.is_some())
            .interceptor(calls.clone())
            .build();
        Clients {
            acm: client!(aws_sdk_acm),
            cfn: client!(aws_sdk_cloudformation),
            codepipeline: client!(aws_sdk_codepipeline),
            s3: aws_sdk_s3::Client::from_conf(s3conf),
            ssm: client!(aws_sdk_ssm),
            sts: client!(aws_sdk_sts),
            ecs: client!(aws_sdk_ecs),
            ecr: client!(aws_sdk_ecr),
            rds: client!(aws_sdk_rds),
            ec2: client!(aws_sdk_ec2),
            elb: client!(aws_sdk_elasticloadbalancingv2),
            logs: client!(aws_sdk_cloudwatchlogs),
            route53: client!(aws_sdk_route53),
            quotas: client!(aws_sdk_servicequotas),
            region,
            endpoint_url: endpoint,
            calls,
        }
    }
}

/// Counts every request attempt sent to AWS, by service and operation (an SDK interceptor on
/// every client). Shared by clones.
#[derive(Clone, Debug, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<(String, String), usize>>>);

/// The calls made so far: (service, operation) → attempts.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CallCounts(pub BTreeMap<String, usize>);

impl CallCounts {
    pub fn total(&self) -> usize {
        self.0.values().sum()
    }

    /// Calls that change something: operations named Create*, Put*, Delete*, Update*, Execute*,
    /// Add*, Remove*, Batch*, Set*, Tag*, Untag*, Start*, Stop*, Cancel*, Continue*, Register*,
    /// Deregister*, Modify*.
    pub fn mutating(&self) -> usize {
        const VERBS: [&str; 18] = [
            "Create",
            "Put",
            "Delete",
            "Update",
            "Execute",
            "Add",
            "Remove",
            "Batch",
            "Set",
            "Tag",
            "Untag",
            "Start",
            "Stop",
            "Cancel",
            "Continue",
            "Register",
            "Deregister",
            "Modify",
        ];
        self.0
            .iter()
            .filter(|(op, _)| {
                let name = op.rsplit(':').next().unwrap_or(op);
                VERBS.iter().any(|v| name.starts_with(v))
            })
            .map(|(_, n)| n)
            .sum()
    }
}

impl CallCounter {
    /// A snapshot, keyed `service:Operation`.
    pub fn snapshot(&self) -> CallCounts {
        CallCounts(
            self.0
                .lock()
                .expect("lock")
                .iter()
                .map(|((s, o), n)| (format!("{s}:{o}"), *n))
                .collect(),
        )
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "rig::CallCounter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            *self
                .0
                .lock()
                .expect("lock")
                .entry((m.service().to_string(), m.name().to_string()))
                .or_default() += 1;
        }
        Ok(())
    }
}

/// An AWS call that failed, with what rig was doing.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{op}: the endpoint does not implement this operation ({detail}){}", endpoint.as_ref().map(|e| format!(" — {e} is a stand-in without it")).unwrap_or_default())]
    NotImplemented {
        op: String,
        detail: String,
        endpoint: Option<String>,
    },
    #[error("{op}: {message}{}", request_id.as_ref().map(|r| format!(" (AWS request id {r})")).unwrap_or_default())]
    Service {
        op: String,
        code: Option<String>,
        message: String,
        /// The `x-amzn-RequestId` (S3: `x-amz-request-id`) of the failed request, for AWS support.
        request_id: Option<String>,
    },
    #[error("{op}: cannot reach AWS: {message}\n  hint: check your credentials (--profile), region (--region) and network, or the endpoint (--endpoint-url)")]
    Transport { op: String, message: String },
}

impl AwsError {
    /// The service error code (`ValidationError`, `NoSuchBucket`, ...), if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Service { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The AWS request id of the failed request, when AWS answered.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            AwsError::Service { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    pub fn message(&self) -> String {
        match self {
            AwsError::Service { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// Converts an SDK error into an [`AwsError`] for operation `op`.
pub fn aws_err<E, R>(
    op: &str,
    endpoint: Option<&str>,
    e: aws_sdk_cloudformation::error::SdkError<E, R>,
) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    use aws_sdk_cloudformation::error::SdkError;
    match &e {
        SdkError::ServiceError(se) => {
            let status = se.raw().http_status();
            let err = se.err();
            let code = err.code().map(str::to_string);
            let message = err.message().map(str::to_string).unwrap_or_else(|| {
                format!("{}", aws_sdk_cloudformation::error::DisplayErrorContext(&e))
            });
            let unimplemented = status == 501
                || (status == 500
                    && (message.to_ascii_lowercase().contains("not yet implemented")
                        || message.to_ascii_lowercase().contains("not implemented")
                        || code.as_deref() == Some("NotImplemented")
                        || code.is_none()));
            if unimplemented {
                AwsError::NotImplemented {
                    op: op.to_string(),
                    detail: format!("HTTP {status}"),
                    endpoint: endpoint.map(str::to_string),
                }
            } else {
                AwsError::Service {
                    op: op.to_string(),
                    code,
                    message,
                    request_id: se.raw().request_id(),
                }
            }
        }
        SdkError::ResponseError(re) if re.raw().http_status() >= 500 => AwsError::NotImplemented {
            op: op.to_string(),
            detail: format!("HTTP {}", re.raw().http_status()),
            endpoint: endpoint.map(str::to_string),
        },
        _ => AwsError::Transport {
            op: op.to_string(),
            message: format!("{}", aws_sdk_cloudformation::error::DisplayErrorContext(&e)),
        },
    }
}

/// Access to the HTTP status and request id of a raw response, whatever the client crate.
pub trait HttpStatus {
    fn http_status(&self) -> u16;
    /// The request id AWS gives every answer (`x-amzn-RequestId`, or S3's `x-amz-request-id`).
    fn request_id(&self) -> Option<String>;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn http_status(&self) -> u16 {
        self.status().as_u16()
    }

    fn request_id(&self) -> Option<String> {
        ["x-amzn-requestid", "x-amz-request-id"]
            .iter()
            .find_map(|h| self.headers().get(*h))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }
}

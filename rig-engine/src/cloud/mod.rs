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
mod error;
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

pub use error::{aws_err, AwsError, HttpStatus};

/// Where and as whom to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Attempts per AWS call, the first one included (see [`Clients::new`]).
pub const MAX_ATTEMPTS: u32 = 5;

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
            // The SDK's standard mode retries throttling errors and transient 5xx answers with
            // exponential backoff and full jitter (0.2 s, 0.4 s, 0.8 s, 1.6 s at most): five
            // attempts, so a failure that lasts is still reported within seconds.
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(MAX_ATTEMPTS)
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

/// Whether profile `name` is in the shared config or credentials file (`~/.aws/config`,
/// `~/.aws/credentials`, or the files `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE` name), read
/// as the SDK reads them. Errors: a file that cannot be parsed, as text.
pub async fn profile_exists(name: &str) -> Result<bool, String> {
    use aws_runtime::env_config::file::EnvConfigFiles;
    use aws_types::os_shim_internal::{Env, Fs};
    let set =
        aws_config::profile::load(&Fs::real(), &Env::real(), &EnvConfigFiles::default(), None)
            .await
            .map_err(|e| e.to_string())?;
    Ok(set.get_profile(name).is_some())
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

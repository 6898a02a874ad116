//! From the global options to a ready engine: configuration, plugins, plan, clients, account.
//! The CLI, the task programs and the tests all start here; what can be checked without AWS is
//! checked by [`Session::load`] before any AWS call.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cloud::{AwsError, AwsOptions, Clients};
use crate::config::{self, ConfigError, Overrides, Riglet};
use crate::engine::{Engine, EngineOptions};
use crate::events::EventSink;
use crate::planner::{self, Backends, PlanError, RigletPlan};
use crate::plugin::{HostError, PluginHost, SearchPath};

/// What every command is given.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// The riglet configuration file (`rig.toml`).
    pub config: PathBuf,
    /// AWS profile, region (overrides the config's) and endpoint (else `AWS_ENDPOINT_URL`).
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Plugin libraries to load before searching the standard places.
    pub plugins: Vec<PathBuf>,
    /// `--env`, `--compute`, `--db`.
    pub environments: Vec<String>,
    pub compute: Option<String>,
    pub database: Option<String>,
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Plugin(Box<HostError>),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("checking AWS credentials (sts:GetCallerIdentity): {0}")]
    Credentials(#[source] AwsError),
    #[error("AWS profile `{name}` (--profile or AWS_PROFILE) is in neither the shared config nor the credentials file{}\n  hint: name a profile that `aws configure list-profiles` shows, or leave --profile and AWS_PROFILE out to use the default credentials", problem.as_ref().map(|p| format!(" ({p})")).unwrap_or_default())]
    Profile {
        name: String,
        /// Why the files could not be read, if they could not.
        problem: Option<String>,
    },
    #[error("`{0}` (--endpoint-url or AWS_ENDPOINT_URL) is not an endpoint URL\n  hint: give a scheme and a host, like http://127.0.0.1:5000 or https://cloudformation.us-east-1.amazonaws.com")]
    Endpoint(String),
}

/// Whether `url` is usable as an endpoint: `http://` or `https://`, then a host, no space.
fn is_endpoint_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', ':', '?']).next().unwrap_or_default();
        !host.is_empty() && !r.contains(char::is_whitespace)
    })
}

impl From<HostError> for SessionError {
    fn from(e: HostError) -> Self {
        SessionError::Plugin(Box::new(e))
    }
}

/// A riglet's configuration, backends and plan.
pub struct Session {
    pub options: SessionOptions,
    pub riglet: Riglet,
    pub backends: Backends,
    pub plan: RigletPlan,
}

impl Session {
    /// Reads the configuration, loads the backends and plans the riglet; no AWS call.
    pub fn load(options: &SessionOptions) -> Result<Session, SessionError> {
        let ov = Overrides {
            region: options.region.clone(),
            compute: options.compute.clone(),
            database: options.database.clone(),
            environments: options.environments.clone(),
        };
        let riglet = config::load(&options.config, &ov)?;
        let host = plugin_host(options, Some(&riglet));
        let backends = Backends::load(&riglet, &host)?;
        let plan = planner::plan(&riglet, &backends)?;
        Ok(Session {
            options: options.clone(),
            riglet,
            backends,
            plan,
        })
    }

    /// Builds the AWS clients, checks the credentials, fills in the account id and plans again
    /// with it; returns the engine.
    pub async fn connect(
        &mut self,
        events: Arc<dyn EventSink>,
        engine: EngineOptions,
    ) -> Result<Engine, SessionError> {
        let endpoint = self
            .options
            .endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .filter(|s| !s.is_empty());
        if let Some(url) = endpoint.filter(|u| !is_endpoint_url(u)) {
            return Err(SessionError::Endpoint(url));
        }
        if let Some(name) = &self.options.profile {
            match crate::cloud::profile_exists(name).await {
                Ok(true) => {}
                Ok(false) => {
                    return Err(SessionError::Profile {
                        name: name.clone(),
                        problem: None,
                    })
                }
                Err(problem) => {
                    return Err(SessionError::Profile {
                        name: name.clone(),
                        problem: Some(problem),
                    })
                }
            }
        }
        let clients = Clients::new(&AwsOptions {
            profile: self.options.profile.clone(),
            region: Some(self.riglet.info.region.clone()),
            endpoint_url: self.options.endpoint_url.clone(),
        })
        .await;
        self.connect_with(clients, events, engine).await
    }

    /// [`Session::connect`] with clients made elsewhere (e.g. [`Clients::from_sdk_config`]).
    pub async fn connect_with(
        &mut self,
        clients: Clients,
        events: Arc<dyn EventSink>,
        engine: EngineOptions,
    ) -> Result<Engine, SessionError> {
        let account = clients
            .account_id()
            .await
            .map_err(SessionError::Credentials)?;
        tracing::info!(%account, region = %clients.region, "connected");
        self.riglet.fill_account(&account);
        self.plan = planner::plan(&self.riglet, &self.backends)?;
        Ok(Engine::new(clients, events, engine))
    }
}

/// The plugin search path for these options (and the riglet's `[plugins] paths`, if read).
pub fn plugin_host(options: &SessionOptions, riglet: Option<&Riglet>) -> PluginHost {
    let mut explicit: Vec<PathBuf> = options.plugins.clone();
    if let Some(r) = riglet {
        explicit.extend(r.plugin_paths.iter().cloned());
    }
    let project_dir = riglet
        .map(|r| r.project_dir.clone())
        .or_else(|| options.config.parent().map(Path::to_path_buf));
    PluginHost::new(SearchPath::standard(explicit, project_dir.as_deref()))
}

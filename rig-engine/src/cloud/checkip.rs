//! This machine's public IPv4 address as AWS sees it: one HTTP GET to AWS's "check IP" service
//! (`https://checkip.amazonaws.com`, which answers the caller's address as plain text), for
//! `rig bastion create --my-ip`. [`CHECKIP_URL_VAR`] points it elsewhere (tests, a proxy).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// AWS's service that answers the caller's public IPv4 address.
pub const CHECKIP_URL: &str = "https://checkip.amazonaws.com";

/// The environment variable that replaces [`CHECKIP_URL`].
pub const CHECKIP_URL_VAR: &str = "RIG_CHECKIP_URL";

/// How long the whole request may take.
pub const CHECKIP_TIMEOUT: Duration = Duration::from_secs(5);

/// The answer is one address; anything longer is not one.
const MAX_ANSWER: usize = 1024;

/// The URL asked: [`CHECKIP_URL_VAR`] if set and not empty, else [`CHECKIP_URL`].
pub fn checkip_url() -> String {
    std::env::var(CHECKIP_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| CHECKIP_URL.to_string())
}

/// GETs `url` (http or https) within `timeout` and returns the body as text; the error says
/// what went wrong, for a message.
pub async fn fetch(url: &str, timeout: Duration) -> Result<String, String> {
    let work = async {
        if url.starts_with("http://") {
            get(
                Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
                url,
            )
            .await
        } else {
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
                .map_err(|e| format!("no trusted TLS certificates could be loaded: {e}"))?
                .https_only()
                .enable_http1()
                .build();
            get(Client::builder(TokioExecutor::new()).build(https), url).await
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
    }
}

async fn get<C>(client: Client<C, Empty<Bytes>>, url: &str) -> Result<String, String>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a URL ({e})"))?;
    tracing::debug!(%url, "asking for this machine's public address");
    let response = client
        .get(uri)
        .await
        .map_err(|e| format!("the request failed ({})", causes(&e)))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| format!("reading the answer failed ({})", causes(&*e)))?
        .to_bytes();
    if !status.is_success() {
        return Err(format!("it answered HTTP {status}"));
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// An error and its sources, `a: b: c` (hyper's own message names only the outermost).
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

//! What a failed AWS call becomes: a service error with its code and request id, a server
//! failure after the SDK's retries, an operation the endpoint lacks, or no answer at all.

use super::MAX_ATTEMPTS;

/// An AWS call that failed, with what rig was doing.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// HTTP 501, or a 500 that says the operation is not implemented.
    #[error("{op}: the endpoint does not implement this operation ({detail}){}", endpoint.as_ref().map(|e| format!(" — {e} is a stand-in without it")).unwrap_or_default())]
    NotImplemented {
        op: String,
        detail: String,
        endpoint: Option<String>,
    },
    /// A 5xx answer (other than "not implemented") to every attempt the SDK's retries made.
    #[error("{op}: the server failed (HTTP {status}{}) on each of {MAX_ATTEMPTS} attempts{}{}", code.as_ref().map(|c| format!(", {c}")).unwrap_or_default(), request_id.as_ref().map(|r| format!("; AWS request id {r}")).unwrap_or_default(), match endpoint { Some(e) => format!("\n  hint: {e} answers for AWS here; a local stand-in fails this way on an operation or resource type it does not model"), None => "\n  hint: a fault on AWS's side; run the command again later (rig resumes where it stopped)".to_string() })]
    Server {
        op: String,
        status: u16,
        code: Option<String>,
        request_id: Option<String>,
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
            AwsError::Service { code, .. } | AwsError::Server { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The AWS request id of the failed request, when AWS answered.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            AwsError::Service { request_id, .. } | AwsError::Server { request_id, .. } => {
                request_id.as_deref()
            }
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
    R: std::fmt::Debug + HttpStatus + 'static,
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
            let lower = message.to_ascii_lowercase();
            let unimplemented = status == 501
                || (status == 500
                    && (lower.contains("not yet implemented")
                        || lower.contains("not implemented")
                        || lower.contains("has not been implemented")
                        || code.as_deref() == Some("NotImplemented")));
            if unimplemented {
                AwsError::NotImplemented {
                    op: op.to_string(),
                    detail: format!("HTTP {status}"),
                    endpoint: endpoint.map(str::to_string),
                }
            } else if status >= 500 && !is_throttling(code.as_deref()) {
                AwsError::Server {
                    op: op.to_string(),
                    status,
                    code,
                    request_id: se.raw().request_id(),
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
        SdkError::ResponseError(re) if re.raw().http_status() == 501 => AwsError::NotImplemented {
            op: op.to_string(),
            detail: "HTTP 501".to_string(),
            endpoint: endpoint.map(str::to_string),
        },
        SdkError::ResponseError(re) if re.raw().http_status() >= 500 => AwsError::Server {
            op: op.to_string(),
            status: re.raw().http_status(),
            code: None,
            request_id: re.raw().request_id(),
            endpoint: endpoint.map(str::to_string),
        },
        _ => AwsError::Transport {
            op: op.to_string(),
            message: causes(&e),
        },
    }
}

/// An error and its sources as `a: b: c`, each said once (the SDK's own context adds a Debug
/// dump of the whole error, which tells a user nothing more).
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(c) = cur {
        let text = c.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = c.source();
    }
    parts.join(": ")
}

/// Throttling codes AWS answers with (some services with HTTP 5xx), which stay
/// [`AwsError::Service`] errors with their code. Source: the SDKs' standard retry
/// classification (`aws_smithy_runtime::client::retries::classifiers`).
fn is_throttling(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "Throttling"
                | "ThrottlingException"
                | "ThrottledException"
                | "RequestThrottledException"
                | "TooManyRequestsException"
                | "ProvisionedThroughputExceededException"
                | "TransactionInProgressException"
                | "RequestLimitExceeded"
                | "BandwidthLimitExceeded"
                | "LimitExceededException"
                | "RequestThrottled"
                | "SlowDown"
                | "PriorRequestNotComplete"
                | "EC2ThrottledException"
        )
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::error::SdkError;
    use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn answer(status: u16, code: Option<&str>, message: &str) -> AwsError {
        let mut meta = ErrorMetadata::builder().message(message);
        if let Some(c) = code {
            meta = meta.code(c);
        }
        let raw = Response::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        let e = SdkError::service_error(DescribeStacksError::generic(meta.build()), raw);
        aws_err("DescribeStacks", Some("http://127.0.0.1:5000"), e)
    }

    #[test]
    fn a_5xx_is_a_server_failure_and_only_a_real_unknown_operation_is_not_implemented() {
        let crashed = answer(500, None, "Internal Server Error");
        assert!(
            matches!(crashed, AwsError::Server { status: 500, .. }),
            "{crashed:?}"
        );
        let text = crashed.to_string();
        assert!(
            text.starts_with("DescribeStacks: the server failed (HTTP 500) on each of 5 attempts"),
            "{text}"
        );
        assert!(
            text.contains("hint: http://127.0.0.1:5000 answers for AWS here"),
            "{text}"
        );
        let unavailable = answer(503, Some("ServiceUnavailable"), "try later");
        assert!(
            unavailable
                .to_string()
                .contains("(HTTP 503, ServiceUnavailable)"),
            "{unavailable}"
        );
        assert_eq!(unavailable.code(), Some("ServiceUnavailable"));

        for (status, message) in [
            (501, "whatever"),
            (
                500,
                "The UpdateTerminationProtection action has not been implemented",
            ),
        ] {
            let e = answer(status, None, message);
            assert!(
                matches!(e, AwsError::NotImplemented { .. }),
                "{status}: {e:?}"
            );
        }
        // Throttling keeps its code; a client error stays a service error with its message.
        let throttled = answer(400, Some("Throttling"), "Rate exceeded");
        assert_eq!(throttled.code(), Some("Throttling"));
        assert_eq!(throttled.message(), "Rate exceeded");
        let invalid = answer(400, Some("ValidationError"), "Stack x does not exist");
        assert!(matches!(invalid, AwsError::Service { .. }));
    }

    #[test]
    fn a_5xx_without_a_parsable_error_is_a_server_failure_too() {
        let raw = Response::new(StatusCode::try_from(502).unwrap(), SdkBody::empty());
        let e: SdkError<DescribeStacksError, Response> =
            SdkError::response_error(std::io::Error::other("bad body"), raw);
        let e = aws_err("DescribeStacks", None, e);
        assert!(matches!(e, AwsError::Server { status: 502, .. }), "{e:?}");
        assert!(e.to_string().contains("a fault on AWS's side"), "{e}");
    }
}

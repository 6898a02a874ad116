//! Errors at the CLI edge: what failed, why, and what to do, rendered with miette (help is a
//! separate field, the AWS request id is shown when AWS answered), or, with `--output json`, as
//! the `rig.error/1` document on stdout.
//!
//! rig's libraries end an error's text with `\n  hint: ...` when they know the fix
//! ([`rig_engine::HINT_MARKER`]); the hint becomes the report's help, never part of its message.

use std::error::Error as StdError;
use std::fmt;
use std::io::IsTerminal;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use rig_engine::cloud::AwsError;
use rig_engine::engine::EngineError;
use rig_engine::session::SessionError;
use serde::Serialize;

use crate::output::exit;

/// A usage error found by the CLI itself (a malformed flag value): exit code 64.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// A failed command, as the user sees it.
#[derive(Debug, Serialize)]
pub struct Failure {
    /// What failed.
    pub message: String,
    /// Why, outermost first.
    pub causes: Vec<String>,
    /// What to do about it.
    pub help: Option<String>,
    /// The AWS error code (`ValidationError`, `AccessDenied`, ...), when AWS answered.
    pub code: Option<String>,
    /// The AWS request id of the failed request, when AWS answered.
    pub request_id: Option<String>,
    /// The exit code (see [`crate::output::exit`]).
    pub exit_code: u8,
    #[serde(skip)]
    chain: Option<Box<Cause>>,
}

/// The AWS error anywhere in the chain, through the engine's and the session's wrappers.
fn aws_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a AwsError> {
    if let Some(a) = e.downcast_ref::<AwsError>() {
        return Some(a);
    }
    match e.downcast_ref::<EngineError>() {
        Some(EngineError::Aws(a)) => return Some(a),
        Some(EngineError::Stack(s)) => return s.source().and_then(aws_error),
        _ => {}
    }
    match e.downcast_ref::<SessionError>() {
        Some(SessionError::Credentials(a)) => Some(a),
        _ => None,
    }
}

/// Whether the error is a usage or configuration error (nothing was sent to AWS).
fn is_usage(e: &(dyn StdError + 'static)) -> bool {
    e.is::<Usage>()
        || e.is::<rig_engine::config::ConfigError>()
        || e.is::<rig_engine::secrets::SecretError>()
        || matches!(
            e.downcast_ref::<SessionError>(),
            Some(
                SessionError::Config(_)
                    | SessionError::Plugin(_)
                    | SessionError::Plan(_)
                    | SessionError::Profile { .. }
                    | SessionError::Endpoint(_)
            )
        )
        || matches!(
            e.downcast_ref::<rig_engine::engine::apps::AppError>(),
            Some(rig_engine::engine::apps::AppError::Unknown { .. })
        )
        || matches!(
            e.downcast_ref::<rig_engine::engine::pipelines::PipelineError>(),
            Some(
                rig_engine::engine::pipelines::PipelineError::None
                    | rig_engine::engine::pipelines::PipelineError::Which { .. }
            )
        )
}

/// Splits an error's text into its message and its hints.
fn split(text: &str, hints: &mut Vec<String>) -> String {
    let mut parts = text.split(rig_engine::HINT_MARKER);
    let message = parts.next().unwrap_or_default().trim_end().to_string();
    for h in parts {
        let h = h.trim().to_string();
        if !h.is_empty() && !hints.contains(&h) {
            hints.push(h);
        }
    }
    message
}

impl Failure {
    pub fn from_error(e: &anyhow::Error) -> Failure {
        let mut hints = Vec::new();
        let message = split(&e.to_string(), &mut hints);
        let mut causes: Vec<String> = Vec::new();
        let mut aws = None;
        let mut usage = false;
        for (i, err) in e.chain().enumerate() {
            aws = aws.or_else(|| aws_error(err));
            usage |= is_usage(err);
            if i == 0 {
                continue;
            }
            let text = split(&err.to_string(), &mut hints);
            // A wrapper that prints its source (`...: {0}`) already says it.
            let said = std::iter::once(&message)
                .chain(causes.iter())
                .any(|m| m.contains(&text));
            if !text.is_empty() && !said {
                causes.push(text);
            }
        }
        Failure {
            message,
            help: (!hints.is_empty()).then(|| hints.join("\n")),
            code: aws.and_then(|a| a.code().map(str::to_string)),
            request_id: aws.and_then(|a| a.request_id().map(str::to_string)),
            exit_code: if usage { exit::USAGE } else { exit::FAILURE },
            chain: Cause::chain(&causes),
            causes,
        }
    }

    /// The report for stderr: graphical on a terminal, plain (no colour, ASCII-safe) when
    /// stderr is not one or `NO_COLOR` is set.
    pub fn render(&self) -> String {
        let plain = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
            || !std::io::stderr().is_terminal();
        let theme = if plain {
            GraphicalTheme::unicode_nocolor()
        } else {
            GraphicalTheme::unicode()
        };
        let mut out = String::new();
        // Plain output keeps each line whole, so a message can be searched and copied as is.
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_wrap_lines(!plain);
        if handler.render_report(&mut out, self).is_err() {
            out = format!("error: {}", self.message);
        }
        out
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The causes as an error chain, which miette prints under the message.
#[derive(Debug)]
struct Cause {
    text: String,
    next: Option<Box<Cause>>,
}

impl Cause {
    fn chain(causes: &[String]) -> Option<Box<Cause>> {
        causes.iter().rev().fold(None, |next, text| {
            Some(Box::new(Cause {
                text: text.clone(),
                next,
            }))
        })
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl StdError for Cause {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.next.as_deref().map(|c| c as _)
    }
}

impl StdError for Failure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.chain.as_deref().map(|c| c as _)
    }
}

impl Diagnostic for Failure {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|c| Box::new(format!("aws::{c}")) as _)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match (&self.help, &self.request_id) {
            (None, None) => None,
            (Some(h), None) => Some(Box::new(h)),
            (None, Some(r)) => Some(Box::new(format!("AWS request id: {r}"))),
            (Some(h), Some(r)) => Some(Box::new(format!("{h}\nAWS request id: {r}"))),
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        None
    }

    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_is_help_not_message() {
        let e = anyhow::Error::new(Usage(
            "--retain x: expected STACK/LOGICAL_ID\n  hint: e.g. acme-shop-qa-foundation/InternalDns".into(),
        ));
        let f = Failure::from_error(&e);
        assert_eq!(f.message, "--retain x: expected STACK/LOGICAL_ID");
        assert_eq!(
            f.help.as_deref(),
            Some("e.g. acme-shop-qa-foundation/InternalDns")
        );
        assert_eq!(f.exit_code, exit::USAGE);
        let text = f.render();
        assert!(
            text.contains("--retain x: expected STACK/LOGICAL_ID"),
            "{text}"
        );
        assert!(text.contains("help: e.g. acme-shop"), "{text}");
    }

    #[test]
    fn causes_are_listed_once_and_aws_ids_are_kept() {
        let aws = AwsError::Service {
            op: "CreateChangeSet".into(),
            code: Some("ValidationError".into()),
            message: "Template format error".into(),
            request_id: Some("1234-abcd".into()),
        };
        let e = anyhow::Error::new(EngineError::Aws(aws)).context("rig up did not finish");
        let f = Failure::from_error(&e);
        assert_eq!(f.message, "rig up did not finish");
        assert_eq!(f.causes.len(), 1, "{:?}", f.causes);
        assert!(f.causes[0].starts_with("CreateChangeSet: Template format error"));
        assert_eq!(f.code.as_deref(), Some("ValidationError"));
        assert_eq!(f.request_id.as_deref(), Some("1234-abcd"));
        assert_eq!(f.exit_code, exit::FAILURE);
        let text = f.render();
        assert!(text.contains("AWS request id: 1234-abcd"), "{text}");
        assert!(text.contains("aws::ValidationError"), "{text}");
        assert!(text.contains("Template format error"), "{text}");
    }
}

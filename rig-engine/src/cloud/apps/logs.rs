//! CloudWatch Logs: an application's log lines, page by page. Source: FilterLogEvents.

use crate::cloud::{aws_err, AwsError, Clients};

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// When the application wrote it, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The log stream (`<prefix>/<container>/<task id>` for the awslogs driver).
    pub stream: String,
    /// The line, without its trailing line break.
    pub message: String,
    /// Unique per event: what tells two lines of the same millisecond apart when pages overlap.
    pub event_id: String,
}

impl Clients {
    /// One page of the events of log group `group` from `start_ms` (milliseconds since the
    /// Unix epoch, inclusive), every stream interleaved by time, oldest first (FilterLogEvents;
    /// `interleaved` is what it always does). Give the returned token to read the next page;
    /// `None` means the search reached the present: to follow the log, ask again later from
    /// the last line's `timestamp_ms` and skip the `event_id`s already shown. A page may be
    /// empty while a token remains. A group that does not exist is an error
    /// (`ResourceNotFoundException`) whose message names the group.
    pub async fn log_page(
        &self,
        group: &str,
        start_ms: i64,
        token: Option<String>,
    ) -> Result<(Vec<LogLine>, Option<String>), AwsError> {
        const OP: &str = "FilterLogEvents";
        let out = match self
            .logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(start_ms)
            .set_next_token(token)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                let e = aws_err(OP, self.ep(), e);
                return Err(if e.code() == Some("ResourceNotFoundException") {
                    AwsError::Service {
                        op: OP.into(),
                        code: e.code().map(str::to_string),
                        request_id: None,
                        message: format!("log group {group} does not exist"),
                    }
                } else {
                    e
                });
            }
        };
        let mut lines: Vec<LogLine> = out
            .events()
            .iter()
            .map(|e| LogLine {
                timestamp_ms: e.timestamp().unwrap_or_default(),
                stream: e.log_stream_name().unwrap_or_default().to_string(),
                message: e
                    .message()
                    .unwrap_or_default()
                    .trim_end_matches(['\n', '\r'])
                    .to_string(),
                event_id: e.event_id().unwrap_or_default().to_string(),
            })
            .collect();
        // CloudWatch Logs sorts a page by time; some stand-ins give it stream by stream.
        lines.sort_by_key(|l| l.timestamp_ms);
        Ok((lines, out.next_token().map(str::to_string)))
    }
}

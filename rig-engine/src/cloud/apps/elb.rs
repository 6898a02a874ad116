//! Elastic Load Balancing (v2): the health of a target group's targets and the rules of a
//! listener. Source: DescribeTargetHealth, DescribeRules.

use aws_sdk_elasticloadbalancingv2::types::{Action, Rule};

use crate::cloud::{aws_err, AwsError, Clients};

/// One registered target and its health.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetHealthView {
    /// The target: an IP address for `ip` target groups (a task's ENI), an instance id otherwise.
    pub id: String,
    pub port: Option<i32>,
    /// `initial`, `healthy`, `unhealthy`, `unhealthy.draining`, `unused`, `draining` or
    /// `unavailable` (empty when ELB reports none).
    pub state: String,
    /// Why it is not healthy: `Elb.RegistrationInProgress`, `Target.ResponseCodeMismatch`,
    /// `Target.Timeout`, `Target.FailedHealthChecks`, `Target.DeregistrationInProgress`, ...
    pub reason: Option<String>,
    /// ELB's sentence for it (`Health checks failed with these codes: [404]`, ...).
    pub description: Option<String>,
}

/// One rule of a listener.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListenerRuleView {
    pub arn: String,
    /// `1`–`50000`, or `default` for the listener's default rule.
    pub priority: String,
    /// The host names of its `host-header` conditions (empty when it has none).
    pub hosts: Vec<String>,
    /// The ARNs of the target groups its `forward` actions send to, without repeats.
    pub target_groups: Vec<String>,
}

impl Clients {
    /// The targets registered in a target group and their health, in ELB's order (empty when
    /// none is registered). One DescribeTargetHealth; an unknown target group is an error
    /// (`TargetGroupNotFound`).
    pub async fn target_health(
        &self,
        target_group_arn: &str,
    ) -> Result<Vec<TargetHealthView>, AwsError> {
        let out = self
            .elb
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(|e| aws_err("DescribeTargetHealth", self.ep(), e))?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .map(|d| {
                let health = d.target_health();
                TargetHealthView {
                    id: d
                        .target()
                        .and_then(|t| t.id())
                        .unwrap_or_default()
                        .to_string(),
                    port: d.target().and_then(|t| t.port()),
                    state: health
                        .and_then(|h| h.state())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    reason: health
                        .and_then(|h| h.reason())
                        .map(|r| r.as_str().to_string()),
                    description: health.and_then(|h| h.description()).map(str::to_string),
                }
            })
            .collect())
    }

    /// Every rule of a listener, in ELB's order (by priority, the default rule last).
    /// DescribeRules, every page; an unknown listener is an error (`ListenerNotFound`).
    pub async fn listener_rules(
        &self,
        listener_arn: &str,
    ) -> Result<Vec<ListenerRuleView>, AwsError> {
        let mut rules = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .elb
                .describe_rules()
                .listener_arn(listener_arn)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| aws_err("DescribeRules", self.ep(), e))?;
            rules.extend(page.rules().iter().map(rule_view));
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                return Ok(rules);
            }
        }
    }
}

fn rule_view(r: &Rule) -> ListenerRuleView {
    let mut hosts = Vec::new();
    for c in r.conditions() {
        if c.field() != Some("host-header") {
            continue;
        }
        // The newer `HostHeaderConfig`, else the legacy `Values`.
        match c.host_header_config().map(|h| h.values()) {
            Some(values) if !values.is_empty() => hosts.extend(values.iter().cloned()),
            _ => hosts.extend(c.values().iter().cloned()),
        }
    }
    let mut target_groups: Vec<String> = Vec::new();
    for arn in r.actions().iter().flat_map(forwarded_to) {
        if !target_groups.contains(&arn) {
            target_groups.push(arn);
        }
    }
    ListenerRuleView {
        arn: r.rule_arn().unwrap_or_default().to_string(),
        priority: r.priority().unwrap_or_default().to_string(),
        hosts,
        target_groups,
    }
}

/// The target groups a `forward` action sends to (its `TargetGroupArn` and its
/// `ForwardConfig`'s groups); none for other actions.
fn forwarded_to(a: &Action) -> Vec<String> {
    let single = a.target_group_arn().map(str::to_string);
    let weighted = a
        .forward_config()
        .map(|f| f.target_groups())
        .unwrap_or_default()
        .iter()
        .filter_map(|t| t.target_group_arn().map(str::to_string));
    single.into_iter().chain(weighted).collect()
}

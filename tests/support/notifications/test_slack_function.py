"""Tests of templates/notifications.yaml: its Slack function, run for real, and the stack on rig's
local AWS.

The function's inline code is taken from the template and executed as Lambda would import
`index.py`. It talks to rig-moto (tests/support/moto/rig_moto.py, started on a free port) through
boto3 (`AWS_ENDPOINT_URL`) for the SecureString webhook parameter and the pipeline execution, and
posts to a local HTTP server standing in for Slack. Everything the function logs (root logger,
stdout, stderr, and the traceback Lambda would log for a raised error) is captured; no test may see
the webhook URL in it.

Run: .venv/bin/python tests/support/notifications/test_slack_function.py
"""

import contextlib
import io
import json
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import traceback
import types
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config
from cfnlint.decode import cfn_yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TEMPLATE = os.path.join(ROOT, "templates", "notifications.yaml")
LAUNCHER = os.path.join(ROOT, "tests", "support", "moto", "rig_moto.py")

REGION = "us-east-1"
ACCOUNT = "123456789012"
PARAMETER = "/acme/shop/build/slack-webhook-url"
PIPELINE = "acme-shop-build-api-main"
OTHER_PIPELINE = "acme-shop-build-web-main"
STAGE_EVENT = "CodePipeline Stage Execution State Change"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_template():
    return cfn_yaml.load(TEMPLATE)


def function_code():
    return str(load_template()["Resources"]["SlackFunction"]["Properties"]["Code"]["ZipFile"])


def new_container(code):
    """The function as a fresh Lambda container imports it (module state: clients, cached URL)."""
    module = types.ModuleType("index")
    module.__file__ = "index.py"
    exec(compile(code, "index.py", "exec"), module.__dict__)
    return module


def stage_event(state, stage, execution_id, pipeline=PIPELINE, detail_type=STAGE_EVENT):
    return {
        "version": "0",
        "id": "4e5f6a7b-0000-4000-8000-000000000001",
        "detail-type": detail_type,
        "source": "aws.codepipeline",
        "account": ACCOUNT,
        "time": "2026-01-01T12:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{pipeline}"],
        "detail": {
            "pipeline": pipeline,
            "execution-id": execution_id,
            "stage": stage,
            "state": state,
            "version": 1,
            "pipeline-execution-attempt": 1,
        },
    }


class FakeSlack:
    """Local HTTP server standing in for Slack's incoming webhooks: records each POST (path, JSON
    body) and answers `status` after `delay` seconds."""

    def __init__(self):
        self.posts = []
        self.status = 200
        self.delay = 0.0
        slack = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                slack.posts.append((self.path, json.loads(body)))
                if slack.delay:
                    time.sleep(slack.delay)
                answer = b"ok" if slack.status < 400 else b"no_service"
                try:
                    self.send_response(slack.status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def reset(self):
        self.posts.clear()
        self.status = 200
        self.delay = 0.0

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- module fixtures
EMULATOR = None
ENDPOINT = None
SLACK = None
WEBHOOK_PATH = None
WEBHOOK_URL = None
SAVED_ENV = None
STARTED = None


def client(service):
    return boto3.client(
        service, endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id="testing",
        aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}),
    )


def setUpModule():
    global EMULATOR, ENDPOINT, SLACK, WEBHOOK_PATH, WEBHOOK_URL, SAVED_ENV, STARTED
    STARTED = time.monotonic()
    port = free_port()
    EMULATOR = subprocess.Popen(
        [sys.executable, LAUNCHER, "--host", "127.0.0.1", "--port", str(port), "--exit-when-stdin-closes"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = EMULATOR.stdout.readline()
    assert line.startswith("rig-moto ready on http://127.0.0.1:"), line
    ENDPOINT = f"http://127.0.0.1:{port}"
    SLACK = FakeSlack()
    # Shaped like a real incoming-webhook path; the last part is the secret.
    WEBHOOK_PATH = f"/services/T0RIG0000/B0RIG0000/{secrets.token_hex(12)}"
    WEBHOOK_URL = SLACK.url(WEBHOOK_PATH)
    SAVED_ENV = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ.update({
        "AWS_ENDPOINT_URL": ENDPOINT,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": "acme-shop-build-slack",
        "WEBHOOK_PARAMETER": PARAMETER,  # the function's only environment variable: a name
    })


def tearDownModule():
    if SLACK:
        SLACK.close()
    if EMULATOR:
        EMULATOR.terminate()
        EMULATOR.wait(10)
    if SAVED_ENV is not None:
        os.environ.clear()
        os.environ.update(SAVED_ENV)
    print(f"\nnotifications tests: {time.monotonic() - STARTED:.1f} s including the emulator's start", file=sys.stderr)


# --------------------------------------------------------------------------- the function
class SlackFunctionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.code = function_code()
        cls.ssm = client("ssm")
        cls.ssm.put_parameter(Name=PARAMETER, Type="SecureString", Value=WEBHOOK_URL, Overwrite=True)
        # A pipeline and an execution the emulator knows (moto records executions without artifact
        # revisions, so GetPipelineExecution answers but gives no commit).
        iam = client("iam")
        role = iam.create_role(RoleName="codepipeline-test", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"},
                           "Action": "sts:AssumeRole"}],
        }))["Role"]
        codepipeline = client("codepipeline")
        codepipeline.create_pipeline(pipeline={
            "name": PIPELINE,
            "roleArn": role["Arn"],
            "artifactStore": {"type": "S3", "location": "rig-acme-shop-us-east-1-build"},
            "stages": [
                {"name": "Source", "actions": [{
                    "name": "Source", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                    "configuration": {"S3Bucket": "src", "S3ObjectKey": "src.zip"}, "outputArtifacts": [{"name": "SourceOutput"}]}]},
                {"name": "Build", "actions": [{
                    "name": "Build", "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                    "configuration": {"ProjectName": "acme-shop-api-main-build"}, "inputArtifacts": [{"name": "SourceOutput"}]}]},
            ],
        })
        cls.execution_id = codepipeline.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]

    def setUp(self):
        SLACK.reset()
        self.fn = new_container(self.code)
        self.logged = []  # every log line and traceback the function produces
        root = logging.getLogger()
        lines = self.logged

        class Capture(logging.Handler):
            def emit(self, record):
                lines.append(self.format(record))

        self.capture = Capture()
        self.capture.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        root.addHandler(self.capture)
        self.out, self.err = io.StringIO(), io.StringIO()
        self.redirects = contextlib.ExitStack()
        self.redirects.enter_context(contextlib.redirect_stdout(self.out))
        self.redirects.enter_context(contextlib.redirect_stderr(self.err))

    def tearDown(self):
        self.redirects.close()
        logging.getLogger().removeHandler(self.capture)
        written = "\n".join(self.logged + [self.out.getvalue(), self.err.getvalue()])
        secret = WEBHOOK_PATH.rsplit("/", 1)[1]
        self.assertNotIn(WEBHOOK_URL, written)
        self.assertNotIn(secret, written)
        self.assertNotIn("hooks.slack.com", written)

    def invoke(self, event):
        """Call the handler as Lambda does; a raised error is logged with its traceback (as the
        runtime does) and re-raised."""
        try:
            return self.fn.handler(event, None)
        except Exception as e:
            self.logged.append("".join(traceback.format_exception(e)))
            raise

    def only_post(self):
        self.assertEqual(len(SLACK.posts), 1, SLACK.posts)
        path, body = SLACK.posts[0]
        self.assertEqual(path, WEBHOOK_PATH)
        return body

    def emulator_commit(self):
        """The short commit the emulator gives for the test execution, if any."""
        execution = client("codepipeline").get_pipeline_execution(
            pipelineName=PIPELINE, pipelineExecutionId=self.execution_id)["pipelineExecution"]
        revisions = [r for r in execution.get("artifactRevisions") or [] if r.get("revisionId")]
        return revisions[0]["revisionId"][:7] if revisions else None

    @staticmethod
    def fields(body):
        return {f["title"]: f["value"] for f in body["attachments"][0]["fields"]}

    def test_failed_stage_posts_a_danger_message_naming_the_stage(self):
        result = self.invoke(stage_event("FAILED", "Deploy-Integration", self.execution_id))
        self.assertEqual(result, {"posted": True, "status": 200})
        body = self.only_post()
        self.assertEqual(body["text"], "The release failed at stage *Deploy-Integration*")
        self.assertEqual(body["attachments"][0]["color"], "danger")
        fields = self.fields(body)
        self.assertEqual(fields["Pipeline"], PIPELINE)
        self.assertEqual(
            fields["Link"],
            f"<https://{REGION}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{PIPELINE}"
            f"/executions/{self.execution_id}/timeline?region={REGION}|Execution {self.execution_id[:8]}>")
        sha = self.emulator_commit()
        if sha:
            self.assertTrue(fields["Commit"].startswith(sha) or f"|{sha}>" in fields["Commit"], fields)
        else:  # moto records executions without artifact revisions
            self.assertNotIn("Commit", fields)
        self.assertTrue(any(f"Posted FAILED of {PIPELINE} stage Deploy-Integration to Slack: HTTP 200" in line
                            for line in self.logged), self.logged)

    def test_deploys_to_production_and_staging_post_good_messages(self):
        for stage, name in (("Deploy-Production", "Production"), ("Deploy-Staging", "Staging")):
            with self.subTest(stage=stage):
                SLACK.reset()
                self.assertTrue(self.invoke(stage_event("SUCCEEDED", stage, self.execution_id))["posted"])
                body = self.only_post()
                self.assertEqual(body["text"], f"Deployed to *{name}*")
                self.assertEqual(body["attachments"][0]["color"], "good")
                self.assertEqual(self.fields(body)["Pipeline"], PIPELINE)

    def test_without_the_execution_the_message_goes_without_commit(self):
        # An execution the emulator does not know: GetPipelineExecution fails, the message goes.
        missing = "00000000-1111-2222-3333-444444444444"
        result = self.invoke(stage_event("FAILED", "Build", missing, pipeline=OTHER_PIPELINE))
        self.assertTrue(result["posted"])
        body = self.only_post()
        self.assertEqual(body["text"], "The release failed at stage *Build*")
        self.assertEqual(sorted(self.fields(body)), ["Link", "Pipeline"])
        self.assertTrue(any(line.startswith("WARNING") and f"No commit for {OTHER_PIPELINE} execution {missing}" in line
                            for line in self.logged), self.logged)

    def test_a_404_from_slack_is_logged_and_dropped(self):
        SLACK.status = 404
        result = self.invoke(stage_event("FAILED", "Build", self.execution_id))
        self.assertEqual(result, {"posted": False, "status": 404})
        self.assertEqual(len(SLACK.posts), 1)
        warnings = [line for line in self.logged if line.startswith("WARNING")]
        self.assertEqual(len(warnings), 1, self.logged)
        self.assertIn("HTTP 404", warnings[0])

    def test_a_500_from_slack_raises_for_lambdas_retry(self):
        SLACK.status = 500
        with self.assertRaisesRegex(RuntimeError, r"^Slack answered HTTP 500$"):
            self.invoke(stage_event("SUCCEEDED", "Deploy-Production", self.execution_id))
        self.assertEqual(len(SLACK.posts), 1)

    def test_a_429_from_slack_raises_for_lambdas_retry(self):
        SLACK.status = 429
        with self.assertRaisesRegex(RuntimeError, r"^Slack answered HTTP 429$"):
            self.invoke(stage_event("FAILED", "Build", self.execution_id))

    def test_a_timeout_raises_without_the_url(self):
        SLACK.delay = 1.0
        self.fn.SLACK_TIMEOUT = 0.2
        with self.assertRaisesRegex(RuntimeError, r"^Slack could not be reached: \w+$"):
            self.invoke(stage_event("FAILED", "Build", self.execution_id))

    def test_an_unreachable_slack_raises_without_the_url(self):
        dead = free_port()  # nothing listens there
        self.ssm.put_parameter(Name=PARAMETER, Type="SecureString", Overwrite=True,
                               Value=f"http://127.0.0.1:{dead}{WEBHOOK_PATH}")
        try:
            with self.assertRaisesRegex(RuntimeError, r"^Slack could not be reached: \w+$") as raised:
                self.invoke(stage_event("FAILED", "Build", self.execution_id))
            self.assertIsNone(raised.exception.__cause__)
            self.assertTrue(raised.exception.__suppress_context__)
        finally:
            self.ssm.put_parameter(Name=PARAMETER, Type="SecureString", Value=WEBHOOK_URL, Overwrite=True)

    def test_other_events_are_ignored(self):
        ignored = [
            stage_event("SUCCEEDED", "Build", self.execution_id),  # not a deploy stage
            stage_event("STARTED", "Deploy-Production", self.execution_id),
            stage_event("SUCCEEDED", "Deploy-Production", self.execution_id,
                        detail_type="CodePipeline Action Execution State Change"),
            {"detail-type": "Scheduled Event", "detail": {}},
        ]
        for event in ignored:
            self.assertEqual(self.invoke(event), {"posted": False})
        self.assertEqual(SLACK.posts, [])

    def test_the_webhook_url_is_read_once_per_container(self):
        event = stage_event("FAILED", "Build", self.execution_id)
        self.invoke(event)
        moved = WEBHOOK_PATH + "-new"
        self.ssm.put_parameter(Name=PARAMETER, Type="SecureString", Value=SLACK.url(moved), Overwrite=True)
        try:
            self.invoke(event)  # same container: the cached URL
            new_container(self.code).handler(event, None)  # a new container reads the parameter
            self.assertEqual([p for p, _ in SLACK.posts], [WEBHOOK_PATH, WEBHOOK_PATH, moved])
            # After Slack refuses a message the container reads the parameter again.
            SLACK.reset()
            SLACK.status = 404
            self.invoke(event)
            SLACK.status = 200
            self.invoke(event)
            self.assertEqual([p for p, _ in SLACK.posts], [WEBHOOK_PATH, moved])
        finally:
            self.ssm.put_parameter(Name=PARAMETER, Type="SecureString", Value=WEBHOOK_URL, Overwrite=True)

    def test_commit_field_from_an_execution_with_a_revision(self):
        # The emulator records no artifact revisions, so the message is built here from one shaped
        # like GetPipelineExecution's answer for a CodeConnections (GitHub) source.
        revision = {
            "name": "SourceOutput",
            "revisionId": "0123456789abcdef0123456789abcdef01234567",
            "revisionSummary": json.dumps({"ProviderType": "GitHub", "CommitMessage": "Fix the <login> page & more\n\nDetails"}),
            "revisionUrl": "https://github.com/acme/api/commit/0123456789abcdef0123456789abcdef01234567",
        }
        body = self.fn.message(stage_event("SUCCEEDED", "Deploy-Staging", self.execution_id), revision)
        self.assertEqual(self.fields(body)["Commit"],
                         "<https://github.com/acme/api/commit/0123456789abcdef0123456789abcdef01234567|0123456>"
                         " Fix the &lt;login&gt; page &amp; more")
        plain = dict(revision, revisionSummary="Plain message", revisionUrl=None)
        body = self.fn.message(stage_event("FAILED", "Build", self.execution_id), plain)
        self.assertEqual(self.fields(body)["Commit"], "0123456 Plain message")


# --------------------------------------------------------------------------- the template
class NotificationsStackTest(unittest.TestCase):
    def setUp(self):
        self.cf = client("cloudformation")
        with open(TEMPLATE) as f:
            self.body = f.read()

    def deploy(self, name, project, **params):
        values = dict(Owner="acme", Project=project, PipelineNames=f"{PIPELINE},{OTHER_PIPELINE}", **params)
        self.cf.create_stack(StackName=name, TemplateBody=self.body, Capabilities=["CAPABILITY_IAM"],
                             Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()])
        stack = self.wait(name)
        self.assertEqual(stack["StackStatus"], "CREATE_COMPLETE", self.cf.describe_stack_events(StackName=name))
        self.addCleanup(self.delete, name)
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def wait(self, name):
        for _ in range(200):
            stack = self.cf.describe_stacks(StackName=name)["Stacks"][0]
            if not stack["StackStatus"].endswith("_IN_PROGRESS"):
                return stack
            time.sleep(0.05)
        self.fail(f"{name} still in progress")

    def delete(self, name):
        self.cf.delete_stack(StackName=name)
        for _ in range(200):
            try:
                status = self.cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
            except self.cf.exceptions.ClientError:
                return
            if not status.endswith("_IN_PROGRESS"):
                self.assertEqual(status, "DELETE_COMPLETE")
                return
            time.sleep(0.05)

    def rules(self, stack):
        events = client("events")
        names = [r["PhysicalResourceId"] for r in self.cf.list_stack_resources(StackName=stack)["StackResourceSummaries"]
                 if r.get("ResourceType") == "AWS::Events::Rule"]
        return {n: (json.loads(events.describe_rule(Name=n)["EventPattern"]), events.list_targets_by_rule(Rule=n)["Targets"])
                for n in names}

    def test_input_templates_use_only_defined_placeholders(self):
        for logical, resource in load_template()["Resources"].items():
            if resource["Type"] != "AWS::Events::Rule":
                continue
            for target in resource["Properties"]["Targets"]:
                transformer = target.get("InputTransformer") if isinstance(target, dict) else None
                if not transformer:
                    continue
                template = str(transformer["InputTemplate"])
                used = set(re.findall(r"<([A-Za-z0-9.-]+)>", template))
                with self.subTest(rule=logical):
                    self.assertLessEqual(used, set(transformer["InputPathsMap"]))
                    self.assertNotIn("\n", template)
                    self.assertIsInstance(json.loads(template), str)  # one quoted line, valid JSON

    def test_stack_with_slack_and_email(self):
        outputs = self.deploy("acme-shop-notifications", "shop",
                              EmailAddress="builds@example.com", SlackWebhookParameter=PARAMETER)
        self.assertEqual(outputs, {
            "BuildTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:acme-shop-build",
            "BuildTopicName": "acme-shop-build",
            "SlackFunctionName": "acme-shop-build-slack",
        })
        sns = client("sns")
        attributes = sns.get_topic_attributes(TopicArn=outputs["BuildTopicArn"])["Attributes"]
        key = client("kms").describe_key(KeyId=attributes["KmsMasterKeyId"])["KeyMetadata"]
        self.assertEqual(key["KeyManager"], "CUSTOMER")
        self.assertTrue(client("kms").get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"])
        statement = json.loads(attributes["Policy"])["Statement"][0]
        self.assertEqual(statement["Principal"], {"Service": "events.amazonaws.com"})
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=outputs["BuildTopicArn"])["Subscriptions"]
        self.assertEqual([(s["Protocol"], s["Endpoint"]) for s in subscriptions], [("email", "builds@example.com")])

        rules = self.rules("acme-shop-notifications")
        self.assertEqual(len(rules), 3)
        rule_arns = []
        for name, (pattern, targets) in rules.items():
            self.assertEqual(pattern["detail"]["pipeline"], [PIPELINE, OTHER_PIPELINE])  # exact names
            self.assertEqual(targets[0]["Arn"], outputs["BuildTopicArn"])
            rule_arns.append(client("events").describe_rule(Name=name)["Arn"])
        self.assertEqual(sorted(statement["Condition"]["ArnEquals"]["aws:SourceArn"]), sorted(rule_arns))
        slack_targets = sorted(n for n, (_, targets) in rules.items() if len(targets) == 2)
        self.assertEqual(len(slack_targets), 2)  # failures and deploys; the approval only on the topic

        lam = client("lambda")
        function = lam.get_function(FunctionName="acme-shop-build-slack")
        config = function["Configuration"]
        self.assertEqual((config["Runtime"], config["Handler"], config["Timeout"]), ("python3.14", "index.handler", 10))
        self.assertEqual(config["Environment"]["Variables"], {"WEBHOOK_PARAMETER": PARAMETER})
        self.assertEqual(function["Concurrency"]["ReservedConcurrentExecutions"], 2)
        policy = json.loads(lam.get_policy(FunctionName="acme-shop-build-slack")["Policy"])
        sources = sorted(s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"])
        self.assertEqual(sources, sorted(client("events").describe_rule(Name=n)["Arn"] for n in slack_targets))
        groups = client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/acme-shop-build-slack")["logGroups"]
        self.assertEqual([(g["logGroupName"], g["retentionInDays"]) for g in groups],
                         [("/aws/lambda/acme-shop-build-slack", 30)])

    def test_stack_without_slack(self):
        outputs = self.deploy("acme-mail-notifications", "mail")
        self.assertEqual(sorted(outputs), ["BuildTopicArn", "BuildTopicName"])
        for _, targets in self.rules("acme-mail-notifications").values():
            self.assertEqual([t["Id"] for t in targets], ["BuildTopic"])
        self.assertEqual(client("sns").list_subscriptions_by_topic(TopicArn=outputs["BuildTopicArn"])["Subscriptions"], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)

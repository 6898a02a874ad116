"""rig's local AWS: the pinned moto server plus the small extensions rig's tests rely on.

Usage: python rig_moto.py --host 127.0.0.1 --port N
Applies the extensions described in README.md (next to this file), then serves moto in the
foreground and prints one line "rig-moto ready on http://HOST:PORT" once the socket listens.
"""

import argparse
import importlib.metadata
import json
import math
import os
import re
import secrets
import signal
import string
import sys
import threading
import time
import uuid
from types import SimpleNamespace

MOTO_VERSION = "5.2.5"


def check_moto_version() -> None:
    try:
        found = importlib.metadata.version("moto")
    except importlib.metadata.PackageNotFoundError:
        found = "none"
    if found != MOTO_VERSION:
        sys.exit(
            f"rig-moto: moto=={MOTO_VERSION} is required, found {found}. "
            "The extensions hook moto's internals and are only valid for that version; "
            "recreate the venv with `bash .ci/venv.sh`."
        )


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _bool(value, default=False):
    return default if value is None else str(value).lower() == "true"


def _camel(value):
    """CloudFormation PascalCase keys -> the camelCase keys of moto's ECS backend."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _reason(exc):
    code = getattr(exc, "error_type", None) or getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc)
    return f"{code}: {message}" if isinstance(code, str) else f"{type(exc).__name__}: {message}"


def apply_extensions() -> None:  # noqa: C901 - one place that lists every extension, in order
    from moto.cloudformation import models as cfm
    from moto.cloudformation import parsing as cfp
    from moto.cloudformation import responses as cfr
    from moto.cloudformation.exceptions import (
        CloudFormationError,
        UnformattedGetAttTemplateException,
        ValidationError,
    )
    from moto.cloudformation.utils import validate_create_change_set
    from moto.core.responses import ActionResult, EmptyResult
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.elastic_block_store import Volume, VolumeAttachment
    from moto.ec2.models.instances import Instance
    from moto.ecr.models import ecr_backends
    from moto.ecs import models as ecs_models
    from moto.ecs.models import ecs_backends
    from moto.elbv2.models import FakeLoadBalancer, elbv2_backends
    from moto.logs.models import logs_backends
    from moto.rds.models import DBInstance, rds_backends
    from moto.route53.exceptions import HostedZoneNotEmpty
    from moto.route53.models import FakeZone, route53_backends
    from moto.s3.exceptions import BucketNotEmpty
    from moto.s3.models import FakeBucket, s3_backends
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.sns.models import sns_backends

    class InvalidChangeSetStatus(CloudFormationError):
        code = "InvalidChangeSetStatus"

    def event(stack, status, reason=None, res=None, logical_id=None, rtype=None):
        """A stack event; with res/logical_id a resource-level one."""
        if res is None and logical_id is None:
            stack._add_stack_event(status, resource_status_reason=reason)
            return
        stack.events.append(
            cfm.Event(
                stack.stack_id,
                stack.name,
                logical_id or res.logical_resource_id,
                str(getattr(res, "physical_resource_id", "") or ""),
                rtype or getattr(res, "cf_resource_type", ""),
                status,
                reason,
                None,
            )
        )

    # -----------------------------------------------------------------------------------------
    # 1 + 2. Extra CloudFormation resource models (registered in moto's model map)
    # -----------------------------------------------------------------------------------------

    class RigModel:
        """Base of rig's extra models (the interface of moto's CloudFormationModel, registered in
        moto's model map). Ref = physical_resource_id; ATTRS = Fn::GetAtt values."""

        TYPE = "AWS::Rig::Model"
        NAME_PROP = ""
        ATTRS: dict = {}

        def __init__(self, name, props, account_id, region_name):
            self.name, self.props = name, props
            self.account_id, self.region_name = account_id, region_name
            self.uid = uuid.uuid4().hex

        @classmethod
        def cloudformation_type(cls):
            return cls.TYPE

        @classmethod
        def cloudformation_name_type(cls):
            return cls.NAME_PROP

        @classmethod
        def has_cfn_attr(cls, attr):
            return attr in cls.ATTRS

        def get_cfn_attribute(self, attr):
            if attr not in self.ATTRS:
                raise UnformattedGetAttTemplateException()
            value = self.ATTRS[attr]
            return value(self) if callable(value) else value.format(**self._fmt())

        def _fmt(self):
            return dict(
                name=self.name, account=self.account_id, region=self.region_name, uid=self.uid
            )

        @property
        def physical_resource_id(self):
            return self.name

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name,
                                            **kwargs):
            model = cls(resource_name, cloudformation_json.get("Properties") or {}, account_id, region_name)
            model.create()
            return model

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                            account_id, region_name):
            props = cloudformation_json.get("Properties") or {}
            if needs_replacement(cls.TYPE, original_resource.props, props):
                original_resource.delete(account_id, region_name)
                return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id,
                                                           region_name)
            original_resource.props = props
            original_resource.update()
            return original_resource

        def create(self):
            pass

        def update(self):
            pass

        def delete(self, account_id, region_name):
            pass

        def is_created(self):
            return True

    def register(cls):
        cfp.get_model_map()[cls.TYPE] = cls
        cfp.get_name_type_map()[cls.TYPE] = cls.NAME_PROP
        return cls

    # 1. Aurora cluster backed by moto's RDS backend.
    @register
    class DBCluster(RigModel):
        TYPE, NAME_PROP = "AWS::RDS::DBCluster", "DBClusterIdentifier"
        ATTRS = {
            "Endpoint.Address": lambda s: s.cluster.endpoint,
            "Endpoint.Port": lambda s: str(s.cluster.port),
            "ReadEndpoint.Address": lambda s: s.cluster.reader_endpoint,
            "DBClusterArn": lambda s: s.cluster.db_cluster_arn,
            "DBClusterResourceId": lambda s: s.cluster.db_cluster_resource_id,
            "MasterUserSecret.SecretArn": lambda s: s.cluster.master_user_secret.secret_arn,
        }

        @property
        def physical_resource_id(self):
            return self.cluster.db_cluster_identifier

        @property
        def rds(self):
            return rds_backends[self.account_id][self.region_name]

        def _settable(self):
            p = self.props
            scaling = p.get("ServerlessV2ScalingConfiguration")
            return {
                "engine_version": p.get("EngineVersion"),
                "backup_retention_period": int(p.get("BackupRetentionPeriod", 1)),
                "deletion_protection": _bool(p.get("DeletionProtection")),
                "vpc_security_group_ids": p.get("VpcSecurityGroupIds"),
                "db_cluster_parameter_group_name": p.get("DBClusterParameterGroupName"),
                "serverless_v2_scaling_configuration": scaling and {k: float(v) for k, v in scaling.items()},
                "preferred_backup_window": p.get("PreferredBackupWindow"),
                "preferred_maintenance_window": p.get("PreferredMaintenanceWindow"),
            }

        def create(self):
            p = self.props
            subnet_group = p.get("DBSubnetGroupName")  # moto's DBSubnetGroup Ref yields the object
            kwargs = {k: v for k, v in self._settable().items() if v is not None}
            kwargs.update(
                db_cluster_identifier=self.name.lower()[:63].rstrip("-"),
                engine=p.get("Engine"),
                engine_mode=p.get("EngineMode"),
                database_name=p.get("DatabaseName"),
                master_username=p.get("MasterUsername"),
                # a literal "{{resolve:ssm-secure:...}}" is stored as given (not resolved)
                master_user_password=p.get("MasterUserPassword"),
                manage_master_user_password=_bool(p.get("ManageMasterUserPassword")),
                db_subnet_group_name=getattr(subnet_group, "name", subnet_group),
                storage_encrypted=_bool(p.get("StorageEncrypted")),
                kms_key_id=p.get("KmsKeyId"),
                port=int(p["Port"]) if p.get("Port") else None,
                enable_cloudwatch_logs_exports=p.get("EnableCloudwatchLogsExports"),
                tags=p.get("Tags"),
            )
            created = self.rds.create_db_cluster(kwargs)  # a copy that reads "creating"
            self.cluster = self.rds.clusters[created.db_cluster_identifier]
            # CloudFormation completes a DBCluster only once it is available; moto would report
            # "creating" on the first describe after the stack is done.
            self.cluster.status = "available"

        def update(self):
            changes = {k: v for k, v in self._settable().items() if v is not None}
            self.rds.modify_db_cluster(dict(db_cluster_identifier=self.physical_resource_id, **changes))
            self.cluster = self.rds.clusters[self.physical_resource_id]

        def delete(self, account_id, region_name, snapshot=False):
            cluster_id = self.physical_resource_id
            final = f"{cluster_id}-final-{self.uid[:8]}" if snapshot else None
            self.rds.delete_db_cluster(cluster_identifier=cluster_id, snapshot_name=final)

    @register
    class DBClusterParameterGroup(RigModel):
        TYPE, NAME_PROP = "AWS::RDS::DBClusterParameterGroup", "DBClusterParameterGroupName"

        def create(self):
            rds = rds_backends[self.account_id][self.region_name]
            group = rds.create_db_cluster_parameter_group(
                self.name.lower(), self.props.get("Family"), self.props.get("Description"), self.props.get("Tags")
            )
            group.update_cluster_parameters(
                {"ParameterName": k, "ParameterValue": str(v), "ApplyMethod": "pending-reboot"}
                for k, v in (self.props.get("Parameters") or {}).items()
            )
            self.name = group.name

        def delete(self, account_id, region_name):
            rds_backends[account_id][region_name].delete_db_cluster_parameter_group(self.name)

    # An Aurora DBInstance (DBClusterIdentifier set) joins its cluster; moto's own handler drops the
    # cluster id and then needs an EngineVersion it has no default for.
    plain_db_instance = DBInstance.create_from_cloudformation_json.__func__

    def create_db_instance(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        if not p.get("DBClusterIdentifier"):
            return plain_db_instance(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        return rds_backends[account_id][region_name].create_db_instance(
            {
                "db_instance_identifier": resource_name.lower()[:63].rstrip("-"),
                "db_instance_class": p.get("DBInstanceClass"),
                "engine": p.get("Engine"),
                "db_cluster_identifier": p["DBClusterIdentifier"].lower(),
                "availability_zone": p.get("AvailabilityZone"),
                "publicly_accessible": _bool(p.get("PubliclyAccessible")),
                "promotion_tier": int(p.get("PromotionTier", 1)),
                "db_parameter_group_name": p.get("DBParameterGroupName"),
                "tags": p.get("Tags"),
            }
        )

    DBInstance.create_from_cloudformation_json = classmethod(create_db_instance)

    # 2. Types moto skips. Backed by moto's backend where that is one call each way ...
    @register
    class CapacityProvider(RigModel):
        TYPE, NAME_PROP = "AWS::ECS::CapacityProvider", "Name"

        def create(self):
            asg = _camel(self.props.get("AutoScalingGroupProvider") or {})
            ecs_backends[self.account_id][self.region_name].create_capacity_provider(
                self.name, asg, _camel(self.props.get("Tags"))
            )

        def delete(self, account_id, region_name):
            ecs_backends[account_id][region_name].capacity_providers.pop(self.name, None)

    @register
    class ClusterCapacityProviderAssociations(RigModel):
        TYPE = "AWS::ECS::ClusterCapacityProviderAssociations"

        @property
        def physical_resource_id(self):
            return self.props["Cluster"]

        def create(self):
            ecs_backends[self.account_id][self.region_name].put_cluster_capacity_providers(
                self.props["Cluster"],
                self.props.get("CapacityProviders") or [],
                _camel(self.props.get("DefaultCapacityProviderStrategy") or []),
            )

        update = create

        def delete(self, account_id, region_name):
            cluster = ecs_backends[account_id][region_name].clusters.get(self.props["Cluster"])
            if cluster is not None:
                cluster.capacity_providers, cluster.default_capacity_provider_strategy = [], []

    @register
    class BucketPolicy(RigModel):
        TYPE = "AWS::S3::BucketPolicy"

        def create(self):
            s3 = s3_backends[self.account_id]["aws"]
            s3.put_bucket_policy(self.props["Bucket"], json.dumps(self.props["PolicyDocument"]).encode())

        update = create

        def delete(self, account_id, region_name):
            s3 = s3_backends[account_id]["aws"]
            if self.props["Bucket"] in s3.buckets:
                s3.delete_bucket_policy(self.props["Bucket"])

    @register
    class SnsSubscription(RigModel):
        TYPE = "AWS::SNS::Subscription"
        ATTRS = {"Arn": lambda s: s.name}

        def create(self):
            sns = sns_backends[self.account_id][self.region_name]
            sub = sns.subscribe(self.props["TopicArn"], self.props.get("Endpoint"), self.props["Protocol"])
            self.name = sub.arn

        def delete(self, account_id, region_name):
            sns_backends[account_id][region_name].unsubscribe(self.name)

    @register
    class Secret(RigModel):
        TYPE, NAME_PROP = "AWS::SecretsManager::Secret", "Name"
        ATTRS = {"Id": lambda s: s.arn}

        @property
        def physical_resource_id(self):
            return self.arn

        def create(self):
            sm = secretsmanager_backends[self.account_id][self.region_name]
            value = self.props.get("SecretString")
            if value is None:
                gen = self.props.get("GenerateSecretString") or {}
                alphabet = string.ascii_letters + string.digits
                alphabet += "" if _bool(gen.get("ExcludePunctuation")) else "!#$%&()*+,-.:;<=>?@[]^_{|}~"
                alphabet = [c for c in alphabet if c not in gen.get("ExcludeCharacters", "")]
                value = "".join(secrets.choice(alphabet) for _ in range(int(gen.get("PasswordLength", 32))))
                if gen.get("SecretStringTemplate"):
                    doc = json.loads(gen["SecretStringTemplate"])
                    doc[gen["GenerateStringKey"]] = value
                    value = json.dumps(doc)
            sm.create_secret(self.name, value, None, self.props.get("Description"), self.props.get("Tags"),
                             self.props.get("KmsKeyId"), None, [], False)
            self.arn = sm.secrets[self.name].arn

        def delete(self, account_id, region_name):
            secretsmanager_backends[account_id][region_name].delete_secret(self.arn, None, True)

    @register
    class MetricFilter(RigModel):
        TYPE, NAME_PROP = "AWS::Logs::MetricFilter", "FilterName"

        def create(self):
            logs_backends[self.account_id][self.region_name].put_metric_filter(
                self.name, self.props.get("FilterPattern", ""), self.props["LogGroupName"],
                _camel(self.props.get("MetricTransformations") or []),
            )

        def delete(self, account_id, region_name):
            logs_backends[account_id][region_name].delete_metric_filter(self.name, self.props["LogGroupName"])

    # moto's bucket-policy check ignores Conditions, so rig's TLS-only Deny (aws:SecureTransport) would
    # deny every request; statements with a Condition are left out of moto's evaluation.
    def get_permission(self, action, resource):
        from moto.iam.access_control import IAMPolicy, PermissionResult

        if self.policy is None:
            return PermissionResult.NEUTRAL
        doc = json.loads(self.policy)
        statements = doc.get("Statement")
        statements = statements if isinstance(statements, list) else [statements]
        doc["Statement"] = [st for st in statements if "Condition" not in st]
        return IAMPolicy(json.dumps(doc)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission

    # ... and pure placeholders otherwise: the resource exists in the stack only, no service behind it.
    placeholders = {
        # type: (name property, Ref format, {GetAtt: format})
        "AWS::CloudWatch::Alarm": (
            "AlarmName", "{name}", {"Arn": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}"}
        ),
        "AWS::CodeBuild::Project": (
            "Name", "{name}", {"Arn": "arn:aws:codebuild:{region}:{account}:project/{name}"}
        ),
        "AWS::CodePipeline::Pipeline": ("Name", "{name}", {"Version": "1"}),
        "AWS::CodePipeline::Webhook": (
            "Name", "{name}", {"Url": "https://{region}.webhooks.aws/trigger?t={uid}&v=1"}
        ),
        "AWS::CodeStarConnections::Connection": (
            "ConnectionName",
            "arn:aws:codestar-connections:{region}:{account}:connection/{uid}",
            {
                "ConnectionArn": "arn:aws:codestar-connections:{region}:{account}:connection/{uid}",
                "ConnectionStatus": "PENDING",
                "OwnerAccountId": "{account}",
            },
        ),
    }
    for rtype, (name_prop, ref, attrs) in placeholders.items():
        register(
            type(
                "Placeholder" + rtype.replace(":", ""),
                (RigModel,),
                {
                    "TYPE": rtype,
                    "NAME_PROP": name_prop,
                    "ATTRS": attrs,
                    "physical_resource_id": property(lambda s, ref=ref: ref.format(**s._fmt())),
                },
            )
        )

    # Fixes to moto's own models used by rig's templates.
    # ECS cluster settings and capacity providers (moto's handler passes only the name).
    def create_ecs_cluster(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json.get("Properties") or {}
        return ecs_backends[account_id][region_name].create_cluster(
            cluster_name=resource_name,
            tags=_camel(p.get("Tags")),
            cluster_settings=_camel(p.get("ClusterSettings")),
            capacity_providers=p.get("CapacityProviders"),
            default_capacity_provider_strategy=_camel(p.get("DefaultCapacityProviderStrategy")),
        )

    ecs_models.Cluster.create_from_cloudformation_json = classmethod(create_ecs_cluster)

    def create_zone(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json.get("Properties") or {}
        vpcs = p.get("VPCs") or [{}]
        return route53_backends[account_id]["aws"].create_hosted_zone(
            resource_name,
            private_zone=bool(vpcs[0]),
            vpcid=vpcs[0].get("VPCId"),
            vpcregion=vpcs[0].get("VPCRegion"),
            comment=(p.get("HostedZoneConfig") or {}).get("Comment"),
        )

    FakeZone.create_from_cloudformation_json = classmethod(create_zone)

    plain_volume = Volume.create_from_cloudformation_json.__func__

    def create_volume(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        volume = plain_volume(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        p = cloudformation_json["Properties"]
        volume.volume_type = p.get("VolumeType", volume.volume_type)
        volume.encrypted = _bool(p.get("Encrypted"))
        volume.iops, volume.throughput = p.get("Iops"), p.get("Throughput")
        return volume

    Volume.create_from_cloudformation_json = classmethod(create_volume)
    VolumeAttachment.physical_resource_id = property(lambda s: f"{s.volume.id}-{s.instance.id}")

    # EC2 deletes an instance's root volume on termination unless told otherwise (moto keeps it when a
    # launch template / block device mapping leaves DeleteOnTermination out).
    plain_add_block_device = Instance.add_block_device

    def add_block_device(self, size, device_path, snapshot_id, encrypted, delete_on_termination, kms_key_id,
                         volume_type):
        image = self.ec2_backend.amis.get(self.image_id)
        if device_path == getattr(image, "root_device_name", "/dev/xvda"):
            delete_on_termination = True
        plain_add_block_device(self, size, device_path, snapshot_id, encrypted, delete_on_termination,
                               kms_key_id, volume_type)

    Instance.add_block_device = add_block_device

    def extra_attrs(cls, **getters):
        plain_get, plain_has = cls.get_cfn_attribute, cls.has_cfn_attr.__func__
        cls.get_cfn_attribute = lambda self, a: getters[a](self) if a in getters else plain_get(self, a)
        cls.has_cfn_attr = classmethod(lambda c, a: a in getters or plain_has(c, a))

    extra_attrs(
        FakeLoadBalancer,
        CanonicalHostedZoneID=lambda s: s.canonical_hosted_zone_id,
        LoadBalancerFullName=lambda s: s.arn.split(":loadbalancer/")[1],
        SecurityGroups=lambda s: s.security_groups,
    )
    # nested stacks: Fn::GetAtt Child.Outputs.Name
    cfm.Stack.get_cfn_attribute = lambda self, a: next(
        o["OutputValue"] for o in self.outputs or [] if "Outputs." + o["OutputKey"] == a
    )

    # YAML `!GetAtt Res.Endpoint.Address` names attribute "Endpoint.Address" (moto splits at every dot).
    plain_yaml_tag = cfm.yaml_tag_constructor

    def yaml_tag_constructor(loader, tag, node):
        if tag == "!GetAtt" and isinstance(node.value, str):
            return {"Fn::GetAtt": node.value.split(".", 1)}
        return plain_yaml_tag(loader, tag, node)

    cfm.yaml_tag_constructor = cfr.yaml_tag_constructor = yaml_tag_constructor

    # AWS drops AWS::NoValue from lists (moto keeps a None in them).
    plain_clean_json = cfp.clean_json

    def clean_json(resource_json, resources_map):
        if isinstance(resource_json, list):
            values = (clean_json(v, resources_map) for v in resource_json)
            return [v for v in values if v is not None]
        return plain_clean_json(resource_json, resources_map)

    cfp.clean_json = clean_json

    # -----------------------------------------------------------------------------------------
    # 3. Change sets: Add/Modify/Remove from resolved templates, AWS no-op shape, outputs/exports
    # -----------------------------------------------------------------------------------------

    replace_props = {
        "AWS::EC2::VPC": {"CidrBlock", "InstanceTenancy"},
        "AWS::EC2::Subnet": {"CidrBlock", "AvailabilityZone", "VpcId"},
        "AWS::EC2::SecurityGroup": {"GroupDescription", "GroupName", "VpcId"},
        "AWS::EC2::NatGateway": {"SubnetId", "AllocationId", "ConnectivityType"},
        "AWS::EC2::Instance": {"ImageId", "SubnetId", "AvailabilityZone", "KeyName", "SecurityGroups"},
        "AWS::EC2::Volume": {"AvailabilityZone", "Encrypted", "KmsKeyId", "SnapshotId"},
        "AWS::EC2::VolumeAttachment": {"Device", "InstanceId", "VolumeId"},
        "AWS::ElasticLoadBalancingV2::LoadBalancer": {"Scheme", "Type"},
        "AWS::ElasticLoadBalancingV2::Listener": {"LoadBalancerArn"},
        "AWS::Route53::HostedZone": {"Name"},
        "AWS::Route53::RecordSet": {"Name", "HostedZoneId", "HostedZoneName"},
        "AWS::RDS::DBCluster": {"Engine", "EngineMode", "DatabaseName", "MasterUsername", "StorageEncrypted",
                                "KmsKeyId", "DBSubnetGroupName", "AvailabilityZones"},
        "AWS::RDS::DBInstance": {"DBClusterIdentifier", "Engine", "DBName", "AvailabilityZone"},
        "AWS::RDS::DBSubnetGroup": {"DBSubnetGroupName"},
        "AWS::IAM::Role": {"Path"},
    }

    def replaced_props(rtype):
        return replace_props.get(rtype, set()) | {cfp.resource_name_property_from_type(rtype) or "-"}

    def needs_replacement(rtype, old_props, new_props):
        return any(old_props.get(k) != new_props.get(k) for k in replaced_props(rtype))

    def resolve_params(node, rmap):
        """The template node with parameters and conditions substituted; resources stay symbolic."""
        params, conditions = rmap.resolved_parameters, rmap.lazy_condition_map
        if isinstance(node, list):
            return [resolve_params(v, rmap) for v in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"} and node["Ref"] in params:
            return params[node["Ref"]]
        if set(node) == {"Fn::If"}:
            name, yes, no = node["Fn::If"]
            return resolve_params(yes if conditions[name] else no, rmap)
        if set(node) == {"Fn::Sub"}:
            text, local = (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
            text = re.sub(
                r"\$\{([^!}][^}]*)\}",
                lambda m: str(params[m[1]]) if m[1] in params and m[1] not in local else m[0],
                text,
            )
            return {"Fn::Sub": [text, resolve_params(local, rmap)] if local else text}
        return {k: resolve_params(v, rmap) for k, v in node.items()}

    def live_resources(rmap, resources):
        return {
            lid: {
                "Type": r["Type"],
                "Properties": resolve_params(r.get("Properties") or {}, rmap),
                "Metadata": resolve_params(r.get("Metadata") or {}, rmap),
            }
            for lid, r in resources.items()
            if not r.get("Condition") or rmap.lazy_condition_map[r["Condition"]]
        }

    def diff(rmap, template, parameters):
        """[Change] between the stack's current resources and `template` with `parameters`."""
        new_map = cfp.ResourceMap(
            rmap.stack_id, rmap["AWS::StackName"], parameters or rmap.input_parameters, rmap.tags,
            rmap._region_name, rmap._account_id, template, rmap.cross_stack_resources,
        )
        new_map.load()
        old = live_resources(rmap, rmap._resource_json_map)
        new = live_resources(new_map, template.get("Resources") or {})
        current = rmap._parsed_resources.get
        changes = []
        for lid in new:
            if lid not in old:
                changes.append(change("Add", lid, new[lid]["Type"]))
            elif old[lid] != new[lid]:
                changes.append(change("Modify", lid, new[lid]["Type"], old[lid], new[lid], current(lid)))
        for lid in old:
            if lid not in new:
                changes.append(change("Remove", lid, old[lid]["Type"], resource=current(lid)))
        propagate_replacements(changes, new, current)
        return changes, new_map

    def propagate_replacements(changes, new, current):
        """A replaced resource gets a new physical id (and maybe new attributes), so what refers to it
        changes too (15): each such resource gets a Modify with one Details entry per property that
        refers to it, `ChangeSource` `ResourceReference` (Ref, `${X}`: Static) or `ResourceAttribute`
        (GetAtt: Dynamic), `CausingEntity` the replaced resource. A Ref reaching a replacement property
        replaces that resource too, and so on."""
        by_id = {c.logical_resource_id: c for c in changes}
        replaced = [c.logical_resource_id for c in changes if c.action == "Modify" and c.replacement == "True"]
        while replaced:
            cause = replaced.pop(0)
            for lid, res in new.items():
                c = by_id.get(lid)
                if lid == cause or (c is not None and c.action != "Modify"):
                    continue
                found = {name: how for name, value in sorted(res["Properties"].items())
                         if (how := reference_kind(value, cause))}
                if not found:
                    continue
                if c is None:
                    c = by_id[lid] = change("Modify", lid, res["Type"], res, res, current(lid))
                    changes.append(c)
                recreate = replaced_props(res["Type"])
                for name, how in found.items():
                    static = how == "Ref"
                    c.details.append({
                        "Target": {"Attribute": "Properties", "Name": name,
                                   "RequiresRecreation": ("Always" if static else "Conditionally")
                                   if name in recreate else "Never"},
                        "Evaluation": "Static" if static else "Dynamic",
                        "ChangeSource": "ResourceReference" if static else "ResourceAttribute",
                        "CausingEntity": cause if static else f"{cause}.{how}",
                    })
                if "Properties" not in c.scope:
                    c.scope.insert(0, "Properties")
                if c.replacement != "True" and any(n in recreate for n in found):
                    c.replacement = "True" if any(found[n] == "Ref" for n in found if n in recreate) else "Conditional"
                    if c.replacement == "True":
                        replaced.append(lid)

    def reference_kind(node, target):
        """How `node` refers to resource `target`: "Ref" (Ref or ${target} in Fn::Sub), the attribute
        name of a Fn::GetAtt (or ${target.Attr}), or None."""
        if isinstance(node, list):
            return next((k for k in (reference_kind(v, target) for v in node) if k), None)
        if not isinstance(node, dict):
            return None
        if node.get("Ref") == target:
            return "Ref"
        att = node.get("Fn::GetAtt")
        if isinstance(att, list) and att and att[0] == target:
            return att[1] if len(att) > 1 else "Ref"
        sub = node.get("Fn::Sub")
        if sub is not None:
            text = sub if isinstance(sub, str) else sub[0]
            for m in re.findall(r"\$\{([^!}][^}]*)\}", text):
                head, _, attr = m.partition(".")
                if head == target:
                    return attr or "Ref"
        return next((k for k in (reference_kind(v, target) for v in node.values()) if k), None)

    def dependency_order(resources):
        """Logical ids of `resources` (a template's Resources), each after those it refers to."""
        after = {}
        for lid, res in resources.items():
            depends = res.get("DependsOn") or []
            after[lid] = (references(res) | ({depends} if isinstance(depends, str) else set(depends))) & set(resources)
        order = []
        while after:
            ready = [lid for lid, deps in after.items() if not deps - set(order)] or [next(iter(after))]
            for lid in ready:
                order.append(lid)
                del after[lid]
        return order

    def change(action, lid, rtype, old=None, new=None, resource=None):
        c = cfm.Change(action=action, logical_resource_id=lid, resource_type=rtype)
        c.physical_resource_id = getattr(resource, "physical_resource_id", None)
        if action == "Modify":
            a, b = old["Properties"], new["Properties"]
            names = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            recreate = replaced_props(rtype)
            c.replacement = "True" if recreate & set(names) else "False"
            c.scope = ["Properties"] if names else []
            c.scope += ["Metadata"] if old["Metadata"] != new["Metadata"] else []
            c.details = [
                {
                    "Target": {"Attribute": "Properties", "Name": n,
                               "RequiresRecreation": "Always" if n in recreate else "Never"},
                    "Evaluation": "Static",
                    "ChangeSource": "DirectModification",
                }
                for n in names
            ]
        return c

    def given_values(template, values):
        """Each template parameter's value as given (its Default when not given), as the API's strings:
        what AWS compares (moto's resolved values are AMI ids, numbers, lists; a Default is not split)."""
        def text(v):
            if isinstance(v, list):
                return ",".join(map(str, v))
            return str(v).lower() if isinstance(v, bool) else str(v)

        return {k: text(values[k] if k in values else p.get("Default"))
                for k, p in (template.get("Parameters") or {}).items() if k in values or "Default" in p}

    def change_set_diff(self):
        stack = self.stack
        changes, _ = diff(stack.resource_map, self.template_dict, self.parameters)
        self.rig_no_change = (
            not changes
            and self.change_set_type == "UPDATE"
            and cfm.Stack.parse_template(stack.template) == self.template_dict
            and given_values(stack.template_dict, stack.parameters or {})
            == given_values(self.template_dict, self.parameters or stack.parameters or {})
        )
        return changes

    cfm.ChangeSet.diff = change_set_diff

    def build_resource_diff(self, other_template, parameters=None):
        changes, _ = diff(self, other_template, parameters)
        by_action = {"Add": [], "Modify": [], "Remove": []}
        for c in changes:
            by_action[c.action].append(c.logical_resource_id)
        order = dependency_order(other_template.get("Resources") or {})  # e.g. a task definition, then its service
        by_action["Modify"].sort(key=lambda lid: order.index(lid) if lid in order else len(order))
        return by_action

    cfp.ResourceMap.build_resource_diff = build_resource_diff

    def check_updatable(stack):
        if stack.status in ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"):
            raise ValidationError(
                message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated."
            )

    def create_change_set(self, stack_name, change_set_name, template, parameters, description, change_set_type,
                          notification_arns=None, tags=None, role_arn=None):
        validate_create_change_set(change_set_name)
        stack = next((s for s in self.stacks.values() if s.name == stack_name), None)
        if change_set_type == "UPDATE":
            if stack is None:
                raise ValidationError(stack_name)
            check_updatable(stack)
        elif stack is not None and stack.status != "REVIEW_IN_PROGRESS":
            raise ValidationError(
                message=f"Stack [{stack_name}] already exists and cannot be created again with the "
                f"changeSet [{change_set_name}]."
            )
        new_stack = stack is None
        if new_stack:
            stack = cfm.Stack(
                cfm.generate_stack_id(stack_name, self.region_name, self.account_id), stack_name, {},
                parameters, self.account_id, self.region_name, notification_arns, tags, role_arn, self.exports,
            )
        cs_id = cfm.generate_changeset_id(change_set_name, self.region_name, self.account_id)
        change_set = cfm.ChangeSet(change_set_type, cs_id, change_set_name, stack, template, parameters,
                                   description, notification_arns, tags, role_arn)
        if new_stack:
            self.stacks[stack.stack_id] = stack
            stack.status = "REVIEW_IN_PROGRESS"
            event(stack, "REVIEW_IN_PROGRESS", "User Initiated")
        if change_set.rig_no_change:
            change_set.status, change_set.execution_status = "FAILED", "UNAVAILABLE"
            change_set.status_reason = (
                "The submitted information didn't contain changes. "
                "Submit different information to create a change set."
            )
        else:
            change_set.status, change_set.execution_status = "CREATE_COMPLETE", "AVAILABLE"
        self.change_sets[cs_id] = change_set
        return cs_id, stack.stack_id

    def find_change_set(self, change_set_name, stack_name=None):
        if change_set_name in self.change_sets:
            return self.change_sets[change_set_name]
        for cs in reversed(list(self.change_sets.values())):
            if cs.change_set_name == change_set_name and stack_name in (None, cs.stack_name, cs.stack_id):
                return cs
        raise ValidationError(message=f"ChangeSet [{change_set_name}] does not exist")

    def delete_change_set(self, change_set_name, stack_name=None):
        self.change_sets.pop(find_change_set(self, change_set_name, stack_name).change_set_id)

    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = find_change_set(self, change_set_name, stack_name)
        if change_set.execution_status != "AVAILABLE":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of "
                f"[{change_set.status}]"
            )
        stack = change_set.stack
        if change_set.change_set_type == "CREATE":
            stack.template, stack.parameters = change_set.template, change_set.parameters
            stack._parse_template()
            stack.resource_map = stack._create_resource_map()
            stack.output_map = stack._create_output_map()
            event(stack, "CREATE_IN_PROGRESS", "User Initiated")
            create_resources(self, stack)
        else:
            stack.update(change_set.template, change_set.role_arn, change_set.parameters, change_set.tags or None)
        ok = stack.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        change_set.execution_status = "EXECUTE_COMPLETE" if ok else "EXECUTE_FAILED"
        for cs_id, cs in list(self.change_sets.items()):  # AWS drops the stack's other change sets
            if cs.stack_id == stack.stack_id and cs is not change_set:
                del self.change_sets[cs_id]

    backend_cls = cfm.CloudFormationBackend
    backend_cls.create_change_set = create_change_set
    backend_cls.describe_change_set = find_change_set
    backend_cls.delete_change_set = delete_change_set
    backend_cls.execute_change_set = execute_change_set

    def with_stack_name(method):
        def handler(self):
            backend = self.cloudformation_backend
            result = method(backend, self._get_param("ChangeSetName"), self._get_param("StackName"))
            return ActionResult(result) if result is not None else EmptyResult()

        return handler

    cfr.CloudFormationResponse.describe_change_set = with_stack_name(find_change_set)
    cfr.CloudFormationResponse.delete_change_set = with_stack_name(delete_change_set)
    cfr.CloudFormationResponse.execute_change_set = with_stack_name(execute_change_set)

    cfr.CloudFormationResponse._validate_status = lambda self, stack: check_updatable(stack)

    def list_change_sets(self):  # moto lists every stack's change sets
        stack = self._get_param("StackName")
        change_sets = self.cloudformation_backend.change_sets.values()
        return ActionResult({"Summaries": [cs for cs in change_sets if stack in (cs.stack_name, cs.stack_id)]})

    cfr.CloudFormationResponse.list_change_sets = list_change_sets

    plain_validate_update = cfr.CloudFormationResponse._validate_different_update

    def validate_different_update(self, incoming_params, stack_body, old_stack):
        if self._get_action() == "UpdateStack":  # a change set reports "no changes" as FAILED instead
            plain_validate_update(self, incoming_params, stack_body, old_stack)

    cfr.CloudFormationResponse._validate_different_update = validate_different_update

    def sync_exports(backend, stack):
        for name in [n for n, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id]:
            del backend.exports[name]
        exports = stack.exports
        for export in exports:
            owner = backend.exports.get(export.name)
            if owner is not None:
                raise ValidationError(
                    message=f"Export with name {export.name} is already exported by stack "
                    f"{owner.exporting_stack_id}"
                )
        backend.exports.update((e.name, e) for e in exports)

    # Outputs/exports are evaluated once, after a create or update succeeded (moto evaluates them on
    # every read, which breaks - or re-creates resources - once resources are gone).
    no_outputs = {"REVIEW_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED",
                  "DELETE_COMPLETE", "CREATE_PENDING"}
    plain_outputs, plain_exports = cfm.Stack.outputs.fget, cfm.Stack.exports.fget

    def snapshot_outputs(stack):
        old = {k: stack.__dict__.pop(k) for k in ("rig_exports", "rig_outputs") if k in stack.__dict__}
        try:
            exports, outputs = plain_exports(stack), plain_outputs(stack)
        except Exception:
            stack.__dict__.update(old)
            raise
        stack.rig_exports, stack.rig_outputs = exports, outputs

    def stored(key, plain, empty):
        def get(stack):
            if stack.status in no_outputs:
                return empty
            return stack.__dict__[key] if key in stack.__dict__ else plain(stack)

        return property(get)

    cfm.Stack.outputs = stored("rig_outputs", plain_outputs, None)
    cfm.Stack.exports = stored("rig_exports", plain_exports, [])

    # -----------------------------------------------------------------------------------------
    # 5. Creation with resource events and rollback on failure
    # -----------------------------------------------------------------------------------------

    plain_create_resource = cfp.parse_and_create_resource

    def parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):
        condition = resource_json.get("Condition")
        if getattr(resources_map, "rig_frozen", False):
            return None  # outside create/update nothing is created lazily (e.g. while reading outputs)
        if condition and not resources_map.lazy_condition_map[condition]:
            return None
        stack, rtype = getattr(resources_map, "rig_stack", None), resource_json["Type"]
        if stack:
            event(stack, "CREATE_IN_PROGRESS", logical_id=logical_id, rtype=rtype)
        try:
            resource = plain_create_resource(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as exc:
            if stack and not resources_map.rig_failed:
                resources_map.rig_failed = logical_id
                event(stack, "CREATE_FAILED", _reason(exc), logical_id=logical_id, rtype=rtype)
            raise
        if stack:
            event(stack, "CREATE_COMPLETE", res=resource, logical_id=logical_id, rtype=rtype)
        return resource

    cfp.parse_and_create_resource = parse_and_create_resource

    plain_update_resource = cfp.parse_and_update_resource

    def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
        stack, current = getattr(resources_map, "rig_stack", None), resources_map[logical_id]
        if stack:
            event(stack, "UPDATE_IN_PROGRESS", res=current)
        resource = plain_update_resource(logical_id, resource_json, resources_map, account_id, region_name)
        resource = current if resource is None else resource  # no update handler: keep, don't forget it
        if stack:
            event(stack, "UPDATE_COMPLETE", res=resource)
        return resource

    cfp.parse_and_update_resource = parse_and_update_resource

    def create_resources(backend, stack):
        rmap = stack.resource_map
        rmap.rig_stack, rmap.rig_failed, rmap.rig_frozen = stack, None, False
        stack.status = "CREATE_IN_PROGRESS"
        try:
            ready = rmap.create(stack.template_dict)
            stack.description = stack.template_dict.get("Description")
            snapshot_outputs(stack)  # a bad output fails the create
            sync_exports(backend, stack)
        except Exception as exc:
            rmap.rig_frozen = True
            failed = rmap.rig_failed
            stack.status = "ROLLBACK_IN_PROGRESS"
            event(stack, "ROLLBACK_IN_PROGRESS",
                  f"The following resource(s) failed to create: [{failed}]. Rollback requested by user."
                  if failed else _reason(exc))
            try:
                rmap.delete()
                stack.status = "ROLLBACK_COMPLETE"
            except Exception:
                stack.status = "ROLLBACK_FAILED"
            event(stack, stack.status)
            return
        rmap.rig_frozen = True
        if ready:
            stack.mark_creation_complete()

    def create_stack(self, name, template, parameters, notification_arns=None, tags=None, role_arn=None,
                     enable_termination_protection=False, timeout_in_mins=None, stack_policy_body=None):
        if any(s.name == name for s in self.stacks.values()):
            raise cfm.AlreadyExistsException(f"Stack [{name}] already exists")
        stack = cfm.Stack(
            cfm.generate_stack_id(name, self.region_name, self.account_id), name, template, parameters,
            self.account_id, self.region_name, notification_arns, tags, role_arn, self.exports,
            enable_termination_protection, timeout_in_mins, stack_policy_body,
        )
        self.stacks[stack.stack_id] = stack
        event(stack, "CREATE_IN_PROGRESS", "User Initiated")
        create_resources(self, stack)
        return stack

    backend_cls.create_stack = create_stack

    def stack_update(self, template, role_arn=None, parameters=None, tags=None):
        backend = cfm.cloudformation_backends[self.account_id][self.region_name]
        rmap, old_template = self.resource_map, self.template
        rmap.rig_stack, rmap.rig_failed, rmap.rig_frozen = self, None, False
        self.status = "UPDATE_IN_PROGRESS"
        event(self, "UPDATE_IN_PROGRESS", "User Initiated")
        try:
            self.template = template
            self._parse_template()
            rmap.update(self.template_dict, parameters)
            live = live_resources(rmap, self.template_dict["Resources"])
            for lid in [k for k, v in rmap._parsed_resources.items() if hasattr(v, "cf_resource_type")]:
                if lid not in live:  # removed by the update (moto deletes it but keeps it listed)
                    del rmap._parsed_resources[lid]
            self.output_map = self._create_output_map()
            snapshot_outputs(self)
            sync_exports(backend, self)
        except Exception as exc:
            # resources changed before the failure are not reverted (moto has no transaction)
            self.template = old_template
            self._parse_template()
            self.output_map = self._create_output_map()
            self.status = "UPDATE_ROLLBACK_COMPLETE"
            event(self, "UPDATE_ROLLBACK_IN_PROGRESS", _reason(exc))
            event(self, "UPDATE_ROLLBACK_COMPLETE")
            return
        finally:
            rmap.rig_frozen = True
        self.description = self.template_dict.get("Description")
        self.parameters = parameters or self.parameters
        self.role_arn = role_arn or self.role_arn
        self.tags = self.tags if tags is None else tags
        self.last_updated_time = cfm.utcnow()
        self.status = "UPDATE_COMPLETE"
        event(self, "UPDATE_COMPLETE")

    cfm.Stack.update = stack_update

    # -----------------------------------------------------------------------------------------
    # 4 + 6. Deletion: termination protection, exports in use, delete handlers, DELETE_FAILED
    # -----------------------------------------------------------------------------------------

    def imports_of(stack):
        """Export names a live stack imports (Fn::ImportValue in its active resources and outputs)."""
        if stack.status in no_outputs:
            return set()
        template, rmap, names = stack.template_dict or {}, stack.resource_map, set()

        def walk(node):
            if isinstance(node, dict):
                if "Fn::ImportValue" in node:
                    try:
                        names.add(cfp.clean_json(node["Fn::ImportValue"], rmap))
                    except Exception:
                        pass
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        for res in (template.get("Resources") or {}).values():
            if not res.get("Condition") or rmap.lazy_condition_map[res["Condition"]]:
                walk(res)
        walk(template.get("Outputs") or {})
        return names

    def delete_stack(self, name_or_stack_id):
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None
        )
        if stack is None:
            return  # like AWS, deleting a stack that does not exist succeeds
        if stack.enable_termination_protection:
            raise ValidationError(
                message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled"
            )
        event(stack, "DELETE_IN_PROGRESS", "User Initiated")
        stack.status = "DELETE_IN_PROGRESS"
        for export in [e for e in self.exports.values() if e.exporting_stack_id == stack.stack_id]:
            users = [s.name for s in self.stacks.values() if s is not stack and export.name in imports_of(s)]
            if users:
                stack.status = "DELETE_FAILED"
                reason = f"Export {export.name} cannot be deleted as it is in use by {users[0]}"
                event(stack, "DELETE_FAILED", reason)
                return
        stack.resource_map.rig_stack = stack
        try:
            stack.resource_map.delete()
        except Exception as exc:
            stack.status = "DELETE_FAILED"
            event(stack, "DELETE_FAILED", f"The following resource(s) failed to delete: [{exc}]. ")
            return
        stack.status = "DELETE_COMPLETE"
        event(stack, "DELETE_COMPLETE")
        for name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
            del self.exports[name]
        for cs_id in [k for k, cs in self.change_sets.items() if cs.stack_id == stack.stack_id]:
            del self.change_sets[cs_id]
        self.deleted_stacks[stack.stack_id] = self.stacks.pop(stack.stack_id)

    backend_cls.delete_stack = delete_stack

    def update_termination_protection(self):
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = _bool(self._get_param("EnableTerminationProtection"))
        return ActionResult({"StackId": stack.stack_id})

    cfr.CloudFormationResponse.update_termination_protection = update_termination_protection

    class DeleteFailed(Exception):
        pass

    def references(node):
        """Logical ids a template node refers to (Ref, Fn::GetAtt, ${X} in Fn::Sub)."""
        if isinstance(node, list):
            return set().union(*map(references, node)) if node else set()
        if not isinstance(node, dict):
            return set()
        found = set().union(*map(references, node.values())) if node else set()
        if isinstance(node.get("Ref"), str):
            found.add(node["Ref"])
        if isinstance(node.get("Fn::GetAtt"), list):
            found.add(node["Fn::GetAtt"][0])
        sub = node.get("Fn::Sub")
        if sub is not None:
            text = sub if isinstance(sub, str) else sub[0]
            found.update(m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text))
        return found

    def delete_resources(self):
        """Delete this stack's resources, newest first. Like CloudFormation, a resource is left alone
        while one that depends on it remains; what fails is retried while others make progress."""
        stack, self.rig_frozen = getattr(self, "rig_stack", None), True
        pending = [r for r in reversed(list(self._parsed_resources.values())) if hasattr(r, "cf_resource_type")]
        depends = {}
        for res in pending:
            resource_json = self._resource_json_map.get(res.logical_resource_id) or {}
            after = resource_json.get("DependsOn") or []
            after = {after} if isinstance(after, str) else set(after)
            depends[res.logical_resource_id] = references(resource_json) | after
        errors = {}
        while pending:
            progress = False
            for res in list(pending):
                lid = res.logical_resource_id
                if any(lid in depends[other.logical_resource_id] for other in pending if other is not res):
                    continue
                try:
                    self._delete_resource(res, self._resource_json_map.get(lid) or {"Type": res.cf_resource_type})
                except Exception as exc:
                    errors[lid] = exc
                    continue
                pending.remove(res)
                errors.pop(lid, None)
                self._parsed_resources.pop(lid, None)
                progress = True
            if not progress:
                break
        if pending:
            for lid, exc in errors.items():
                if stack:
                    event(stack, "DELETE_FAILED", _reason(exc), res=self._parsed_resources[lid])
            raise DeleteFailed(", ".join(errors) or ", ".join(r.logical_resource_id for r in pending))

    cfp.ResourceMap.delete = delete_resources

    def ec2(a, r):
        return ec2_backends[a][r]

    def delete_igw_attachment(res, a, r):
        if res.gateway_id.startswith("igw-"):
            ec2(a, r).detach_internet_gateway(res.gateway_id, res.vpc_id)
        else:
            ec2(a, r).detach_vpn_gateway(res.gateway_id, res.vpc_id)

    def delete_route_table_association(res, a, r):
        table = ec2(a, r).get_route_table(res.route_table_id)
        for association_id, subnet_id in list(table._associations.items()):
            if subnet_id == res.subnet_id:
                ec2(a, r).disassociate_route_table(association_id)

    def delete_nat_gateway(res, a, r):
        ec2(a, r).delete_nat_gateway(res.id)
        ec2(a, r).nat_gateways.pop(res.id, None)  # gone from DescribeNatGateways at once

    def delete_bucket(res, a, r):
        s3 = s3_backends[a]["aws"]
        if res.keys:
            raise BucketNotEmpty(res.name)
        s3.delete_bucket(res.name)

    class ClusterContainsServices(CloudFormationError):
        code = "ClusterContainsServicesException"

    def delete_ecs_cluster(res, a, r):
        backend = ecs_backends[a][r]
        if any(k.split(":")[0] == res.name and s.status == "ACTIVE" for k, s in backend.services.items()):
            raise ClusterContainsServices("The Cluster cannot be deleted while Services are active.")
        backend.delete_cluster(res.name)

    def delete_nested_stack(res, a, r):
        cfm.cloudformation_backends[a][r].delete_stack(res.stack_id)
        if res.status != "DELETE_COMPLETE":
            raise ValidationError(message=f"Nested stack {res.name} is {res.status}")

    deleters = {
        "AWS::EC2::InternetGateway": lambda res, a, r: ec2(a, r).delete_internet_gateway(res.id),
        "AWS::EC2::VPCGatewayAttachment": delete_igw_attachment,
        "AWS::EC2::RouteTable": lambda res, a, r: ec2(a, r).delete_route_table(res.id),
        "AWS::EC2::Route": lambda res, a, r: ec2(a, r).delete_route(
            res.route_table.id, res.destination_cidr_block
        ),
        "AWS::EC2::SubnetRouteTableAssociation": delete_route_table_association,
        "AWS::EC2::NatGateway": delete_nat_gateway,
        "AWS::EC2::EIP": lambda res, a, r: ec2(a, r).release_address(allocation_id=res.allocation_id),
        "AWS::EC2::Volume": lambda res, a, r: ec2(a, r).delete_volume(res.id),
        "AWS::EC2::VolumeAttachment": lambda res, a, r: ec2(a, r).detach_volume(
            res.volume.id, res.instance.id, res.device
        ),
        "AWS::EC2::LaunchTemplate": lambda res, a, r: ec2(a, r).delete_launch_template(None, res.id),
        "AWS::EC2::SecurityGroupIngress": lambda res, a, r: None,  # goes with its group
        "AWS::ElasticLoadBalancingV2::Listener": lambda res, a, r: elbv2_backends[a][r].delete_listener(res.arn),
        "AWS::ElasticLoadBalancingV2::ListenerRule": lambda res, a, r: elbv2_backends[a][r].delete_rule(res.arn),
        "AWS::ElasticLoadBalancingV2::TargetGroup": lambda res, a, r: elbv2_backends[a][r].delete_target_group(
            res.arn
        ),
        "AWS::Route53::HostedZone": lambda res, a, r: route53_backends[a]["aws"].delete_hosted_zone(res.id),
        "AWS::S3::Bucket": delete_bucket,
        "AWS::ECS::Cluster": delete_ecs_cluster,
        "AWS::ECS::Service": lambda res, a, r: ecs_backends[a][r].delete_service(
            res.cluster_name, res.name, force=True
        ),
        "AWS::ECS::TaskDefinition": lambda res, a, r: ecs_backends[a][r].deregister_task_definition(res.arn),
        "AWS::CloudFormation::Stack": delete_nested_stack,
    }
    plain_delete_resource = cfp.ResourceMap._delete_resource

    def delete_resource(self, parsed_resource, resource_json):
        """Delete one resource (also used for Remove in updates), honouring its DeletionPolicy."""
        stack, rtype = getattr(self, "rig_stack", None), resource_json["Type"]
        policy = resource_json.get("DeletionPolicy")
        rolling_back = stack is not None and stack.status == "ROLLBACK_IN_PROGRESS"
        if policy == "Retain" or (policy == "RetainExceptOnCreate" and not rolling_back):
            if stack:
                event(stack, "DELETE_SKIPPED", res=parsed_resource)
            return
        started = self.__dict__.setdefault("rig_delete_started", set())
        if stack and parsed_resource.logical_resource_id not in started:  # once, despite retries
            started.add(parsed_resource.logical_resource_id)
            event(stack, "DELETE_IN_PROGRESS", res=parsed_resource)
        if rtype == "AWS::RDS::DBCluster":
            parsed_resource.delete(self._account_id, self._region_name, snapshot=policy == "Snapshot")
        elif rtype in deleters:
            deleters[rtype](parsed_resource, self._account_id, self._region_name)
        else:
            plain_delete_resource(self, parsed_resource, resource_json)
        if stack:
            event(stack, "DELETE_COMPLETE", res=parsed_resource)

    cfp.ResourceMap._delete_resource = delete_resource

    # -----------------------------------------------------------------------------------------
    # 8. ECS: built-in FARGATE / FARGATE_SPOT providers; deleted (INACTIVE) clusters not listed
    # -----------------------------------------------------------------------------------------

    plain_describe_providers = ecs_models.EC2ContainerServiceBackend.describe_capacity_providers

    def describe_capacity_providers(self, names):
        builtin = {
            n: {"capacityProviderArn": f"arn:aws:ecs:{self.region_name}:{self.account_id}:capacity-provider/{n}",
                "name": n, "status": "ACTIVE", "tags": []}
            for n in ("FARGATE", "FARGATE_SPOT")
        }
        if names is None:
            return list(builtin.values()) + list(self.capacity_providers.values()), []
        providers, failures = plain_describe_providers(self, [n for n in names if n not in builtin])
        return [builtin[n] for n in names if n in builtin] + providers, failures

    ecs_models.EC2ContainerServiceBackend.describe_capacity_providers = describe_capacity_providers
    ecs_models.EC2ContainerServiceBackend.list_clusters = lambda self: [
        c.arn for c in self.clusters.values() if c.status != "INACTIVE"
    ]

    # -----------------------------------------------------------------------------------------
    # 9. Stack tags through change sets: a tags-only change set has Modify (Scope Tags) changes
    # -----------------------------------------------------------------------------------------

    # Types without a Tags property: a change of the stack's tags lists every other resource.
    untagged_types = {
        "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::Route", "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::SecurityGroupIngress", "AWS::EC2::VolumeAttachment", "AWS::S3::BucketPolicy",
        "AWS::SNS::Subscription", "AWS::Route53::RecordSet", "AWS::IAM::InstanceProfile", "AWS::IAM::Policy",
        "AWS::ElasticLoadBalancingV2::Listener", "AWS::ElasticLoadBalancingV2::ListenerRule",
        "AWS::ECS::ClusterCapacityProviderAssociations", "AWS::Logs::MetricFilter", "AWS::Lambda::Permission",
        "AWS::CloudFormation::WaitCondition", "AWS::CloudFormation::WaitConditionHandle",
    }
    plain_change_set_diff = cfm.ChangeSet.diff

    def change_set_diff_with_tags(self):
        changes = plain_change_set_diff(self)
        if self.change_set_type != "UPDATE" or not self.tags or self.tags == self.stack.tags:
            return changes
        self.rig_no_change = False  # executing it replaces the stack's tags (stack_update)
        listed = {c.logical_resource_id: c for c in changes}
        for lid, res in self.stack.resource_map._parsed_resources.items():
            rtype, c = getattr(res, "cf_resource_type", None), listed.get(lid)
            if rtype is None or rtype in untagged_types or (c is not None and c.action != "Modify"):
                continue
            if c is None:
                unchanged = {"Properties": {}, "Metadata": {}}
                c = change("Modify", lid, rtype, unchanged, unchanged, res)
                changes.append(c)
            c.scope.append("Tags")
            c.details.append({"Target": {"Attribute": "Tags", "RequiresRecreation": "Never"},
                              "Evaluation": "Static", "ChangeSource": "DirectModification"})
        return changes

    cfm.ChangeSet.diff = change_set_diff_with_tags

    # -----------------------------------------------------------------------------------------
    # 10. UsePreviousValue reuses the value as given (moto reused its resolved value: the AMI id of
    #     an SSM parameter type, which it then looked up as a parameter name; a list). given_values
    #     (3) is also what the "no changes" check compares.
    # -----------------------------------------------------------------------------------------

    cfm.Stack.stack_parameters = property(lambda s: given_values(s.template_dict, s.parameters or {}))

    # -----------------------------------------------------------------------------------------
    # 11. DeleteStack RetainResources: only for a DELETE_FAILED stack; those resources are skipped
    # -----------------------------------------------------------------------------------------

    plain_delete_stack, plain_delete_one = backend_cls.delete_stack, cfp.ResourceMap._delete_resource

    def delete_stack_retaining(self, name_or_stack_id, retain_resources=None):
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None
        )
        retain = set(retain_resources or ())
        if stack is None or not retain:
            return plain_delete_stack(self, name_or_stack_id)
        if stack.status != "DELETE_FAILED":
            raise ValidationError(
                message=f"Invalid operation on stack [{stack.stack_id}]. RetainResources can only be specified "
                "when the stack is in the DELETE_FAILED state."
            )
        rmap = stack.resource_map
        if retain - {lid for lid, r in rmap._parsed_resources.items() if hasattr(r, "cf_resource_type")}:
            raise ValidationError(
                message="The specified resources to retain must be in a valid state. Do not specify resources "
                "that are in the DELETE_COMPLETE state."
            )
        rmap.rig_retain = retain
        try:
            plain_delete_stack(self, name_or_stack_id)
        finally:
            rmap.rig_retain = set()

    def delete_resource_retaining(self, parsed_resource, resource_json):
        if parsed_resource.logical_resource_id in getattr(self, "rig_retain", ()):
            if getattr(self, "rig_stack", None):
                event(self.rig_stack, "DELETE_SKIPPED", res=parsed_resource)
            return
        plain_delete_one(self, parsed_resource, resource_json)

    def delete_stack_response(self):  # moto's handler drops RetainResources
        self.cloudformation_backend.delete_stack(self._get_param("StackName"), self._get_param("RetainResources"))
        return EmptyResult()

    backend_cls.delete_stack = delete_stack_retaining
    cfp.ResourceMap._delete_resource = delete_resource_retaining
    cfr.CloudFormationResponse.delete_stack = delete_stack_response

    # -----------------------------------------------------------------------------------------
    # 12. Route 53: a hosted zone with extra records is not deleted, with AWS's message
    # -----------------------------------------------------------------------------------------

    HostedZoneNotEmpty.__init__ = lambda self: super(HostedZoneNotEmpty, self).__init__(
        "HostedZoneNotEmpty",
        "The specified hosted zone contains non-required resource record sets and so cannot be deleted.",
    )

    # -----------------------------------------------------------------------------------------
    # 13. ECR: a repository holding images is not deleted unless EmptyOnDelete is true
    # -----------------------------------------------------------------------------------------

    plain_delete_emptying = cfp.ResourceMap._delete_resource

    def delete_resource_emptying(self, parsed_resource, resource_json):
        if resource_json["Type"] == "AWS::ECR::Repository":
            props = resource_json.get("Properties") or {}
            parsed_resource.rig_empty_on_delete = _bool(cfp.clean_json(props.get("EmptyOnDelete"), self))
        plain_delete_emptying(self, parsed_resource, resource_json)

    cfp.ResourceMap._delete_resource = delete_resource_emptying
    deleters["AWS::ECR::Repository"] = lambda res, a, r: ecr_backends[a][r].delete_repository(
        res.name, force=getattr(res, "rig_empty_on_delete", False)
    )

    # -----------------------------------------------------------------------------------------
    # 15-22. What an application stack needs (below, outside this function)
    # -----------------------------------------------------------------------------------------

    apply_app_extensions(SimpleNamespace(
        register=register, RigModel=RigModel, deleters=deleters, replace_props=replace_props,
        untagged_types=untagged_types, extra_attrs=extra_attrs,
    ))


# =============================================================================================
# 15-22. What an application stack needs (templates/app.yaml, see README): ECS services that
# deploy, fail and roll back the way ECS does, their tasks, targets and log lines, Application
# Auto Scaling, and fixes to the other types an app stack uses. apply_extensions() calls
# apply_app_extensions() last.
# =============================================================================================

CIRCUIT_BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."
CRASH_EXIT_REASON = "exit status 1 (crash image)"
CRASH_LOG_LINE = "ERROR crash image: exiting with status 1"
_task_ips = threading.local()  # set while rig launches a task: its ENI takes an address of its subnet


def image_crashes(image):
    """Whether a container image is one of the test images that crash (18): its tag (after the last
    ':' of the last path segment) starts with `crash`, e.g. `nginx:crash-1`."""
    last = (image or "").rsplit("/", 1)[-1]
    return ":" in last and last.rsplit(":", 1)[1].startswith("crash")


def _now():
    from moto.core.utils import utcnow

    return utcnow()


def _int(value, default=None):
    return default if value in (None, "") else int(value)


def deployment_configuration(raw):
    """A service's DeploymentConfiguration (CloudFormation's PascalCase) as ECS returns it, with ECS's
    defaults (200 / 100, circuit breaker off)."""
    conf = _camel(raw or {})
    breaker = conf.get("deploymentCircuitBreaker") or {}
    out = {
        "maximumPercent": _int(conf.get("maximumPercent"), 200),
        "minimumHealthyPercent": _int(conf.get("minimumHealthyPercent"), 100),
        "deploymentCircuitBreaker": {"enable": _bool(breaker.get("enable")),
                                     "rollback": _bool(breaker.get("rollback"))},
    }
    threshold = breaker.get("thresholdConfiguration")
    if threshold:
        out["deploymentCircuitBreaker"]["thresholdConfiguration"] = {
            "type": threshold.get("type", "BOUNDED_PERCENT"), "value": _int(threshold.get("value"), 50)}
    if "resetOnHealthyTask" in breaker:
        out["deploymentCircuitBreaker"]["resetOnHealthyTask"] = _bool(breaker["resetOnHealthyTask"])
    for key in ("alarms", "strategy", "bakeTimeInMinutes"):
        if key in conf:
            out[key] = conf[key]
    return out


def failure_threshold(service):
    """How many failed task launches fail a deployment: ThresholdConfiguration `COUNT` -> its value;
    `BOUNDED_PERCENT` (ECS's default, value 50) -> value % of the desired count within 3..200;
    `UNBOUNDED_PERCENT` -> value % of the desired count."""
    breaker = service.deployment_configuration["deploymentCircuitBreaker"]
    conf = breaker.get("thresholdConfiguration") or {"type": "BOUNDED_PERCENT", "value": 50}
    if conf["type"] == "COUNT":
        return max(1, conf["value"])
    count = math.ceil(service.desired_count * conf["value"] / 100)
    return max(1, count) if conf["type"] == "UNBOUNDED_PERCENT" else min(200, max(3, count))


class Deployment:
    """One deployment of a service, as DescribeServices lists it, and the tasks it started."""

    def __init__(self, service, task_definition, crash):
        self.id = f"ecs-svc/{secrets.randbelow(9 * 10**18) + 10**18}"
        self.status, self.task_definition, self.crash = "PRIMARY", task_definition, crash
        self.desired, self.running, self.pending, self.failed = service.desired_count, 0, service.desired_count, 0
        self.state, self.reason = "IN_PROGRESS", f"ECS deployment {self.id} in progress."
        self.created_at = self.updated_at = _now()
        self.tasks = []
        self.shown = False  # its current (unsettled) state was returned once by DescribeServices
        self.drop = False  # leaves the list at the next DescribeServices (a failed deployment, shown once)

    def unsettled(self):
        """Still to change at a later DescribeServices: in progress, or tasks still pending."""
        return self.state == "IN_PROGRESS" or self.pending > 0

    def api(self, service):
        """The deployment in DescribeServices' shape."""
        launch_type = service.launch_type
        return {
            "id": self.id, "status": self.status, "taskDefinition": self.task_definition,
            "desiredCount": self.desired, "pendingCount": self.pending, "runningCount": self.running,
            "failedTasks": self.failed, "createdAt": self.created_at, "updatedAt": self.updated_at,
            "launchType": launch_type, "capacityProviderStrategy": service.capacity_provider_strategy or None,
            "platformVersion": service.platform_version,
            "platformFamily": "Linux" if launch_type == "FARGATE" else None,
            "networkConfiguration": service.network_configuration or None,
            "rolloutState": self.state, "rolloutStateReason": self.reason,
        }


def locked(method):
    """One rollout change at a time (the server is threaded: a stack update may run during a poll)."""
    def call(*args, **kwargs):
        with _rollouts_lock:
            return method(*args, **kwargs)

    call.__doc__, call.__name__ = method.__doc__, method.__name__
    return call


_rollouts_lock = threading.RLock()


class ServiceRollout:
    """What ECS does with a service created or updated through CloudFormation (17-20): deployments
    whose rollout state a client sees move by polling DescribeServices (IN_PROGRESS once, then
    COMPLETED or FAILED), tasks in moto's ECS backend, the circuit breaker and its rollback, the
    service's events, its targets' health and the tasks' log lines."""

    def __init__(self, service, backend):
        self.service, self.backend = service, backend
        self.deployments = []
        self.completed = None  # (task definition, id) of the last COMPLETED deployment: what a rollback runs
        self.draining = []  # tasks stopped by the last step: their targets drain until the next one
        service.rig_rollout = self

    @staticmethod
    def of(service):
        return getattr(service, "rig_rollout", None)

    @property
    def primary(self):
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)

    # -- what the service is asked to do ---------------------------------------------------

    @locked
    def start(self, task_definition):
        """A create, or an update changing what the tasks run: a new PRIMARY deployment, IN_PROGRESS
        with its tasks pending (a crashing image's tasks start and fail health checks)."""
        for d in self.deployments:
            d.status, d.updated_at = "ACTIVE", _now()
        image = self.essential_container(task_definition).get("image")
        d = Deployment(self.service, task_definition, crash=image_crashes(image) and self.service.desired_count > 0)
        self.deployments.insert(0, d)
        count = min(d.desired, failure_threshold(self.service)) if d.crash else d.desired
        self.launched([self.launch(d, "RUNNING" if d.crash else "PENDING") for _ in range(count)])
        self.sync()
        return d

    @locked
    def scale(self, desired):
        """A change of the desired count only: no new deployment; the PRIMARY's tasks follow, new
        ones pending until the next DescribeServices."""
        self.service.desired_count = desired
        d = self.primary
        if d is None or d.state == "FAILED":
            self.sync()
            return
        d.desired, d.updated_at = desired, _now()
        live = [t for t in d.tasks if t.last_status in ("PENDING", "RUNNING")]
        if len(live) < desired:
            self.launched([self.launch(d, "PENDING") for _ in range(desired - len(live))])
            d.pending, d.shown = desired - d.running, False
        else:
            extra = live[desired:]
            for t in extra:
                self.stop(t, "ServiceSchedulerInitiated",
                          f"Scaling activity initiated by (service {self.service.name})")
            if extra:
                self.event(f"has stopped {len(extra)} running tasks: " + self.task_list(extra) + ".")
            d.running, d.pending = min(d.running, desired), max(0, desired - d.running)
        self.sync()

    @locked
    def stop_all(self):
        """The service is deleted: its tasks stop, its targets go."""
        for d in self.deployments:
            for t in d.tasks:
                if t.last_status != "STOPPED":
                    self.stop(t, "ServiceSchedulerInitiated", "Service was deleted", drain=False)
        self.deployments, self.draining = [], []
        self.service.running_count = self.service.pending_count = 0  # moto's delete_service fixed the cluster

    # -- what a DescribeServices sees ----------------------------------------------------------

    @locked
    def step(self):
        """One DescribeServices: what it returned once as in progress (or pending) now completes or
        fails; failed deployments shown once and draining targets go."""
        self.draining = []
        self.deployments = [d for d in self.deployments if not d.drop]
        for d in list(self.deployments):
            if d not in self.deployments or not d.unsettled():
                continue
            if not d.shown:
                d.shown = True
            elif d.crash and d.state == "IN_PROGRESS":
                self.fail(d)
            else:
                self.settle(d)
        self.sync()

    def settle(self, d):
        """Pending tasks are running; an IN_PROGRESS deployment is COMPLETED, and the deployments it
        replaces stop their tasks and leave the list."""
        for t in d.tasks:
            if t.last_status == "PENDING":
                self.run(t, d)
        d.running, d.pending, d.updated_at = d.desired, 0, _now()
        if d.state != "IN_PROGRESS":
            return
        d.state, d.reason = "COMPLETED", f"ECS deployment {d.id} completed."
        if d.status == "PRIMARY":
            self.completed = (d.task_definition, d.id)
            stopped = []
            for old in [o for o in self.deployments if o is not d and not o.drop]:
                for t in old.tasks:
                    if t.last_status != "STOPPED":
                        self.stop(t, "ServiceSchedulerInitiated", f"Scaling activity initiated by (deployment {d.id})")
                        stopped.append(t)
                self.deployments.remove(old)
            if stopped:
                self.event(f"has stopped {len(stopped)} running tasks: {self.task_list(stopped)}.")
            self.event(f"(deployment {d.id}) deployment completed.")
            self.event("has reached a steady state.")

    def fail(self, d):
        """A crashing deployment: its tasks exit; the scheduler retries up to the circuit breaker's
        threshold, then the deployment FAILED and, with Rollback, a new PRIMARY deployment runs the
        task definition of the last COMPLETED one. Without a circuit breaker ECS keeps retrying."""
        service = self.service
        breaker = service.deployment_configuration["deploymentCircuitBreaker"]
        threshold = failure_threshold(service)
        for t in d.tasks:
            if t.last_status != "STOPPED":
                self.crashed(t)
        while len(d.tasks) < (threshold if breaker["enable"] else d.failed + max(1, d.desired)):
            t = self.launch(d, "RUNNING")
            self.launched([t])
            self.crashed(t)
        d.failed, d.running, d.pending, d.updated_at = len(d.tasks), 0, d.desired, _now()
        if not breaker["enable"]:
            d.shown = False  # keeps trying, one more round per DescribeServices
            return
        d.state, d.reason, d.pending = "FAILED", CIRCUIT_BREAKER_REASON, 0
        self.event(f"deployment {d.id} deployment failed: tasks failed to start.")
        if not (breaker["rollback"] and self.completed and d.status == "PRIMARY"):
            return
        previous, previous_id = self.completed
        self.event(f"rolling back to deployment {previous_id}.")
        d.status, d.drop = "ACTIVE", True
        rollback = Deployment(service, previous, crash=False)
        self.deployments.insert(0, rollback)
        service.task_definition = previous
        tasks = [self.launch(rollback, "PENDING") for _ in range(rollback.desired)]
        self.launched(tasks)
        self.settle(rollback)

    # -- tasks ----------------------------------------------------------------------------

    def essential_container(self, task_definition):
        td = self.backend.describe_task_definition(task_definition)
        defs = td.container_definitions
        return next((c for c in defs if c.get("essential", True)), defs[0] if defs else {})

    def launch(self, d, status):
        """A task of deployment `d` in moto's ECS backend: PENDING, or RUNNING (it starts: log lines)."""
        from moto.ecs.models import Task

        service, backend = self.service, self.backend
        td = backend.describe_task_definition(d.task_definition)
        cluster = backend.clusters[service.cluster_name]
        net = service.network_configuration if td.network_mode == "awsvpc" else None
        subnet = None
        if net:
            vpc_conf = dict(net["awsvpcConfiguration"])
            subnets = vpc_conf["subnets"]
            subnet = subnets[len(d.tasks) % len(subnets)]  # spread over the subnets, like ECS
            vpc_conf["subnets"] = [subnet] + [s for s in subnets if s != subnet]
            vpc_conf.setdefault("securityGroups", [])
            net = {"awsvpcConfiguration": vpc_conf}
        tags = list(service.tags) if service.propagate_tags == "SERVICE" else []
        if service.enable_ecs_managed_tags:
            tags += [{"key": "aws:ecs:clusterName", "value": service.cluster_name},
                     {"key": "aws:ecs:serviceName", "value": service.name}]
        _task_ips.active = True
        try:
            task = Task(cluster, td, None, None, backend, group=f"service:{service.name}",
                        launch_type=service.launch_type or "", started_by=d.id, tags=tags,
                        networking_configuration=net, platform_version=service.platform_version)
        finally:
            _task_ips.active = False
        task._transitions = []  # rig's tasks change state here, not on every DescribeTasks
        now = _now()
        task.status = task.last_status = status
        task.created_at, task.connectivity, task.connectivity_at = now, "CONNECTED", now
        task.cpu, task.memory, task.health_status = td.cpu, td.memory, "UNKNOWN"
        task.availability_zone = ec2_subnet(service, subnet).availability_zone if subnet else None
        task.stop_code = None
        container = task.containers[0]
        container.last_status, container.exitCode, container.reason = status, None, None
        container.health_status = "UNKNOWN"  # no container health check (moto: HEALTHY)
        container.task_arn = task.task_arn
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        d.tasks.append(task)
        if status == "RUNNING":
            self.run(task, d)
        return task

    def run(self, task, d):
        """The task runs: its container starts and writes its first log lines."""
        task.status = task.last_status = task.containers[0].last_status = "RUNNING"
        task.started_at = task.pull_started_at = task.pull_stopped_at = _now()
        container = self.essential_container(d.task_definition)
        port = next((m.get("containerPort") for m in container.get("portMappings") or []), None)
        last = CRASH_LOG_LINE if d.crash else f"listening on port {port}"
        write_task_logs(self.backend, task, container, [f"starting {container.get('image')}", last])

    def crashed(self, task):
        """The essential container of a crashing image exited."""
        self.stop(task, "EssentialContainerExited", "Essential container in task exited", exit_code=1,
                  container_reason=CRASH_EXIT_REASON)

    def stop(self, task, code, reason, exit_code=0, container_reason=None, drain=True):
        """The task is STOPPED (its ENI deleted); a task that was in the load balancer drains."""
        was_running = task.last_status == "RUNNING"
        now = _now()
        task.status = task.last_status = task.desired_status = "STOPPED"
        task.stopped_reason, task.stop_code = reason, code
        task.stopping_at = task.stopped_at = task.execution_stopped_at = now
        container = task.containers[0]
        container.last_status, container.exitCode, container.reason = "STOPPED", exit_code, container_reason
        ec2 = ec2_backend_of(self.service)
        for attachment in task.attachments:
            attachment["status"] = "DELETED"
            eni = next((x["value"] for x in attachment["details"] if x["name"] == "networkInterfaceId"), None)
            if eni in ec2.enis:
                ec2.delete_network_interface(eni)
        if drain and was_running and self.service.load_balancers:
            self.draining.append(task)

    def launched(self, tasks):
        if tasks:
            self.event(f"has started {len(tasks)} tasks: {self.task_list(tasks)}.")

    @staticmethod
    def task_list(tasks):
        return " ".join(f"(task {t.id})" for t in tasks)

    def event(self, text):
        """A service event, newest first, as ECS words them: `(service NAME) ...`."""
        self.service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": _now(),
                                       "message": f"(service {self.service.name}) {text}"})
        del self.service.events[100:]

    def sync(self):
        """The service's running/pending counts (and its cluster's) from its deployments."""
        service = self.service
        cluster = self.backend.clusters.get(service.cluster_name)
        running = sum(d.running for d in self.deployments)
        pending = sum(d.pending for d in self.deployments)
        if cluster is not None:
            self.backend.update_cluster_resources(cluster, running - service.running_count, "RUNNING")
            self.backend.update_cluster_resources(cluster, pending - service.pending_count, "PENDING")
        service.running_count, service.pending_count = running, pending

    # -- load balancer -------------------------------------------------------------------------

    @locked
    def targets(self, target_group_arn):
        """[(ip, port, state, reason, description)] of this service's tasks in a target group (19)."""
        ports = [lb.get("containerPort") for lb in self.service.load_balancers
                 if lb.get("targetGroupArn") == target_group_arn]
        if not ports:
            return []
        found = []
        for d in self.deployments:
            for t in d.tasks:
                if t.last_status == "RUNNING" and d.crash:
                    found.append((t, "unhealthy", "Target.FailedHealthChecks", "Health checks failed"))
                elif t.last_status == "RUNNING":
                    found.append((t, "healthy", None, None))
                elif t.last_status == "PENDING":
                    found.append((t, "initial", "Elb.RegistrationInProgress", "Target registration is in progress"))
        found += [(t, "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")
                  for t in self.draining]
        return [(task_ip(t), int(port), state, reason, text) for t, state, reason, text in found for port in ports
                if task_ip(t)]


def ec2_backend_of(service):
    from moto.ec2.models import ec2_backends

    return ec2_backends[service._account_id][service.region_name]


def ec2_subnet(service, subnet_id):
    return ec2_backend_of(service).get_subnet(subnet_id)


def task_ip(task):
    """The private IPv4 address of an awsvpc task (its ENI attachment)."""
    for attachment in task.attachments:
        for detail in attachment["details"]:
            if detail["name"] == "privateIPv4Address":
                return detail["value"]
    return None


def write_task_logs(backend, task, container, lines):
    """Log lines of a task's container in its awslogs group (20), stream `<prefix>/<container>/<task
    id>`, through moto's logs backend; nothing if the group does not exist (the stack creates it)."""
    from moto.logs.models import logs_backends

    log = container.get("logConfiguration") or {}
    options = log.get("options") or {}
    if log.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
        return
    logs = logs_backends[backend.account_id][options.get("awslogs-region") or backend.region_name]
    group = options["awslogs-group"]
    if group not in logs.groups:
        return
    prefix = options.get("awslogs-stream-prefix")
    stream = f"{prefix}/{container.get('name')}/{task.id}" if prefix else task.id
    if stream not in logs.groups[group].streams:
        logs.create_log_stream(group, stream)
    millis = int(time.time() * 1000)
    logs.put_log_events(group, stream, [{"timestamp": millis + i, "message": m} for i, m in enumerate(lines)])


def apply_app_extensions(ext) -> None:
    """16-22 (see README; 15 lives in apply_extensions' change-set section). `ext` carries what
    apply_extensions() shares: register, RigModel, deleters, replace_props, untagged_types, extra_attrs."""
    extend_ecs(ext)
    extend_target_health()
    extend_autoscaling(ext)
    extend_app_stack_types(ext)


def extend_ecs(ext) -> None:
    """16-18 + 20: AWS::ECS::TaskDefinition and AWS::ECS::Service through CloudFormation, with
    ServiceRollout behind each service; DescribeServices steps the rollouts; ListTasks by service."""
    from moto.ecs import models as ecs_models
    from moto.ecs.models import Service, TaskDefinition, ecs_backends
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys

    backend_cls = ecs_models.EC2ContainerServiceBackend

    # The ENI of a task rig launches takes an address in its subnet (moto: any 10.x address). An ENI
    # always has a private DNS name (moto set none unless the VPC had DNS hostnames, which its
    # CloudFormation VPC never has: every awsvpc task then failed with an AttributeError).
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface
    from moto.ec2.utils import generate_dns_from_ip

    NetworkInterface.private_dns_name = property(
        lambda self: self.__dict__.get("rig_dns") or generate_dns_from_ip(self.private_ip_address),
        lambda self, value: self.__dict__.__setitem__("rig_dns", value),
    )
    plain_random_ip = ecs_models.random_private_ip
    ecs_models.random_private_ip = lambda *a, **kw: None if getattr(_task_ips, "active", False) \
        else plain_random_ip(*a, **kw)

    def container_definitions(raw):
        """CloudFormation's ContainerDefinitions in the API's camelCase (log driver options, docker
        labels and the like keep their keys)."""
        def convert(value, keep=False):
            if isinstance(value, list):
                return [convert(v) for v in value]
            if isinstance(value, dict):
                return {k if keep else pascal_to_camelcase(k): convert(v, k in ("Options", "DockerLabels"))
                        for k, v in value.items()}
            return value

        defs = convert(raw or [])
        for d in defs:
            for m in d.get("portMappings") or []:
                for key in ("containerPort", "hostPort"):
                    if key in m:
                        m[key] = int(m[key])
            for key in ("cpu", "memory", "memoryReservation"):
                if key in d:
                    d[key] = int(d[key])
            if "essential" in d:
                d["essential"] = _bool(d["essential"], True)
        return defs

    def register(backend, family, p):
        return backend.register_task_definition(
            family=family,
            container_definitions=container_definitions(p.get("ContainerDefinitions")),
            volumes=remap_nested_keys(p.get("Volumes") or [], pascal_to_camelcase),
            network_mode=p.get("NetworkMode"),
            tags=_camel(p.get("Tags")),
            placement_constraints=_camel(p.get("PlacementConstraints")),
            requires_compatibilities=p.get("RequiresCompatibilities"),
            cpu=None if p.get("Cpu") is None else str(p["Cpu"]),
            memory=None if p.get("Memory") is None else str(p["Memory"]),
            task_role_arn=p.get("TaskRoleArn"),
            execution_role_arn=p.get("ExecutionRoleArn"),
            proxy_configuration=_camel(p.get("ProxyConfiguration")),
            inference_accelerators=_camel(p.get("InferenceAccelerators")),
            runtime_platform=_camel(p.get("RuntimePlatform")),
            ipc_mode=p.get("IpcMode"),
            pid_mode=p.get("PidMode"),
            ephemeral_storage=_camel(p.get("EphemeralStorage")),
        )

    def create_task_definition(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json.get("Properties") or {}
        return register(ecs_backends[account_id][region_name], p.get("Family") or resource_name, p)

    def update_task_definition(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                               region_name):
        """Any change but Tags is a new revision (the old one deregistered), as on AWS."""
        backend = ecs_backends[account_id][region_name]
        p = cloudformation_json.get("Properties") or {}
        new = register(backend, p.get("Family") or original_resource.family, p)
        backend.deregister_task_definition(original_resource.arn)
        return new

    TaskDefinition.create_from_cloudformation_json = classmethod(create_task_definition)
    TaskDefinition.update_from_cloudformation_json = classmethod(update_task_definition)
    ext.replace_props["AWS::ECS::TaskDefinition"] = {
        "ContainerDefinitions", "Cpu", "Memory", "Family", "NetworkMode", "RequiresCompatibilities",
        "ExecutionRoleArn", "TaskRoleArn", "Volumes", "PlacementConstraints", "ProxyConfiguration",
        "InferenceAccelerators", "RuntimePlatform", "IpcMode", "PidMode", "EphemeralStorage",
    }
    ext.replace_props["AWS::ECS::Service"] = {"Cluster", "ServiceName", "Role", "SchedulingStrategy"}

    def task_definition_arn(backend, value):
        if isinstance(value, TaskDefinition):
            return value.arn
        return backend.describe_task_definition(value).arn if value else None

    def service_settings(p, backend, cluster=None):
        """The service settings rig's template gives, in the shape moto's Service keeps them. With
        neither LaunchType nor CapacityProviderStrategy the service takes the cluster's default
        capacity provider strategy, as on AWS."""
        lbs = [dict(lb, containerPort=_int(lb.get("containerPort"))) for lb in _camel(p.get("LoadBalancers") or [])]
        net = _camel(p.get("NetworkConfiguration")) or None
        strategy = _camel(p.get("CapacityProviderStrategy")) or []
        if not strategy and not p.get("LaunchType") and cluster in backend.clusters:
            strategy = list(backend.clusters[cluster].default_capacity_provider_strategy or [])
        return {
            "task_definition": task_definition_arn(backend, p.get("TaskDefinition")),
            "load_balancers": [{k: v for k, v in lb.items() if v is not None} for lb in lbs],
            "network_configuration": net,
            "launch_type": p.get("LaunchType"),
            "platform_version": p.get("PlatformVersion"),
            "capacity_provider_strategy": strategy,
        }

    def configure(service, p):
        service.deployment_configuration = deployment_configuration(p.get("DeploymentConfiguration"))
        grace = p.get("HealthCheckGracePeriodSeconds")
        service.health_check_grace_period_seconds = _int(grace) if grace is not None else \
            (0 if service.load_balancers else None)
        service.enable_ecs_managed_tags = _bool(p.get("EnableECSManagedTags"))
        service.enable_execute_command = _bool(p.get("EnableExecuteCommand"))
        service.propagate_tags = p.get("PropagateTags") or "NONE"
        service.placement_constraints = _camel(p.get("PlacementConstraints")) or []
        service.placement_strategy = _camel(p.get("PlacementStrategy")) or []

    def create_service(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json.get("Properties") or {}
        backend = ecs_backends[account_id][region_name]
        cluster = p.get("Cluster") or "default"
        cluster = getattr(cluster, "name", cluster).split("/")[-1]
        s = service_settings(p, backend, cluster)
        service = backend.create_service(
            cluster, p.get("ServiceName") or resource_name, _int(p.get("DesiredCount"), 1),
            task_definition_str=s["task_definition"], load_balancers=s["load_balancers"],
            scheduling_strategy=p.get("SchedulingStrategy"), tags=_camel(p.get("Tags")),
            deployment_controller=_camel(p.get("DeploymentController")),
            launch_type=s["launch_type"] or ("EC2" if not s["capacity_provider_strategy"] else None),
            service_registries=_camel(p.get("ServiceRegistries")), platform_version=s["platform_version"],
            propagate_tags=p.get("PropagateTags") or "NONE", network_configuration=s["network_configuration"],
            role_arn=p.get("Role"),
        )
        if s["capacity_provider_strategy"]:
            service.launch_type = s["launch_type"]
        service.capacity_provider_strategy = s["capacity_provider_strategy"]
        service.created_at = _now()
        configure(service, p)
        if service.deployment_controller.get("type", "ECS") == "ECS":
            ServiceRollout(service, backend).start(service.task_definition)
        return service

    def update_service(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        """In place unless the cluster or name changes. A new task definition, network configuration,
        load balancers, launch type or platform version start a deployment; else a new desired count
        scales the PRIMARY one."""
        p = cloudformation_json.get("Properties") or {}
        backend = ecs_backends[account_id][region_name]
        service = original_resource
        cluster = p.get("Cluster") or "default"
        cluster = getattr(cluster, "name", cluster).split("/")[-1]
        if cluster != service.cluster_name or p.get("ServiceName") not in (None, service.name):
            backend.delete_service(service.cluster_name, service.name, force=True)
            return create_service(cls, p.get("ServiceName") or new_resource_name, cloudformation_json, account_id,
                                  region_name)
        s = service_settings(p, backend, cluster)
        redeploy = any(getattr(service, k) != v for k, v in s.items() if k != "capacity_provider_strategy")
        for key, value in s.items():
            setattr(service, key, value)
        configure(service, p)
        desired = _int(p.get("DesiredCount"), service.desired_count)
        rollout = ServiceRollout.of(service)
        if rollout is None:
            service.desired_count = desired
        elif redeploy:
            service.desired_count = desired
            rollout.start(service.task_definition)
        elif desired != service.desired_count:
            rollout.scale(desired)
        return service

    Service.create_from_cloudformation_json = classmethod(create_service)
    Service.update_from_cloudformation_json = classmethod(update_service)
    ext.extra_attrs(Service, ServiceArn=lambda s: s.arn)
    for attr, default in (("deployment_configuration", None), ("health_check_grace_period_seconds", None),
                          ("enable_ecs_managed_tags", False), ("enable_execute_command", False),
                          ("capacity_provider_strategy", None), ("created_at", None),
                          ("placement_constraints", None), ("placement_strategy", None)):
        setattr(Service, attr, default)  # class defaults for services created through the ECS API

    # Deployments of a service with a rollout come from it (moto keeps one static deployment).
    def get_deployments(self):
        rollout = ServiceRollout.of(self)
        return [d.api(self) for d in rollout.deployments] if rollout else self.__dict__.get("rig_deployments", [])

    Service.deployments = property(get_deployments, lambda self, v: self.__dict__.__setitem__("rig_deployments", v))

    plain_describe_services = EC2ContainerServiceResponse.describe_services

    def describe_services(self):
        """Each DescribeServices steps the rollouts of the services it returns (17)."""
        services, _ = self.ecs_backend.describe_services(self._get_param("cluster", "default"),
                                                         self._get_param("services", []))
        for service in services:
            rollout = ServiceRollout.of(service)
            if rollout is not None and service.status == "ACTIVE":
                rollout.step()
        return plain_describe_services(self)

    EC2ContainerServiceResponse.describe_services = describe_services

    plain_list_tasks = backend_cls.list_tasks

    def list_tasks(self, cluster_str=None, container_instance=None, family=None, started_by=None,
                   service_name=None, desiredStatus=None):
        """ListTasks(serviceName=...) lists that service's tasks (moto ignored the filter)."""
        tasks = plain_list_tasks(self, cluster_str, container_instance, family, started_by, None, desiredStatus)
        if service_name:
            tasks = [t for t in tasks if t.group == f"service:{service_name.split('/')[-1]}"]
        return tasks

    backend_cls.list_tasks = list_tasks

    plain_delete_service = backend_cls.delete_service

    def delete_service(self, cluster_name, service_name, force):
        service = plain_delete_service(self, cluster_name, service_name, force)
        rollout = ServiceRollout.of(service)
        if rollout is not None:
            rollout.stop_all()
        return service

    backend_cls.delete_service = delete_service

    plain_list_services = backend_cls.list_services

    def list_services(self, cluster_str, scheduling_strategy=None, launch_type=None):
        """Deleted (INACTIVE) services are not listed, as on AWS."""
        arns = plain_list_services(self, cluster_str, scheduling_strategy, launch_type)
        inactive = {s.arn for s in self.services.values() if s.status == "INACTIVE"}
        return [a for a in arns if a not in inactive]

    backend_cls.list_services = list_services


def extend_target_health() -> None:
    """19: DescribeTargetHealth of a target group an ECS service (with a rollout) is attached to lists
    its tasks; explicitly registered targets keep moto's answer."""
    from moto.ecs.models import ecs_backends
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus

    plain = ELBv2Backend.describe_target_health

    def describe_target_health(self, target_group_arn, targets):
        found = plain(self, target_group_arn, targets)  # also: TargetGroupNotFound
        group = self.target_groups[target_group_arn]
        ecs = ecs_backends[self.account_id][self.region_name]
        tasks = [FakeHealthStatus(ip, port, group.health_check_port, state, reason, text)
                 for service in ecs.services.values()
                 if ServiceRollout.of(service) is not None and service.status == "ACTIVE"
                 for ip, port, state, reason, text in ServiceRollout.of(service).targets(target_group_arn)]
        if not targets:
            return found + tasks
        answer = []
        for target, moto_answer in zip(targets, found):  # a named task target instead of "not registered"
            match = [t for t in tasks if t.instance_id == target["Id"] and int(target.get("Port", t.port)) == t.port]
            answer += match if match and target["Id"] not in group.targets else [moto_answer]
        return answer

    ELBv2Backend.describe_target_health = describe_target_health


def extend_autoscaling(ext) -> None:
    """21: AWS::ApplicationAutoScaling::ScalableTarget / ScalingPolicy on moto's applicationautoscaling
    backend. Ref: `resource-id|scalable-dimension|service-namespace` and the policy ARN (as AWS)."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    def backend(model):
        return applicationautoscaling_backends[model.account_id][model.region_name]

    @ext.register
    class ScalableTarget(ext.RigModel):
        TYPE = "AWS::ApplicationAutoScaling::ScalableTarget"
        ATTRS = {"Id": lambda s: s.physical_resource_id}

        @property
        def physical_resource_id(self):
            p = self.props
            return f"{p['ResourceId']}|{p['ScalableDimension']}|{p['ServiceNamespace']}"

        def create(self):
            p = self.props
            role = p.get("RoleARN") or (
                f"arn:aws:iam::{self.account_id}:role/aws-service-role/{p['ServiceNamespace']}.application-autoscaling"
                f".amazonaws.com/AWSServiceRoleForApplicationAutoScaling_{p['ServiceNamespace'].upper()}Service")
            backend(self).register_scalable_target(
                p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"], _int(p.get("MinCapacity")),
                _int(p.get("MaxCapacity")), role, p.get("SuspendedState"))

        update = create

        def delete(self, account_id, region_name):
            p = self.props
            aas = applicationautoscaling_backends[account_id][region_name]
            for key, policy in list(aas.policies.items()):  # AWS deletes a target's policies with it
                if (policy.resource_id, policy.scalable_dimension) == (p["ResourceId"], p["ScalableDimension"]):
                    aas.delete_scaling_policy(policy.policy_name, policy.service_namespace, policy.resource_id,
                                              policy.scalable_dimension)
            aas.deregister_scalable_target(p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"])

    def policy_numbers(conf):
        """CloudFormation gives numbers as strings when they come from parameters."""
        conf = json.loads(json.dumps(conf or {}))
        for key in ("TargetValue",):
            if key in conf:
                conf[key] = float(conf[key])
        for key in ("ScaleInCooldown", "ScaleOutCooldown", "Cooldown", "MinAdjustmentMagnitude"):
            if key in conf:
                conf[key] = int(conf[key])
        if "DisableScaleIn" in conf:
            conf["DisableScaleIn"] = _bool(conf["DisableScaleIn"])
        return conf

    @ext.register
    class ScalingPolicy(ext.RigModel):
        TYPE = "AWS::ApplicationAutoScaling::ScalingPolicy"
        ATTRS = {"Arn": lambda s: s.arn}

        @property
        def physical_resource_id(self):
            return self.arn

        def target(self):
            p = self.props
            if p.get("ScalingTargetId"):
                resource_id, dimension, namespace = p["ScalingTargetId"].split("|")
                return namespace, resource_id, dimension
            return p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"]

        def create(self):
            p = self.props
            namespace, resource_id, dimension = self.target()
            body = p.get("TargetTrackingScalingPolicyConfiguration") or p.get("StepScalingPolicyConfiguration")
            policy = backend(self).put_scaling_policy(p["PolicyName"], namespace, resource_id, dimension,
                                                      policy_numbers(body), p.get("PolicyType"))
            self.arn, self.key = policy.policy_arn, (p["PolicyName"], namespace, resource_id, dimension)

        def update(self):
            if self.key[0] != self.props["PolicyName"] or self.key[1:] != self.target():
                self.delete(self.account_id, self.region_name)
            self.create()

        def delete(self, account_id, region_name):
            aas = applicationautoscaling_backends[account_id][region_name]
            name, namespace, resource_id, dimension = self.key
            if any(p.policy_arn == self.arn for p in aas.policies.values()):
                aas.delete_scaling_policy(name, namespace, resource_id, dimension)

    ext.replace_props[ScalableTarget.TYPE] = {"ResourceId", "ScalableDimension", "ServiceNamespace"}
    ext.replace_props[ScalingPolicy.TYPE] = {"PolicyName", "ScalingTargetId", "ResourceId", "ScalableDimension",
                                             "ServiceNamespace"}
    ext.untagged_types.update({ScalableTarget.TYPE, ScalingPolicy.TYPE, "AWS::SNS::TopicPolicy", "AWS::KMS::Alias"})


def extend_app_stack_types(ext) -> None:  # noqa: C901 - one short fix per type
    """22: the other types of an app stack (and the foundation's alarm topic) where moto 5.2.5 fails or
    drops properties: KMS key policy and deletion, SNS TopicPolicy, Route 53 alias records, listener
    rule priority updates, target group attributes and updates, log group retention updates."""
    from moto.elbv2.models import FakeListenerRule, FakeTargetGroup, elbv2_backends
    from moto.kms.models import Key, kms_backends
    from moto.logs.models import LogGroup, logs_backends
    from moto.route53.models import RecordSet
    from moto.sns.models import sns_backends

    # KMS: a KeyPolicy given as an object (as templates do) is stored as JSON text (moto stored the
    # object: every later KMS call on the key failed with HTTP 500); deleting it from a stack
    # schedules its deletion (PendingDeletion, PendingWindowInDays, default 30), as AWS does.
    plain_create_key = Key.create_from_cloudformation_json.__func__

    def create_key(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = dict(cloudformation_json.get("Properties") or {})
        policy = p.get("KeyPolicy")
        if policy is None:
            policy = json.loads(Key.generate_default_policy(
                type("K", (), {"region": region_name, "account_id": account_id})()))
        p["KeyPolicy"] = policy if isinstance(policy, str) else json.dumps(policy)
        key = plain_create_key(cls, resource_name, {**cloudformation_json, "Properties": p}, account_id, region_name)
        key.key_rotation_status = _bool(p.get("EnableKeyRotation"))
        key.enabled = _bool(p.get("Enabled"), True)
        key.rig_pending_window = _int(p.get("PendingWindowInDays"), 30)
        return key

    def update_key(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        p = cloudformation_json.get("Properties") or {}
        key = original_resource
        if p.get("KeyPolicy") is not None:
            key.policy = p["KeyPolicy"] if isinstance(p["KeyPolicy"], str) else json.dumps(p["KeyPolicy"])
        key.description = p.get("Description", key.description)
        key.key_rotation_status = _bool(p.get("EnableKeyRotation"))
        key.enabled = _bool(p.get("Enabled"), True)
        key.rig_pending_window = _int(p.get("PendingWindowInDays"), 30)
        return key

    Key.create_from_cloudformation_json = classmethod(create_key)
    Key.update_from_cloudformation_json = classmethod(update_key)
    ext.deleters["AWS::KMS::Key"] = lambda res, a, r: kms_backends[a][r].schedule_key_deletion(
        res.id, getattr(res, "rig_pending_window", 30))
    ext.replace_props["AWS::KMS::Alias"] = {"AliasName"}

    # SNS: AWS::SNS::TopicPolicy (moto skips it) sets the topics' Policy attribute.
    @ext.register
    class TopicPolicy(ext.RigModel):
        TYPE = "AWS::SNS::TopicPolicy"

        def topics(self, props):
            sns = sns_backends[self.account_id][self.region_name]
            return {arn: sns.topics[arn] for arn in props.get("Topics") or [] if arn in sns.topics}

        def create(self):
            document = self.props["PolicyDocument"]
            for topic in self.topics(self.props).values():
                topic.policy = document if isinstance(document, str) else json.dumps(document)
            self.applied = dict(self.props)

        def update(self):
            self.reset(set(self.applied.get("Topics") or []) - set(self.props.get("Topics") or []))
            self.create()

        def reset(self, arns):
            for arn, topic in self.topics({"Topics": list(arns)}).items():
                topic._policy_json = topic._create_default_topic_policy(self.region_name, self.account_id,
                                                                        topic.name)

        def delete(self, account_id, region_name):
            self.reset(self.applied.get("Topics") or [])

    # Route 53: a stack's record set is listed under its fully qualified name (trailing dot), as the
    # API stores names (moto kept the name as written, so ListResourceRecordSets differed from
    # records made through the API); Ref stays the name as written. SOA values were listed as a
    # quoted dict ("{'Value': '...'}").
    plain_create_record = RecordSet.create_from_cloudformation_json.__func__

    def create_record(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = dict(cloudformation_json.get("Properties") or {})
        written = p.get("Name", "")
        p["Name"] = written if written.endswith(".") else written + "."
        record = plain_create_record(cls, resource_name, {**cloudformation_json, "Properties": p}, account_id,
                                     region_name)
        record.rig_ref = written
        return record

    RecordSet.create_from_cloudformation_json = classmethod(create_record)
    RecordSet.physical_resource_id = property(lambda self: getattr(self, "rig_ref", self.name))
    RecordSet.resource_records = property(lambda self: [
        r if isinstance(r, dict) else {"Value": r} for r in self.records] if self.records else None)

    # ELBv2 listener rules: Priority changes in place (moto kept the old one); a new listener replaces.
    plain_update_rule = FakeListenerRule.update_from_cloudformation_json.__func__

    def update_rule(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        p = cloudformation_json.get("Properties") or {}
        elbv2 = elbv2_backends[account_id][region_name]
        if p.get("ListenerArn") != original_resource.listener_arn:
            elbv2.delete_rule(original_resource.arn)
            return FakeListenerRule.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                                    account_id, region_name)
        plain_update_rule(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        priority = p.get("Priority")
        if str(priority) != str(original_resource.priority):
            elbv2.set_rule_priorities([{"RuleArn": original_resource.arn, "Priority": priority}])
        return original_resource

    FakeListenerRule.update_from_cloudformation_json = classmethod(update_rule)

    # ELBv2 target groups: TargetGroupAttributes and Tags are applied (moto ignored them); an update
    # changes health check settings and attributes in place (moto had no update: nothing changed);
    # a load balancer is listed once per target group (moto listed it again for every rule).
    plain_create_tg = FakeTargetGroup.create_from_cloudformation_json.__func__

    def tg_settings(group, p):
        elbv2 = elbv2_backends[group.account_id][group.region_name]
        attributes = {a["Key"]: str(a["Value"]) for a in p.get("TargetGroupAttributes") or []}
        if attributes:
            elbv2.modify_target_group_attributes(group.arn, attributes)
        if p.get("Tags"):
            elbv2.add_tags([group.arn], [{"Key": t["Key"], "Value": str(t["Value"])} for t in p["Tags"]])
        if p.get("ProtocolVersion"):
            group.protocol_version = p["ProtocolVersion"]

    def create_tg(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        group = plain_create_tg(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        tg_settings(group, cloudformation_json.get("Properties") or {})
        return group

    def update_tg(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        p = cloudformation_json.get("Properties") or {}
        elbv2 = elbv2_backends[account_id][region_name]
        matcher = p.get("Matcher") or {}
        enabled = p.get("HealthCheckEnabled")
        elbv2.modify_target_group(
            original_resource.arn, p.get("HealthCheckProtocol"), p.get("HealthCheckPort"),
            p.get("HealthCheckPath"), _int(p.get("HealthCheckIntervalSeconds")),
            _int(p.get("HealthCheckTimeoutSeconds")), p.get("HealthyThresholdCount"),
            p.get("UnhealthyThresholdCount"), matcher.get("HttpCode"),
            None if enabled is None else _bool(enabled))
        tg_settings(original_resource, p)
        return original_resource

    FakeTargetGroup.create_from_cloudformation_json = classmethod(create_tg)
    FakeTargetGroup.update_from_cloudformation_json = classmethod(update_tg)
    ext.replace_props["AWS::ElasticLoadBalancingV2::TargetGroup"] = {
        "Name", "Port", "Protocol", "ProtocolVersion", "TargetType", "VpcId", "IpAddressType"}
    ext.replace_props["AWS::ElasticLoadBalancingV2::ListenerRule"] = {"ListenerArn"}

    class LoadBalancerArns(list):
        """A target group's load balancers, each once."""

        def append(self, arn):
            if arn not in self:
                super().append(arn)

    plain_tg_init = FakeTargetGroup.__init__

    def tg_init(self, *args, **kwargs):
        plain_tg_init(self, *args, **kwargs)
        self.load_balancer_arns = LoadBalancerArns(self.load_balancer_arns)

    FakeTargetGroup.__init__ = tg_init

    # Fn::Equals compares the values as CloudFormation does, as strings: a Number parameter equals
    # its text (moto compared the parsed number with the string, so `!Equals [!Ref Count, "0"]` was
    # false for 0).
    from moto.cloudformation import parsing as cfp

    plain_condition = cfp.parse_condition

    def as_text(value):
        return str(value).lower() if isinstance(value, bool) else str(value)

    def parse_condition(condition, resources_map, condition_map):
        if not isinstance(condition, dict) or list(condition) != ["Fn::Equals"]:
            return plain_condition(condition, resources_map, condition_map)
        values = [condition_map[v["Condition"]] if isinstance(v, dict) and "Condition" in v
                  else cfp.clean_json(v, resources_map) for v in condition["Fn::Equals"]]
        return as_text(values[0]) == as_text(values[1])

    cfp.parse_condition = parse_condition

    # CloudWatch Logs: a log group's RetentionInDays changes in place (moto had no update handler, so
    # nothing changed); a new LogGroupName replaces the group.
    def update_log_group(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        p = cloudformation_json.get("Properties") or {}
        logs = logs_backends[account_id][region_name]
        if p.get("LogGroupName") not in (None, original_resource.name):
            logs.delete_log_group(original_resource.name)
            return LogGroup.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id,
                                                            region_name)
        if p.get("RetentionInDays") is None:
            logs.delete_retention_policy(original_resource.name)
        else:
            logs.put_retention_policy(original_resource.name, _int(p["RetentionInDays"]))
        return original_resource

    LogGroup.update_from_cloudformation_json = classmethod(update_log_group)


def exit_when_stdin_closes() -> None:
    """For harnesses: the server goes away with the process that started it, even if that one is killed."""

    def watch():
        while sys.stdin.buffer.read(4096):
            pass
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


class OneAtATime:
    """WSGI wrapper: requests are accepted concurrently but handled one at a time. moto's backends
    are not thread-safe: a change set executing while a poll reads the same stack's resources or
    service could fail one request with HTTP 500, which the SDK retries, executing it twice."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            return list(self.app(environ, start_response))


def serve(host: str, port: int) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    os.environ.setdefault("MOTO_PORT", str(port))
    server = make_server(host, port, OneAtATime(DomainDispatcherApplication(create_backend_app)), threaded=True,
                         request_handler=MotoRequestHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"rig-moto ready on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--exit-when-stdin-closes", action="store_true",
                        help="stop when standard input reaches end of file (the parent went away)")
    args = parser.parse_args()
    check_moto_version()
    if args.exit_when_stdin_closes:
        exit_when_stdin_closes()
    apply_extensions()
    serve(args.host, args.port)


if __name__ == "__main__":
    main()

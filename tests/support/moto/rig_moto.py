"""rig's local AWS: the pinned moto server plus the small extensions rig's tests rely on.

Usage: python rig_moto.py --host 127.0.0.1 --port N
Applies the extensions described in README.md (next to this file), then serves moto in the
foreground and prints one line "rig-moto ready on http://HOST:PORT" once the socket listens.
"""

import argparse
import copy
import datetime
import importlib.metadata
import io
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
import traceback
import uuid
import zipfile
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
    # (AWS::CodeBuild::Project and AWS::CodePipeline::Pipeline are backed by their services, see 23.)
    placeholders = {
        # type: (name property, Ref format, {GetAtt: format})
        "AWS::CloudWatch::Alarm": (
            "AlarmName", "{name}", {"Arn": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}"}
        ),
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
                c = change("Modify", lid, new[lid]["Type"], old[lid], new[lid], current(lid))
                describe_values(c, (rmap._resource_json_map.get(lid) or {}).get("Properties") or {},
                                rmap.resolved_parameters, new_map.resolved_parameters, old[lid], new[lid])
                changes.append(c)
        for lid in old:
            if lid not in new:
                changes.append(change("Remove", lid, old[lid]["Type"], resource=current(lid)))
        propagate_replacements(changes, new, current)
        return changes, new_map

    def parameters_in(node):
        """The names `node` refers to with Ref or ${Name} in Fn::Sub."""
        if isinstance(node, list):
            return set().union(*(parameters_in(v) for v in node)) if node else set()
        if not isinstance(node, dict):
            return set()
        found = set()
        if isinstance(node.get("Ref"), str):
            found.add(node["Ref"])
        sub = node.get("Fn::Sub")
        if sub is not None:
            text = sub if isinstance(sub, str) else sub[0]
            found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
        return found.union(*(parameters_in(v) for k, v in node.items() if k not in ("Ref",)))

    def literal(node):
        """A resolved node with `Fn::Sub` of plain text (no `${...}` left) as that text."""
        if isinstance(node, list):
            return [literal(v) for v in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str) and "${" not in node["Fn::Sub"]:
            return node["Fn::Sub"]
        return {k: literal(v) for k, v in node.items()}

    def describe_values(c, raw_old_props, old_params, new_params, old, new):
        """AWS's 2025 change set details (24): each Target carries `BeforeValue` / `AfterValue` (the
        property's JSON, given when DescribeChangeSet asks `IncludePropertyValues`), and a property
        whose template text is unchanged but which refers to a parameter whose value changed has
        `ChangeSource` `ParameterReference`, `CausingEntity` the parameter, `Evaluation` `Static`."""
        for d in c.details:
            name = d["Target"].get("Name")
            if name is None:
                continue
            before, after = old["Properties"].get(name), new["Properties"].get(name)
            d["Target"]["Path"] = f"/Properties/{name}"
            d["Target"]["BeforeValue"] = json.dumps(literal(before), sort_keys=True) if before is not None else None
            d["Target"]["AfterValue"] = json.dumps(literal(after), sort_keys=True) if after is not None else None
            for p in sorted(parameters_in(raw_old_props.get(name))):
                if p in old_params and p in new_params and old_params[p] != new_params[p]:
                    d["ChangeSource"], d["CausingEntity"] = "ParameterReference", p
                    break

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
        # AWS refuses an update while an operation is in progress (a stack held by 27's `hold`) too
        if stack.status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED") or \
                stack.status.endswith("_IN_PROGRESS"):
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

    def describe_change_set(self):
        """DescribeChangeSet; `BeforeValue` / `AfterValue` only when `IncludePropertyValues` (24)."""
        backend = self.cloudformation_backend
        found = find_change_set(backend, self._get_param("ChangeSetName"), self._get_param("StackName"))
        if str(self._get_param("IncludePropertyValues")).lower() == "true":
            return ActionResult(found)
        shown = copy.copy(found)
        shown.changes = []
        for c in found.changes:
            c2 = copy.copy(c)
            c2.details = [
                {**d, "Target": {k: v for k, v in d["Target"].items() if k not in ("BeforeValue", "AfterValue")}}
                for d in getattr(c, "details", None) or []
            ]
            shown.changes.append(c2)
        return ActionResult(shown)

    cfr.CloudFormationResponse.describe_change_set = describe_change_set
    cfr.CloudFormationResponse.delete_change_set = with_stack_name(delete_change_set)
    cfr.CloudFormationResponse.execute_change_set = with_stack_name(execute_change_set)

    cfr.CloudFormationResponse._validate_status = lambda self, stack: check_updatable(stack)

    def list_change_sets(self):  # moto lists every stack's change sets
        stack = self._get_param("StackName")
        change_sets = self.cloudformation_backend.change_sets.values()
        return ActionResult({"Summaries": [cs for cs in change_sets if stack in (cs.stack_name, cs.stack_id)]})

    cfr.CloudFormationResponse.list_change_sets = list_change_sets

    def validate_different_update(self, incoming_params, stack_body, old_stack):
        """UpdateStack: the stack's state is refused first, then "No updates are to be performed." when
        the template, the parameter values as given (Defaults included, see 10) and the tags (when given)
        are the stack's (moto compared only parameters given, never for a template without any)."""
        if self._get_action() != "UpdateStack":  # a change set reports "no changes" as FAILED instead
            return
        check_updatable(old_stack)
        tags = {t["Key"]: t["Value"] for t in self._get_param("Tags", [])}
        if not stack_body or old_stack.template != stack_body or (tags and tags != old_stack.tags):
            return
        values = self._get_param_values(incoming_params or [], old_stack.stack_parameters)
        if given_values(old_stack.template_dict, old_stack.parameters or {}) == given_values(old_stack.template_dict,
                                                                                            values):
            raise ValidationError(old_stack.name, message="No updates are to be performed.")

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

    ext = SimpleNamespace(
        register=register, RigModel=RigModel, deleters=deleters, replace_props=replace_props,
        untagged_types=untagged_types, extra_attrs=extra_attrs,
    )
    apply_app_extensions(ext)
    extend_pipelines(ext)  # 23. CodePipeline releases (below)
    extend_account_quotas()  # 25. The account's Elastic IP quota (below)
    extend_bucket_properties()  # 26. S3 bucket versioning and public access block (below)
    extend_stack_holds()  # 27. Stack holds and express change sets of the fault layer (below)


# =============================================================================================
# 25. The emulated account's Elastic IP quota: that of an account whose quota was raised for
# several riglets (each environment's foundation allocates two), so `rig check` passes a
# three-environment riglet; `RIG_MOTO_ELASTIC_IPS` sets it (the AWS default is 5).
# =============================================================================================


def extend_account_quotas() -> None:
    from moto.core.responses import ActionResult
    from moto.ec2.responses.account_attributes import AccountAttributes

    plain = AccountAttributes.describe_account_attributes

    def describe_account_attributes(self):
        result = plain(self).result
        limit = os.environ.get("RIG_MOTO_ELASTIC_IPS", "20")
        for attribute in result.get("AccountAttributes", []):
            if attribute["AttributeName"] in ("max-elastic-ips", "vpc-max-elastic-ips"):
                attribute["AttributeValues"] = [{"AttributeValue": limit}]
        return ActionResult(result)

    AccountAttributes.describe_account_attributes = describe_account_attributes


# =============================================================================================
# 26. `AWS::S3::Bucket`: `VersioningConfiguration` and `PublicAccessBlockConfiguration`, which
# moto's model ignores, applied on create and update, so the buckets report what the template
# promises through the S3 API.
# =============================================================================================


def extend_bucket_properties() -> None:
    from moto.s3.models import FakeBucket, PublicAccessBlock

    plain_create = FakeBucket.create_from_cloudformation_json.__func__
    plain_update = FakeBucket.update_from_cloudformation_json.__func__

    def apply(bucket, properties):
        versioning = (properties.get("VersioningConfiguration") or {}).get("Status")
        if versioning in ("Enabled", "Suspended"):
            bucket.versioning_status = versioning
        elif bucket.versioning_status == "Enabled":
            bucket.versioning_status = "Suspended"  # versioning, once on, can only be suspended
        block = properties.get("PublicAccessBlockConfiguration")
        bucket.public_access_block = PublicAccessBlock(
            block.get("BlockPublicAcls", False), block.get("IgnorePublicAcls", False),
            block.get("BlockPublicPolicy", False), block.get("RestrictPublicBuckets", False),
        ) if block else None
        return bucket

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        bucket = plain_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        return apply(bucket, cloudformation_json.get("Properties") or {})

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        bucket = plain_update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                              region_name)
        return apply(bucket, cloudformation_json.get("Properties") or {})

    FakeBucket.create_from_cloudformation_json = classmethod(create)
    FakeBucket.update_from_cloudformation_json = classmethod(update)

    # GetBucketVersioning: moto's serializer names the XML root `GetBucketVersioningResponse`;
    # S3 answers `<VersioningConfiguration>`, which strict clients (the Rust SDK) require.
    from moto.core.serialize import S3Serializer
    plain_result = S3Serializer._serialized_result_to_response

    def result(self, resp, result, shape, serialized_result):
        resp = plain_result(self, resp, result, shape, serialized_result)
        if self.operation_model.name == "GetBucketVersioning" and isinstance(resp.get("body"), str):
            body = re.sub(r"<GetBucketVersioningResponse\b[^>]*>",
                          '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">', resp["body"])
            body = body.replace("</GetBucketVersioningResponse>", "</VersioningConfiguration>")
            resp["body"] = re.sub(r"<requestId>[^<]*</requestId>", "", body)
        return resp

    S3Serializer._serialized_result_to_response = result

    # CreateBucket with `CreateBucketConfiguration.Tags`: S3 creates the bucket with those tags
    # in the one request; moto ignores them.
    from moto.s3.responses import S3Response
    import xmltodict
    plain_put = S3Response._bucket_response_put

    def bucket_put(self, request, bucket_name, querystring):
        answer = plain_put(self, request, bucket_name, querystring)
        status = answer[0] if isinstance(answer, tuple) else 200
        if not querystring and self.body and status == 200:
            try:
                config = xmltodict.parse(self.body).get("CreateBucketConfiguration") or {}
            except Exception:
                config = {}
            tags = (config.get("Tags") or {}).get("Tag") or []
            tags = tags if isinstance(tags, list) else [tags]
            if tags:
                self.backend.put_bucket_tagging(bucket_name, {t["Key"]: t.get("Value") or "" for t in tags})
        return answer

    S3Response._bucket_response_put = bucket_put


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


# =============================================================================================
# 23. CodePipeline releases (see README): AWS::CodePipeline::Pipeline and AWS::CodeBuild::Project
# backed by moto's backends; StartPipelineExecution walks the pipeline, stage by stage, in a thread
# per execution (Walk). apply_extensions() calls extend_pipelines() last.
#
# Locking: SERVER_LOCK is the lock OneAtATime holds around every request. The executions' state
# (PipelineRuns, Release, ActionRun) is read and changed under it: by request handlers (which hold
# it already) and by the walkers (`with _release_state:`, a Condition on it, which they also wait
# on). A walker changes moto's other backends through the server's HTTP API, never while holding
# the lock (the request would wait for it for ever), or, for the CodeBuild build record only,
# directly under the lock.
# =============================================================================================

SERVER_LOCK = threading.Lock()
_server = {"endpoint": None, "generation": 0}  # set by serve(); generation: bumped by each reset
_release_state = threading.Condition(SERVER_LOCK)
_rig_builds = set()  # ids of the CodeBuild builds the walkers recorded (BatchGetBuilds returns them as they are)
RELEASE_POLL = 0.05  # seconds between two polls of a walker (stack status, services, a stage's lock)
ROLLOUT_POLLS = 40  # DescribeServices rounds a CloudFormation action waits for its services at most
STACK_FAILED_STATES = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED",
                       "UPDATE_ROLLBACK_FAILED"}  # what REPLACE_ON_FAILURE replaces
NO_CHANGES = "didn't contain changes"
CALLER = "arn:aws:sts::{account}:user/moto"  # who the local AWS says the caller is (GetCallerIdentity)


def _zip(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def _text(value):
    """A CloudFormation value as the API's string (YAML booleans as true/false, objects as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _epoch(value):
    """Epoch seconds (the JSON protocol's timestamps) of a datetime; moto's naive ones are UTC."""
    if hasattr(value, "timestamp"):
        return (value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)).timestamp()
    return value


def api_pipeline(name, p):
    """AWS::CodePipeline::Pipeline properties -> the API's PipelineDeclaration."""
    def action(a):
        kind = a.get("ActionTypeId") or {}
        out = {
            "name": a["Name"],
            "actionTypeId": {"category": kind.get("Category"), "owner": kind.get("Owner"),
                             "provider": kind.get("Provider"), "version": str(kind.get("Version", "1"))},
            "runOrder": int(a.get("RunOrder") or 1),
            "configuration": {k: _text(v) for k, v in (a.get("Configuration") or {}).items() if v is not None},
            "outputArtifacts": [{"name": o["Name"]} for o in a.get("OutputArtifacts") or []],
            "inputArtifacts": [{"name": i["Name"]} for i in a.get("InputArtifacts") or []],
        }
        for key in ("RoleArn", "Region", "Namespace"):
            if a.get(key):
                out[key[0].lower() + key[1:]] = a[key]
        if a.get("TimeoutInMinutes"):
            out["timeoutInMinutes"] = int(a["TimeoutInMinutes"])
        return out

    pipeline = {
        "name": name,
        "roleArn": p.get("RoleArn"),
        "stages": [{"name": s["Name"], "actions": [action(a) for a in s.get("Actions") or []]}
                   for s in p.get("Stages") or []],
    }
    if p.get("ArtifactStore"):
        pipeline["artifactStore"] = _camel(p["ArtifactStore"])
    if p.get("ArtifactStores"):
        pipeline["artifactStores"] = {s["Region"]: _camel(s["ArtifactStore"]) for s in p["ArtifactStores"]}
    for key in ("PipelineType", "ExecutionMode"):
        if p.get(key):
            pipeline[key[0].lower() + key[1:]] = p[key]
    if p.get("Variables"):
        pipeline["variables"] = _camel(p["Variables"])
    if p.get("Triggers"):
        pipeline["triggers"] = _camel(p["Triggers"])
    return pipeline


def api_build_project(p):
    """AWS::CodeBuild::Project properties -> the keyword arguments of moto's create_project."""
    env = p.get("Environment") or {}
    environment = {
        "type": env.get("Type"), "image": env.get("Image"), "computeType": env.get("ComputeType"),
        "environmentVariables": [{"name": v["Name"], "value": _text(v.get("Value", "")),
                                  "type": v.get("Type", "PLAINTEXT")} for v in env.get("EnvironmentVariables") or []],
        "privilegedMode": _bool(env.get("PrivilegedMode")),
        "imagePullCredentialsType": env.get("ImagePullCredentialsType", "CODEBUILD"),
    }
    if env.get("Certificate"):
        environment["certificate"] = env["Certificate"]
    source = {("buildspec" if k == "buildSpec" else k): v for k, v in _camel(p.get("Source") or {}).items()}
    return dict(
        description=p.get("Description"), project_source=source, artifacts=_camel(p.get("Artifacts") or {}),
        environment=environment, service_role=p.get("ServiceRole") or "", tags=_camel(p.get("Tags")),
        cache=_camel(p.get("Cache")), timeout=_int(p.get("TimeoutInMinutes"), 60),
        queued_timeout=_int(p.get("QueuedTimeoutInMinutes"), 480), source_version=p.get("SourceVersion"),
        logs_config=_camel(p.get("LogsConfig")), vpc_config=_camel(p.get("VpcConfig")),
    )


class Gone(Exception):
    """The pipeline was deleted, or the local AWS reset: the walk ends without a trace."""


class ActionFailed(Exception):
    """An action's failure: errorDetails {code, message}; `extra` completes the action's result."""

    def __init__(self, message, code="JobFailed", **extra):
        super().__init__(message)
        self.message, self.code, self.extra = message, code, extra


class ActionRun:
    """One execution of one action (ListActionExecutions; GetPipelineState's latestExecution)."""

    def __init__(self, release, stage, action):
        self.id = str(uuid.uuid4())
        self.release, self.stage, self.action = release, stage, action
        self.start = self.updated = time.time()
        self.status = "InProgress"
        self.summary = self.token = self.updated_by = None
        self.external_id = self.external_summary = self.external_url = None
        self.error = None
        self.inputs, self.outputs, self.variables = [], [], {}

    def execution(self):
        """ActionExecution (GetPipelineState)."""
        out = {"actionExecutionId": self.id, "status": self.status, "lastStatusChange": self.updated}
        for key, value in (("summary", self.summary), ("lastUpdatedBy", self.updated_by),
                           ("externalExecutionId", self.external_id), ("externalExecutionUrl", self.external_url),
                           ("errorDetails", self.error)):
            if value is not None:
                out[key] = value
        if self.token and self.status == "InProgress":
            out["token"] = self.token
        return out

    def detail(self):
        """ActionExecutionDetail (ListActionExecutions)."""
        runs = self.release.runs
        result = {k: v for k, v in (("externalExecutionId", self.external_id),
                                    ("externalExecutionSummary", self.external_summary),
                                    ("externalExecutionUrl", self.external_url),
                                    ("errorDetails", self.error)) if v is not None}
        action = self.action
        out = {
            "pipelineExecutionId": self.release.id, "actionExecutionId": self.id,
            "pipelineVersion": self.release.version, "stageName": self.stage, "actionName": action["name"],
            "startTime": self.start, "lastUpdateTime": self.updated, "status": self.status,
            "input": {
                "actionTypeId": action["actionTypeId"], "configuration": action["configuration"],
                "resolvedConfiguration": action["configuration"],
                "region": action.get("region") or runs.region, "inputArtifacts": self.inputs,
            },
            "output": {"outputArtifacts": self.outputs, "executionResult": result, "outputVariables": self.variables},
        }
        if self.updated_by:
            out["updatedBy"] = self.updated_by
        for key in ("roleArn", "namespace"):
            if action.get(key):
                out["input"][key] = action[key]
        return out


class Release:
    """One pipeline execution: the definition it started with, its status, revisions, artifacts."""

    def __init__(self, runs, definition, overrides, variables, caller):
        self.id = str(uuid.uuid4())
        self.runs, self.definition, self.version = runs, definition, definition["version"]
        self.mode = definition.get("executionMode") or "SUPERSEDED"
        self.status, self.status_summary = "InProgress", None
        self.start = self.updated = time.time()
        self.overrides = {o["actionName"]: o for o in overrides}
        self.variables = variables
        self.trigger = {"triggerType": "StartPipelineExecution", "triggerDetail": caller}
        self.sources, self.artifact_revisions = [], []
        self.artifacts = {}  # name -> {"bucket", "key", "revision"}
        self.actions = []
        self.stages = {}  # stage -> its outcome in this execution
        self.stop_mode = self.stop_reason = None

    def finish(self, status):
        self.status, self.updated = status, time.time()
        _release_state.notify_all()

    def summary(self):
        """PipelineExecutionSummary (ListPipelineExecutions)."""
        out = {"pipelineExecutionId": self.id, "status": self.status, "startTime": self.start,
               "lastUpdateTime": self.updated, "sourceRevisions": self.sources, "trigger": self.trigger,
               "executionMode": self.mode, "executionType": "STANDARD"}
        if self.status_summary:
            out["statusSummary"] = self.status_summary
        if self.stop_mode:
            out["stopTrigger"] = {"reason": self.stop_reason or ""}
        return out

    def execution(self):
        """PipelineExecution (GetPipelineExecution)."""
        out = {"pipelineName": self.runs.name, "pipelineVersion": self.version, "pipelineExecutionId": self.id,
               "status": self.status, "artifactRevisions": self.artifact_revisions,
               "variables": [{"name": k, "resolvedValue": v} for k, v in self.variables.items()],
               "trigger": self.trigger, "executionMode": self.mode, "executionType": "STANDARD"}
        if self.status_summary:
            out["statusSummary"] = self.status_summary
        return out


class PipelineRuns:
    """The executions of one pipeline (moto's CodePipeline object keeps it as `rig_runs`) and what
    GetPipelineState shows: each stage's latest execution, each action's latest run and revision,
    which execution holds a stage and which wait at its entrance."""

    def __init__(self, obj, account, region):
        self.obj, self.account, self.region = obj, account, region
        self.name = obj.pipeline["name"]
        self.executions = {}  # id -> Release, oldest first
        self.tokens = {}  # clientRequestToken -> execution id
        self.stage_latest = {}  # stage -> [Release, status]
        self.action_latest = {}  # (stage, action) -> ActionRun
        self.revisions = {}  # (stage, action) -> ActionRevision
        self.holder = {}  # stage -> the Release in it
        self.waiting = {}  # stage -> [Release] waiting at its entrance

    @staticmethod
    def of(backend, obj):
        runs = getattr(obj, "rig_runs", None)
        if runs is None:
            runs = obj.rig_runs = PipelineRuns(obj, backend.account_id, backend.region_name)
        return runs

    def state(self):
        """GetPipelineState."""
        definition, stages = self.obj.pipeline, []
        for stage in definition["stages"]:
            name = stage["name"]
            out = {"stageName": name, "inboundTransitionState": {"enabled": True}, "actionStates": []}
            waiting = self.waiting.get(name) or []
            if waiting:
                inbound = [{"pipelineExecutionId": r.id, "status": "InProgress", "type": "STANDARD"} for r in waiting]
                out["inboundExecution"], out["inboundExecutions"] = inbound[0], inbound
            if name in self.stage_latest:
                release, status = self.stage_latest[name]
                out["latestExecution"] = {"pipelineExecutionId": release.id, "status": status, "type": "STANDARD"}
            for action in stage["actions"]:
                key = (name, action["name"])
                state = {"actionName": action["name"]}
                if key in self.revisions:
                    revision = dict(self.revisions[key])
                    url = revision.pop("revisionUrl", None)
                    state["currentRevision"] = revision
                    if url:
                        state["revisionUrl"] = url
                if key in self.action_latest:
                    state["latestExecution"] = self.action_latest[key].execution()
                out["actionStates"].append(state)
            stages.append(out)
        return {"pipelineName": self.name, "pipelineVersion": definition["version"], "stageStates": stages,
                "created": _epoch(self.obj._created), "updated": _epoch(self.obj._updated)}


class Walk(threading.Thread):
    """Walks one execution through its pipeline's stages, stage by stage, each stage's actions by
    RunOrder (same RunOrder: one after the other, the stage failing after all of them ran)."""

    def __init__(self, release):
        super().__init__(name=f"pipeline-{release.runs.name}-{release.id[:8]}", daemon=True)
        self.release, self.runs = release, release.runs
        self.generation = _server["generation"]
        self.session, self.clients = None, {}

    # -- the walk -----------------------------------------------------------------------------

    def run(self):
        ex = self.release
        stage = None
        try:
            for declared in ex.definition["stages"]:
                stage = None
                if not self.enter(declared["name"]):
                    return
                stage = declared["name"]
                outcome = self.run_stage(declared)
                self.leave(stage, outcome)
                stage = None
                if outcome != "Succeeded":
                    return
            with _release_state:
                self.check()
                ex.finish("Stopped" if ex.stop_mode else "Succeeded")
        except Gone:
            return
        except Exception as exc:  # a fault of this emulator: the execution fails with it instead of hanging
            print(f"rig-moto: pipeline {self.runs.name} execution {ex.id}: {traceback.format_exc()}", file=sys.stderr,
                  flush=True)
            with _release_state:
                if not self.alive():
                    return
                for run in ex.actions:
                    if run.status == "InProgress":
                        run.status, run.updated = "Failed", time.time()
                        run.error = {"code": "JobFailed", "message": f"InternalError: {exc}"}
                if stage is not None:
                    self.release_stage(stage, "Failed")
                if ex.status in ("InProgress", "Stopping"):
                    ex.finish("Failed")

    def alive(self):
        from moto.codepipeline.models import codepipeline_backends

        runs = self.runs
        return (_server["generation"] == self.generation
                and codepipeline_backends[runs.account][runs.region].pipelines.get(runs.name) is runs.obj)

    def check(self):
        """Under the lock: the pipeline (and this emulator's state) still exists, else Gone."""
        if not self.alive():
            raise Gone()

    def gone(self):
        """Outside the lock: whether the walk must end (the pipeline or the emulator's state went)."""
        with _release_state:
            return not self.alive()

    def enter(self, stage):
        """Waits at the stage's entrance until the stage is free; False if this execution was
        superseded or stopped meanwhile. SUPERSEDED: one execution waits at an entrance, a newer
        one supersedes it; QUEUED: they wait in order; PARALLEL: no waiting."""
        ex, runs = self.release, self.runs
        with _release_state:
            self.check()
            queue = runs.waiting.setdefault(stage, [])
            if ex.mode == "SUPERSEDED":
                for older in queue:
                    older.finish("Superseded")
                queue.clear()
            queue.append(ex)
            _release_state.notify_all()
            while True:
                self.check()
                if ex.status == "Superseded":
                    return False
                if ex.stop_mode:
                    queue.remove(ex)
                    ex.finish("Stopped")
                    return False
                if ex.mode == "PARALLEL" or (runs.holder.get(stage) is None and queue[0] is ex):
                    queue.remove(ex)
                    if ex.mode != "PARALLEL":
                        runs.holder[stage] = ex
                    runs.stage_latest[stage] = [ex, "InProgress"]
                    ex.stages[stage] = "InProgress"
                    ex.updated = time.time()
                    return True
                _release_state.wait(0.2)

    def release_stage(self, stage, outcome):
        ex, runs = self.release, self.runs
        if runs.holder.get(stage) is ex:
            del runs.holder[stage]
        if runs.stage_latest.get(stage, [None])[0] is ex:
            runs.stage_latest[stage] = [ex, outcome]
        ex.stages[stage] = outcome
        _release_state.notify_all()

    def leave(self, stage, outcome):
        ex = self.release
        with _release_state:
            self.check()
            self.release_stage(stage, outcome)
            if outcome != "Succeeded":
                ex.finish(outcome)

    def run_stage(self, stage):
        """The stage's outcome: Succeeded, Failed or Stopped."""
        ex = self.release
        for order in sorted({a["runOrder"] for a in stage["actions"]}):
            failed = False
            for action in [a for a in stage["actions"] if a["runOrder"] == order]:
                with _release_state:
                    self.check()
                    if ex.stop_mode:
                        return "Stopped"
                status = self.run_action(stage["name"], action)
                if status == "Abandoned":
                    return "Stopped"
                failed = failed or status != "Succeeded"
            if failed:
                return "Failed"
            with _release_state:
                if ex.stop_mode:
                    return "Stopped"
        return "Succeeded"

    def run_action(self, stage, action):
        ex, runs = self.release, self.runs
        run = ActionRun(ex, stage, action)
        with _release_state:
            self.check()
            ex.actions.append(run)
            runs.action_latest[(stage, action["name"])] = run
            run.inputs = [{"name": a["name"], "s3location": {"bucket": ex.artifacts[a["name"]]["bucket"],
                                                             "key": ex.artifacts[a["name"]]["key"]}}
                          for a in action["inputArtifacts"] if a["name"] in ex.artifacts]
            ex.updated = time.time()
        try:
            missing = [a["name"] for a in action["inputArtifacts"] if a["name"] not in ex.artifacts]
            if missing:
                raise ActionFailed(f"Input artifact {missing[0]} was not produced by an earlier action of this "
                                   "execution.")
            result = self.provider(action)(run)
        except ActionFailed as failure:
            result = dict(failure.extra, status="Failed", error={"code": failure.code, "message": failure.message})
            result.setdefault("external_summary", failure.message)
        except _client_error() as exc:
            if self.gone():
                raise Gone()
            message = exc.response.get("Error", {}).get("Message", str(exc))
            result = {"status": "Failed", "error": {"code": "JobFailed", "message": message}}
        with _release_state:
            self.check()
            if result is not None and run.status == "InProgress":  # not abandoned (or answered) meanwhile
                self.record(run, result)
            ex.updated = time.time()
            _release_state.notify_all()
            return run.status

    def record(self, run, result):
        ex, runs = self.release, self.runs
        run.status, run.updated = result.get("status", "Succeeded"), time.time()
        run.summary = result.get("summary")
        run.external_id = result.get("external_id")
        run.external_summary = result.get("external_summary", run.summary)
        run.external_url = result.get("external_url")
        run.error = result.get("error")
        run.outputs = result.get("outputs", [])
        run.variables = result.get("variables", {})
        source = result.get("source")
        if source and run.status == "Succeeded":
            name = run.action["name"]
            revision = {"revisionId": source["revisionId"], "revisionChangeId": source["revisionChangeId"],
                        "created": source["created"]}
            if source.get("revisionUrl"):
                revision["revisionUrl"] = source["revisionUrl"]
            runs.revisions[(run.stage, name)] = revision
            entry = {"actionName": name, "revisionId": source["revisionId"]}
            for key in ("revisionSummary", "revisionUrl"):
                if source.get(key):
                    entry[key] = source[key]
            ex.sources.append(entry)
            for artifact in run.outputs:
                revision = {"name": artifact["name"], "revisionId": source["revisionId"],
                            "revisionChangeIdentifier": source["revisionChangeId"], "created": source["created"]}
                for key in ("revisionSummary", "revisionUrl"):
                    if source.get(key):
                        revision[key] = source[key]
                ex.artifact_revisions.append(revision)

    def provider(self, action):
        kind = action["actionTypeId"]
        key = (kind["category"], kind["owner"], kind["provider"])
        providers = {
            ("Source", "AWS", "CodeStarSourceConnection"): self.source_commit,
            ("Source", "ThirdParty", "GitHub"): self.source_commit,
            ("Source", "AWS", "S3"): self.source_s3,
            ("Build", "AWS", "CodeBuild"): self.build,
            ("Test", "AWS", "CodeBuild"): self.build,
            ("Deploy", "AWS", "CloudFormation"): self.cloudformation,
            ("Approval", "AWS", "Manual"): self.approval,
        }
        if key not in providers:
            def unsupported(run):
                raise ActionFailed(f"The local AWS does not run {kind['owner']} {kind['category']} actions of "
                                   f"provider {kind['provider']}.")
            return unsupported
        return providers[key]

    # -- calls to the local AWS ----------------------------------------------------------------

    def client(self, service, region=None):
        """A boto3 client of this server (the execution's generation in a header, no retries)."""
        key = (service, region or self.runs.region)
        if key not in self.clients:
            import boto3
            from botocore.config import Config

            if _server["endpoint"] is None:
                raise ActionFailed("The local AWS serves no HTTP endpoint (rig_moto.serve was not called).")
            if self.session is None:
                self.session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
            client = self.session.client(service, endpoint_url=_server["endpoint"], region_name=key[1],
                                         config=Config(retries={"total_max_attempts": 1}, read_timeout=300,
                                                       connect_timeout=10))
            generation = str(self.generation)

            def tag(request, **_):
                request.headers["X-Rig-Generation"] = generation

            client.meta.events.register("before-sign", tag)
            self.clients[key] = client
        return self.clients[key]

    def artifact_store(self):
        definition = self.release.definition
        store = definition.get("artifactStore") or (definition.get("artifactStores") or {}).get(self.runs.region)
        if not store or not store.get("location"):
            raise ActionFailed("The pipeline has no artifact store in its region.")
        return store["location"]

    def put_artifact(self, name, body, revision=None):
        """An output artifact into the artifact store: `<pipeline[:20]>/<artifact[:10]>/<7 random>`."""
        bucket = self.artifact_store()
        suffix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(7))
        key = f"{self.runs.name[:20]}/{name[:10]}/{suffix}"
        try:
            self.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        except _client_error() as exc:
            error = exc.response.get("Error", {})
            raise ActionFailed(f"Unable to upload the artifact {name} to the Amazon S3 artifact bucket '{bucket}': "
                               f"{error.get('Code')}: {error.get('Message')}")
        with _release_state:
            self.release.artifacts[name] = {"bucket": bucket, "key": key, "revision": revision}
        return {"name": name, "s3location": {"bucket": bucket, "key": key}}

    def artifact(self, run, name):
        """The zip of input artifact `name`, read from the artifact store."""
        if name not in [a["name"] for a in run.action["inputArtifacts"]]:
            raise ActionFailed(f"The artifact {name} is not an input artifact of action {run.action['name']}.")
        where = self.release.artifacts[name]
        try:
            return self.client("s3").get_object(Bucket=where["bucket"], Key=where["key"])["Body"].read()
        except _client_error() as exc:
            error = exc.response.get("Error", {})
            raise ActionFailed(f"Unable to access the artifact with Amazon S3 object key '{where['key']}' located in "
                               f"the Amazon S3 artifact bucket '{where['bucket']}'. {error.get('Code')}: "
                               f"{error.get('Message')}")

    def artifact_file(self, run, path):
        """The text of `Artifact::file`."""
        name, sep, file = (path or "").partition("::")
        if not sep or not file:
            raise ActionFailed(f"The file path {path} is not valid: give it as ArtifactName::FileName.")
        try:
            with zipfile.ZipFile(io.BytesIO(self.artifact(run, name))) as archive:
                return archive.read(file).decode("utf-8")
        except KeyError:
            raise ActionFailed(f"File [{file}] does not exist in artifact [{name}].")
        except zipfile.BadZipFile:
            raise ActionFailed(f"The artifact [{name}] is not a zip file.")

    # -- source actions --------------------------------------------------------------------------

    def source_commit(self, run):
        """CodeStarSourceConnection / GitHub (version 1): no repository is read. The revision is the
        COMMIT_ID given in sourceRevisions, else a new 40-hex commit; the output zip is empty."""
        conf, name = run.action["configuration"], run.action["name"]
        override = self.release.overrides.get(name)
        commit = override["revisionValue"] if override else secrets.token_hex(20)
        github = run.action["actionTypeId"]["provider"] == "GitHub"
        repository = conf.get("FullRepositoryId") or f"{conf.get('Owner')}/{conf.get('Repo')}"
        branch = conf.get("BranchName") or conf.get("Branch")
        message = f"Commit {commit}"
        if github:
            summary, url = message, f"https://github.com/{repository}/commit/{commit}"
        else:
            summary = json.dumps({"ProviderType": "GitHub", "CommitMessage": message}, separators=(",", ":"))
            url = (f"https://{self.runs.region}.console.aws.amazon.com/codesuite/settings/connections/redirect"
                   f"?connectionArn={conf.get('ConnectionArn')}&referenceType=COMMIT&FullRepositoryId={repository}"
                   f"&Commit={commit}")
        outputs = [self.put_artifact(a["name"], _zip({}), revision=commit) for a in run.action["outputArtifacts"]]
        now = time.time()
        variables = {"CommitId": commit, "CommitMessage": message, "BranchName": branch or ""}
        if not github:
            variables.update(ConnectionArn=conf.get("ConnectionArn", ""), FullRepositoryId=repository,
                             AuthorDate=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)))
        return {"summary": summary, "external_id": commit, "external_url": url, "outputs": outputs,
                "variables": variables,
                "source": {"revisionId": commit, "revisionChangeId": commit, "created": now,
                           "revisionSummary": summary, "revisionUrl": url}}

    def source_s3(self, run):
        """S3: the object (its latest version, or the S3_OBJECT_VERSION_ID / S3_OBJECT_KEY given in
        sourceRevisions) becomes the output artifact; its version id is the revision."""
        conf, name = run.action["configuration"], run.action["name"]
        bucket, key = conf.get("S3Bucket"), conf.get("S3ObjectKey")
        read = {"Bucket": bucket, "Key": key}
        override = self.release.overrides.get(name)
        if override and override["revisionType"] == "S3_OBJECT_VERSION_ID":
            read["VersionId"] = override["revisionValue"]
        elif override and override["revisionType"] == "S3_OBJECT_KEY":
            read["Key"] = key = override["revisionValue"]
        try:
            found = self.client("s3").get_object(**read)
        except _client_error() as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code")
            reason = {"NoSuchKey": "The specified key does not exist.",
                      "NoSuchBucket": "The specified bucket does not exist"}.get(code, error.get("Message"))
            raise ActionFailed(f"Could not access the Amazon S3 source object s3://{bucket}/{key}. {code}: {reason}")
        body, etag = found["Body"].read(), found["ETag"].strip('"')
        version = found.get("VersionId")
        revision = version if version and version != "null" else etag
        summary = (found.get("Metadata") or {}).get("codepipeline-artifact-revision-summary")
        outputs = [self.put_artifact(a["name"], body, revision=revision) for a in run.action["outputArtifacts"]]
        source = {"revisionId": revision, "revisionChangeId": etag, "created": _epoch(found["LastModified"])}
        if summary:
            source["revisionSummary"] = summary
        return {"summary": summary, "external_id": revision, "outputs": outputs, "source": source,
                "variables": {"ETag": etag, "VersionId": version or "", "ObjectKey": key}}

    # -- build -----------------------------------------------------------------------------------

    def build(self, run):
        """CodeBuild, without Docker: tag = the first 8 characters of the primary input's source
        revision; image = REPOSITORY_URI:tag, put into that ECR repository; every output artifact is a
        zip holding build.json {"image", "tag"}."""
        conf, region, account = run.action["configuration"], self.runs.region, self.runs.account
        project = conf.get("ProjectName")
        arn = f"arn:aws:codebuild:{region}:{account}:project/{project}"
        found = self.client("codebuild").batch_get_projects(names=[project])["projects"]
        if not found:
            raise ActionFailed(f"Error calling startBuild: Project cannot be found: {arn} (Service: AWSCodeBuild; "
                               f"Status Code: 400; Error Code: ResourceNotFoundException; Request ID: {uuid.uuid4()}; "
                               "Proxy: null)")
        variables = {v["name"]: v.get("value", "") for v in found[0]["environment"].get("environmentVariables") or []}
        primary = conf.get("PrimarySource") or (run.action["inputArtifacts"] or [{}])[0].get("name")
        commit = (self.release.artifacts.get(primary) or {}).get("revision") or ""
        tag = commit[:8]
        repository = variables.get("REPOSITORY_URI")
        failure = None
        if not repository:
            failure = ("BUILD", f"Error while executing command: docker build -t $REPOSITORY_URI:{tag} . Reason: "
                                f"REPOSITORY_URI is not set in the environment of project {project}")
        elif not tag:
            failure = ("BUILD", f"Error while executing command: docker build. Reason: the input artifact {primary} "
                                "has no source revision")
        image = f"{repository}:{tag}"
        if failure is None:
            pushed = self.push_image(repository, tag)
            if pushed is not None:
                failure = ("POST_BUILD", f"Error while executing command: docker push {image}. Reason: exit status 1 "
                                         f"({pushed})")
        build_id = self.record_build(project, commit, run, failure)
        url = f"https://console.aws.amazon.com/codebuild/home?region={region}#/builds/{build_id}/view/new"
        if failure:
            phase, message = failure
            raise ActionFailed(f"Build terminated with state: FAILED. Phase: {phase}, Code: COMMAND_EXECUTION_ERROR, "
                               f"Message: {message}", external_id=build_id, external_url=url)
        body = _zip({"build.json": json.dumps({"image": image, "tag": tag})})
        outputs = [self.put_artifact(a["name"], body) for a in run.action["outputArtifacts"]]
        return {"external_id": build_id, "external_url": url, "outputs": outputs}

    def push_image(self, repository_uri, tag):
        """What `docker push` would do to ECR; None, or what docker printed on failure."""
        host, _, name = repository_uri.partition("/")
        parts = host.split(".")
        region = parts[3] if len(parts) > 4 and parts[1:3] == ["dkr", "ecr"] else self.runs.region
        ecr = self.client("ecr", region)
        try:
            repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        except _client_error():
            return (f"name unknown: The repository with name '{name}' does not exist in the registry with id "
                    f"'{parts[0]}'")
        try:
            existing = ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": tag}])["imageDetails"]
        except _client_error():
            existing = []
        if existing and repository.get("imageTagMutability", "MUTABLE").startswith("IMMUTABLE"):
            return (f"tag invalid: The image tag '{tag}' already exists in the '{name}' repository and cannot be "
                    "overwritten because the repository is immutable.")
        layer = secrets.token_hex(32)
        config = secrets.token_hex(32)
        manifest = {
            "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469,
                       "digest": f"sha256:{config}"},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 3370628,
                        "digest": f"sha256:{layer}"}],
        }
        ecr.put_image(repositoryName=name, imageManifest=json.dumps(manifest), imageTag=tag)
        return None

    def record_build(self, project, commit, run, failure):
        """The build, as BatchGetBuilds / ListBuildsForProject show it (moto's codebuild backend)."""
        from moto.codebuild.models import codebuild_backends
        from moto.core.utils import iso_8601_datetime_with_milliseconds

        with _release_state:
            self.check()
            backend = codebuild_backends[self.runs.account][self.runs.region]
            if project not in backend.codebuild_projects:
                return f"{project}:{uuid.uuid4()}"
            meta = backend.start_build(project, source_version=commit)
            now = iso_8601_datetime_with_milliseconds()
            order = ("SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD",
                     "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED")
            failed_at = failure[0] if failure else None
            skipped = order[order.index(failed_at) + 1:order.index("FINALIZING")] if failed_at else ()
            phases = []
            for phase in order:
                if phase in skipped:
                    continue
                entry = {"phaseType": phase, "startTime": now}
                if phase != "COMPLETED":
                    entry.update(endTime=now, durationInSeconds=0,
                                 phaseStatus="FAILED" if phase == failed_at else "SUCCEEDED")
                if phase == failed_at:
                    entry["contexts"] = [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": failure[1]}]
                phases.append(entry)
            project_meta = backend.codebuild_projects[project].project_metadata
            primary = (run.inputs or [{}])[0].get("s3location")
            meta.update(
                currentPhase="COMPLETED", buildStatus="FAILED" if failure else "SUCCEEDED", buildComplete=True,
                endTime=now, phases=phases, sourceVersion=(f"arn:aws:s3:::{primary['bucket']}/{primary['key']}"
                                                           if primary else commit),
                resolvedSourceVersion=commit, environment=project_meta.get("environment"),
                source=dict(project_meta.get("source") or {}, type="CODEPIPELINE"),
                initiator=f"codepipeline/{self.runs.name}",
            )
            meta["buildNumber"] = len(backend.build_history.get(project, []))
            _rig_builds.add(meta["id"])
            return meta["id"]

    # -- CloudFormation --------------------------------------------------------------------------

    def cloudformation(self, run):
        """CREATE_UPDATE, REPLACE_ON_FAILURE, DELETE_ONLY, CHANGE_SET_REPLACE, CHANGE_SET_EXECUTE through
        this server's CloudFormation API, waiting as CodePipeline does (and for the stack's ECS services'
        rollouts, which move here only when polled)."""
        conf = run.action["configuration"]
        mode, stack = conf.get("ActionMode"), conf.get("StackName")
        cfn = self.client("cloudformation")
        current = self.describe_stack(stack)
        try:
            if mode == "CHANGE_SET_EXECUTE":
                return self.execute_change_set(run, stack, conf.get("ChangeSetName"))
            if mode == "DELETE_ONLY":
                if current is None:
                    return {"summary": f"Stack {stack} does not exist"}
                cfn.delete_stack(StackName=current["StackId"])
                return self.stack_outcome(run, current["StackId"], stack, "delete")
            if mode not in ("CREATE_UPDATE", "REPLACE_ON_FAILURE", "CHANGE_SET_REPLACE"):
                raise ActionFailed(f"ActionMode {mode} is not valid.")
            request = self.stack_request(run, conf)
            policy = request.pop("policy")
            if mode == "CHANGE_SET_REPLACE":
                return self.replace_change_set(run, stack, conf.get("ChangeSetName"), request, current)
            if mode == "REPLACE_ON_FAILURE" and current is not None and current["StackStatus"] in STACK_FAILED_STATES:
                cfn.delete_stack(StackName=current["StackId"])
                gone = self.wait_stack(current["StackId"])
                if gone["StackStatus"] != "DELETE_COMPLETE":
                    raise ActionFailed(self.failure(f"Failed to delete stack {stack}.", gone))
                current = None
            if current is None:
                stack_id = cfn.create_stack(**request)["StackId"]
                return self.stack_outcome(run, stack_id, stack, "create", policy)
            try:
                cfn.update_stack(**request)
            except _client_error() as exc:
                if "No updates are to be performed" not in exc.response.get("Error", {}).get("Message", ""):
                    raise
                return dict(self.stack_result(run, current), summary="No updates are to be performed.")
            return self.stack_outcome(run, current["StackId"], stack, "update", policy)
        except _client_error() as exc:
            if self.gone():
                raise Gone()
            raise ActionFailed(self.cloudformation_error(exc))

    @staticmethod
    def cloudformation_error(exc):
        error, meta = exc.response.get("Error", {}), exc.response.get("ResponseMetadata", {})
        return (f"{error.get('Message')} (Service: AmazonCloudFormation; Status Code: {meta.get('HTTPStatusCode')}; "
                f"Error Code: {error.get('Code')}; Request ID: {meta.get('RequestId')}; Proxy: null)")

    def describe_stack(self, name):
        try:
            return self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
        except _client_error() as exc:
            if self.gone():
                raise Gone()
            if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
                return None
            raise ActionFailed(self.cloudformation_error(exc))

    def wait_stack(self, stack_id):
        cfn = self.client("cloudformation")
        while True:
            stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
            status = stack["StackStatus"]
            if not status.endswith("_IN_PROGRESS") or status == "REVIEW_IN_PROGRESS":
                return stack
            time.sleep(RELEASE_POLL)

    def stack_request(self, run, conf):
        """CreateStack / UpdateStack / CreateChangeSet arguments: the template, the template
        configuration's Parameters and Tags, ParameterOverrides (which win), Capabilities, RoleArn."""
        parameters, tags, policy = {}, {}, None
        if conf.get("TemplateConfiguration"):
            text = self.artifact_file(run, conf["TemplateConfiguration"])
            try:
                document = json.loads(text)
            except ValueError as exc:
                raise ActionFailed(f"Template configuration is not valid: {exc}")
            parameters = {k: _text(v) for k, v in (document.get("Parameters") or {}).items()}
            tags = {k: _text(v) for k, v in (document.get("Tags") or {}).items()}
            if document.get("StackPolicy") is not None:
                policy = document["StackPolicy"]
                policy = policy if isinstance(policy, str) else json.dumps(policy)
        if conf.get("ParameterOverrides"):
            try:
                overrides = json.loads(conf["ParameterOverrides"])
            except ValueError as exc:
                raise ActionFailed(f"ParameterOverrides is not valid JSON: {exc}")
            for key, value in overrides.items():
                parameters[key] = self.parameter_value(run, key, value)
        template = self.artifact_file(run, conf.get("TemplatePath"))
        request = {"StackName": conf.get("StackName"), "TemplateBody": template,
                   "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                   "policy": policy}
        if conf.get("Capabilities"):
            request["Capabilities"] = [c for c in conf["Capabilities"].split(",") if c]
        if conf.get("RoleArn"):
            request["RoleARN"] = conf["RoleArn"]
        if tags:
            request["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return request

    def parameter_value(self, run, key, value):
        """A ParameterOverrides value: a string, {"Fn::GetParam": [artifact, file, key]} or
        {"Fn::GetArtifactAtt": [artifact, BucketName|ObjectKey|URL]}."""
        if isinstance(value, dict) and "Fn::GetParam" in value:
            artifact, file, name = value["Fn::GetParam"]
            try:
                document = json.loads(self.artifact_file(run, f"{artifact}::{file}"))
            except ValueError as exc:
                raise ActionFailed(f"Fn::GetParam of parameter {key}: {file} in artifact {artifact} is not valid JSON: "
                                   f"{exc}")
            if not isinstance(document, dict) or name not in document:
                raise ActionFailed(f"Fn::GetParam of parameter {key}: key {name} not found in {file} of artifact "
                                   f"{artifact}.")
            return _text(document[name])
        if isinstance(value, dict) and "Fn::GetArtifactAtt" in value:
            artifact, attribute = value["Fn::GetArtifactAtt"]
            if artifact not in [a["name"] for a in run.action["inputArtifacts"]]:
                raise ActionFailed(f"The artifact {artifact} is not an input artifact of action {run.action['name']}.")
            where = self.release.artifacts[artifact]
            values = {"BucketName": where["bucket"], "ObjectKey": where["key"],
                      "URL": f"https://{where['bucket']}.s3.amazonaws.com/{where['key']}"}
            if attribute not in values:
                raise ActionFailed(f"Fn::GetArtifactAtt of parameter {key}: attribute {attribute} is not one of "
                                   "BucketName, ObjectKey, URL.")
            return values[attribute]
        return _text(value)

    def replace_change_set(self, run, stack, name, request, current):
        cfn = self.client("cloudformation")
        if current is not None:
            try:
                cfn.delete_change_set(ChangeSetName=name, StackName=stack)
            except _client_error():
                pass  # no change set of that name yet
        kind = "CREATE" if current is None or current["StackStatus"] == "REVIEW_IN_PROGRESS" else "UPDATE"
        created = cfn.create_change_set(ChangeSetName=name, ChangeSetType=kind, **request)
        while True:
            change_set = cfn.describe_change_set(ChangeSetName=created["Id"])
            if change_set["Status"] not in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
                break
            time.sleep(RELEASE_POLL)
        result = {"external_id": created["Id"]}
        reason = change_set.get("StatusReason") or ""
        if change_set["Status"] == "CREATE_COMPLETE":
            return dict(result, summary=f"Change set {name} of stack {stack} was created ({kind}).")
        if NO_CHANGES in reason:
            return dict(result, summary=reason)
        raise ActionFailed(f"Failed to create change set {name} of stack {stack}. Change set status: "
                           f"{change_set['Status']}. Reason: {reason or 'No reason was provided.'}", **result)

    def execute_change_set(self, run, stack, name):
        cfn = self.client("cloudformation")
        change_set = cfn.describe_change_set(ChangeSetName=name, StackName=stack)
        if change_set["Status"] == "FAILED" and NO_CHANGES in (change_set.get("StatusReason") or ""):
            return {"summary": f"Change set {name} of stack {stack} contains no changes: nothing to execute.",
                    "external_id": change_set["StackId"]}
        cfn.execute_change_set(ChangeSetName=name, StackName=stack)
        return self.stack_outcome(run, change_set["StackId"], stack, "execute", change_set=name)

    def stack_outcome(self, run, stack_id, name, verb, policy=None, change_set=None):
        """Waits for the stack, then for its ECS services' rollouts; the action's outcome is the stack's.
        verb: create, update, delete or execute (change_set)."""
        stack = self.wait_stack(stack_id)
        ok = ("DELETE_COMPLETE",) if verb == "delete" else ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        if stack["StackStatus"] in ok and verb != "delete":
            self.wait_for_services(stack_id)
            stack = self.wait_stack(stack_id)
        what = f"change set {change_set} of stack {name}" if verb == "execute" else f"stack {name}"
        if stack["StackStatus"] not in ok:
            raise ActionFailed(self.failure(f"Failed to {verb} {what}.", stack), external_id=stack_id)
        if policy:
            self.client("cloudformation").set_stack_policy(StackName=stack_id, StackPolicyBody=policy)
        done = {"create": "created", "update": "updated", "delete": "deleted", "execute": "executed"}[verb]
        return dict(self.stack_result(run, stack), summary=f"{what[0].upper()}{what[1:]} {done}.")

    def stack_result(self, run, stack):
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
        result = {"external_id": stack["StackId"], "variables": outputs}
        file = run.action["configuration"].get("OutputFileName")
        if file and run.action["outputArtifacts"]:
            body = _zip({file: json.dumps(outputs)})
            result["outputs"] = [self.put_artifact(a["name"], body) for a in run.action["outputArtifacts"]]
        return result

    def failure(self, prefix, stack):
        """`<prefix> Current stack status: X. Reason: <the first failed resource's reason>`."""
        events = self.client("cloudformation").describe_stack_events(StackName=stack["StackId"])["StackEvents"]
        since = next((i for i, e in enumerate(events) if e.get("ResourceType") == "AWS::CloudFormation::Stack"
                      and e.get("ResourceStatusReason") == "User Initiated"), len(events))
        recent = list(reversed(events[:since]))
        failed = next((e for e in recent if e["ResourceStatus"].endswith("_FAILED")
                       and e.get("ResourceType") != "AWS::CloudFormation::Stack"), None)
        if failed is not None:
            reason = f"{failed['LogicalResourceId']}: {failed.get('ResourceStatusReason') or failed['ResourceStatus']}"
        else:
            reason = next((e.get("ResourceStatusReason") for e in recent if e.get("ResourceStatusReason")
                           and e["ResourceStatus"].endswith(("ROLLBACK_IN_PROGRESS", "_FAILED"))),
                          None) or "No reason was provided."
        return f"{prefix} Current stack status: {stack['StackStatus']}. Reason: {reason}"

    def wait_for_services(self, stack_id):
        """Polls DescribeServices for the stack's ECS services until each PRIMARY deployment is
        COMPLETED or FAILED (CloudFormation waits for service stability on AWS; here a rollout moves
        only when polled, see 17). At most ROLLOUT_POLLS rounds (a crash without a circuit breaker
        never settles)."""
        resources = self.client("cloudformation").describe_stack_resources(StackName=stack_id)["StackResources"]
        clusters = {}
        for r in resources:
            arn = r.get("PhysicalResourceId") or ""
            if r.get("ResourceType") == "AWS::ECS::Service" and ":service/" in arn:
                path = arn.split(":service/", 1)[1].split("/")
                clusters.setdefault(path[0] if len(path) == 2 else "default", []).append(arn)
        if not clusters:
            return
        ecs = self.client("ecs")
        for _ in range(ROLLOUT_POLLS):
            settled = True
            for cluster, arns in clusters.items():
                for service in ecs.describe_services(cluster=cluster, services=arns)["services"]:
                    primary = next((d for d in service.get("deployments") or [] if d.get("status") == "PRIMARY"), None)
                    if service.get("status") == "ACTIVE" and primary and \
                            primary.get("rolloutState") not in (None, "COMPLETED", "FAILED"):
                        settled = False
            if settled:
                return
            time.sleep(RELEASE_POLL)

    # -- manual approval -------------------------------------------------------------------------

    def approval(self, run):
        """InProgress with a token until PutApprovalResult (or a stop that abandons it); NotificationArn:
        the approval JSON published to the topic."""
        conf, runs = run.action["configuration"], self.runs
        with _release_state:
            self.check()
            run.token = str(uuid.uuid4())
        if conf.get("NotificationArn"):
            console = f"https://console.aws.amazon.com/codepipeline/home?region={runs.region}#/view/{runs.name}"
            message = {
                "region": runs.region, "consoleLink": console,
                "approval": {
                    "pipelineName": runs.name, "stageName": run.stage, "actionName": run.action["name"],
                    "token": run.token,
                    "expires": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(time.time() + 7 * 86400)),
                    "externalEntityLink": conf.get("ExternalEntityLink"),
                    "approvalReviewLink": f"{console}/{run.stage}/{run.action['name']}/approve/{run.token}",
                    "customData": conf.get("CustomData"),
                },
            }
            subject = f"APPROVAL NEEDED: AWS CodePipeline {runs.name} for action {run.action['name']}"
            try:
                self.client("sns").publish(TopicArn=conf["NotificationArn"], Subject=subject[:100],
                                           Message=json.dumps(message))
            except _client_error():
                if self.gone():
                    raise Gone()  # else: nobody is notified, the approval still waits
        with _release_state:
            while run.status == "InProgress":
                self.check()
                _release_state.wait(0.2)
        return None  # PutApprovalResult / StopPipelineExecution set the outcome


def _client_error():
    """botocore's ClientError (imported late: the launcher checks moto's version before any import)."""
    from botocore.exceptions import ClientError

    return ClientError


def extend_pipelines(ext) -> None:  # noqa: C901 - the CloudFormation models and the API, in one place
    """23: AWS::CodePipeline::Pipeline / AWS::CodeBuild::Project on moto's backends; the
    CodePipeline operations that start, show, approve and stop executions (Walk does the work)."""
    from moto.codebuild.models import CodeBuildBackend, codebuild_backends
    from moto.codepipeline import models as cp_models
    from moto.codepipeline.exceptions import (
        InvalidStructureException,
        PipelineExecutionNotFoundException,
        PipelineNotFoundException,
    )
    from moto.codepipeline.models import CodePipeline, codepipeline_backends
    from moto.codepipeline.responses import CodePipelineResponse
    from moto.core.exceptions import JsonRESTError
    from moto.iam.exceptions import NotFoundException as IAMNotFoundException

    def error(code):
        return type(code, (JsonRESTError,), {"code": 400, "__init__": lambda self, message: JsonRESTError.__init__(
            self, code, message)})

    ValidationException = error("ValidationException")
    StageNotFoundException = error("StageNotFoundException")
    ActionNotFoundException = error("ActionNotFoundException")
    InvalidApprovalTokenException = error("InvalidApprovalTokenException")
    ApprovalAlreadyCompletedException = error("ApprovalAlreadyCompletedException")
    PipelineExecutionNotStoppableException = error("PipelineExecutionNotStoppableException")
    DuplicatedStopRequestException = error("DuplicatedStopRequestException")

    # CreatePipeline: moto read a trust policy's Principal.Service as one string (a list of services,
    # as rig's roles have, was refused); a statement may also be a single object.
    def create_pipeline(self, pipeline, tags):
        name = pipeline["name"]
        if name in self.pipelines:
            raise InvalidStructureException(
                f"A pipeline with the name '{name}' already exists in account '{self.account_id}'")
        refused = InvalidStructureException(
            f"CodePipeline is not authorized to perform AssumeRole on role {pipeline.get('roleArn')}")
        try:
            role = self.iam_backend.get_role_by_arn(pipeline.get("roleArn"))
        except IAMNotFoundException:
            raise refused
        statements = json.loads(role.assume_role_policy_document).get("Statement") or []
        services = set()
        for st in statements if isinstance(statements, list) else [statements]:
            principal = st.get("Principal") or {}
            service = principal.get("Service") if isinstance(principal, dict) else None
            if st.get("Effect", "Allow") == "Allow" and service:
                services.update([service] if isinstance(service, str) else service)
        if "codepipeline.amazonaws.com" not in services:
            raise refused
        if len(pipeline["stages"]) < 2:
            raise InvalidStructureException(
                f"Pipeline has only {len(pipeline['stages'])} stage(s). There should be a minimum of 2 stages in a "
                "pipeline")
        obj = self.pipelines[name] = CodePipeline(self.account_id, self.region_name, pipeline)
        if tags:
            obj.validate_tags(tags)
            obj.tags.update({t["key"]: t["value"] for t in tags})
        return pipeline, sorted(tags or [], key=lambda t: t["key"])

    cp_models.CodePipelineBackend.create_pipeline = create_pipeline

    # -- CloudFormation models -----------------------------------------------------------------

    @ext.register
    class Pipeline(ext.RigModel):
        TYPE, NAME_PROP = "AWS::CodePipeline::Pipeline", "Name"
        ATTRS = {"Version": lambda s: str(s.backend().pipelines[s.name].pipeline["version"])}

        def backend(self):
            return codepipeline_backends[self.account_id][self.region_name]

        def tags(self):
            return [{"key": t["Key"], "value": _text(t["Value"])} for t in self.props.get("Tags") or []]

        def create(self):
            self.backend().create_pipeline(api_pipeline(self.name, self.props), self.tags())

        def update(self):
            backend = self.backend()
            backend.update_pipeline(api_pipeline(self.name, self.props))
            backend.pipelines[self.name].tags = {t["key"]: t["value"] for t in self.tags()}

        def delete(self, account_id, region_name):
            codepipeline_backends[account_id][region_name].delete_pipeline(self.name)

    @ext.register
    class BuildProject(ext.RigModel):
        TYPE, NAME_PROP = "AWS::CodeBuild::Project", "Name"
        ATTRS = {"Arn": "arn:aws:codebuild:{region}:{account}:project/{name}"}

        def create(self):
            backend = codebuild_backends[self.account_id][self.region_name]
            history = backend.build_history.get(self.name)
            backend.create_project(self.name, **api_build_project(self.props))
            if history:
                backend.build_history[self.name] = history  # an update keeps the project's builds

        update = create

        def delete(self, account_id, region_name):
            codebuild_backends[account_id][region_name].delete_project(self.name)

    # The builds the walkers record are returned as recorded (moto completes every build it returns).
    plain_batch_get_builds = CodeBuildBackend.batch_get_builds

    def batch_get_builds(self, ids):
        ours = [b for history in self.build_metadata_history.values() for b in history
                if b["id"] in ids and b["id"] in _rig_builds]
        return ours + plain_batch_get_builds(self, [i for i in ids if i not in _rig_builds])

    CodeBuildBackend.batch_get_builds = batch_get_builds

    # -- the API -------------------------------------------------------------------------------

    def pipeline_of(response, name):
        backend = response.codepipeline_backend
        obj = backend.pipelines.get(name)
        if obj is None:
            raise PipelineNotFoundException(
                f"Account '{backend.account_id}' does not have a pipeline with name '{name}'")
        return backend, obj, PipelineRuns.of(backend, obj)

    def execution_of(backend, runs, execution_id):
        release = runs.executions.get(execution_id)
        if release is None:
            raise PipelineExecutionNotFoundException(
                f"Account '{backend.account_id}' does not have an execution with id '{execution_id}' for pipeline "
                f"'{runs.name}'")
        return release

    def page(response, items, key):
        start = int(response._get_param("nextToken") or 0)
        size = response._get_param("maxResults") or 100
        out = {key: items[start:start + size]}
        if start + size < len(items):
            out["nextToken"] = str(start + size)
        return json.dumps(out)

    def start_pipeline_execution(self):
        backend, obj, runs = pipeline_of(self, self._get_param("name"))
        token = self._get_param("clientRequestToken")
        if token and token in runs.tokens:
            return json.dumps({"pipelineExecutionId": runs.tokens[token]})
        definition = copy.deepcopy(obj.pipeline)
        sources = {a["name"]: a for s in definition["stages"] for a in s["actions"]
                   if a["actionTypeId"]["category"] == "Source"}
        overrides = self._get_param("sourceRevisions") or []
        for override in overrides:
            action = sources.get(override.get("actionName"))
            if action is None:
                raise ValidationException(f"Source action {override.get('actionName')} does not exist in pipeline "
                                          f"{runs.name}")
            allowed = {"S3": ("S3_OBJECT_VERSION_ID", "S3_OBJECT_KEY"), "ECR": ("IMAGE_DIGEST",)}.get(
                action["actionTypeId"]["provider"], ("COMMIT_ID",))
            if override.get("revisionType") not in allowed:
                raise ValidationException(f"Revision type {override.get('revisionType')} is not supported by source "
                                          f"action {action['name']} (provider {action['actionTypeId']['provider']})")
        declared = {v["name"]: v.get("defaultValue") for v in definition.get("variables") or []}
        given = {v["name"]: v["value"] for v in self._get_param("variables") or []}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise ValidationException(f"Pipeline variables {unknown} are not declared in pipeline {runs.name}")
        variables = {k: v for k, v in {**declared, **given}.items() if v is not None}
        release = Release(runs, definition, overrides, variables, CALLER.format(account=backend.account_id))
        runs.executions[release.id] = release
        if token:
            runs.tokens[token] = release.id
        Walk(release).start()
        return json.dumps({"pipelineExecutionId": release.id})

    def get_pipeline_execution(self):
        backend, _, runs = pipeline_of(self, self._get_param("pipelineName"))
        release = execution_of(backend, runs, self._get_param("pipelineExecutionId"))
        return json.dumps({"pipelineExecution": release.execution()})

    def list_pipeline_executions(self):
        _, _, runs = pipeline_of(self, self._get_param("pipelineName"))
        releases = list(reversed(runs.executions.values()))
        stage = ((self._get_param("filter") or {}).get("succeededInStage") or {}).get("stageName")
        if stage:
            releases = [r for r in releases if r.stages.get(stage) == "Succeeded"]
        return page(self, [r.summary() for r in releases], "pipelineExecutionSummaries")

    def get_pipeline_state(self):
        _, _, runs = pipeline_of(self, self._get_param("name"))
        return json.dumps(runs.state())

    def list_action_executions(self):
        backend, _, runs = pipeline_of(self, self._get_param("pipelineName"))
        execution_id = (self._get_param("filter") or {}).get("pipelineExecutionId")
        releases = [execution_of(backend, runs, execution_id)] if execution_id else list(runs.executions.values())
        details = sorted((run for r in releases for run in r.actions), key=lambda run: run.start, reverse=True)
        return page(self, [run.detail() for run in details], "actionExecutionDetails")

    def put_approval_result(self):
        backend, obj, runs = pipeline_of(self, self._get_param("pipelineName"))
        stage, action, token = self._get_param("stageName"), self._get_param("actionName"), self._get_param("token")
        result = self._get_param("result") or {}
        declared = next((s for s in obj.pipeline["stages"] if s["name"] == stage), None)
        if declared is None:
            raise StageNotFoundException(f"Stage {stage} does not exist in pipeline {runs.name}")
        if not any(a["name"] == action for a in declared["actions"]):
            raise ActionNotFoundException(f"Action {action} does not exist in stage {stage} of pipeline {runs.name}")
        if result.get("status") not in ("Approved", "Rejected"):
            raise ValidationException(f"Approval status {result.get('status')} is not one of Approved, Rejected")
        runs_of_action = [run for r in runs.executions.values() for run in r.actions
                          if run.stage == stage and run.action["name"] == action and run.token]
        waiting = next((run for run in runs_of_action if run.status == "InProgress" and run.token == token), None)
        if waiting is None:
            if any(run.token == token for run in runs_of_action):
                raise ApprovalAlreadyCompletedException(
                    "The approval request that you responded to is already complete or has expired.")
            raise InvalidApprovalTokenException("The approval request already received a response or has expired.")
        caller = CALLER.format(account=backend.account_id)
        approved = result["status"] == "Approved"
        comment = result.get("summary") or ""
        waiting.status = "Succeeded" if approved else "Failed"
        waiting.summary = comment or f"{'Approved' if approved else 'Rejected'} by {caller}"
        waiting.updated_by, waiting.updated = caller, time.time()
        if not approved:
            waiting.error = {"code": "JobFailed",
                             "message": f"Rejected by {caller}" + (f". Comment: {comment}" if comment else "")}
        _release_state.notify_all()
        return json.dumps({"approvedAt": waiting.updated})

    def stop_pipeline_execution(self):
        backend, _, runs = pipeline_of(self, self._get_param("pipelineName"))
        release = execution_of(backend, runs, self._get_param("pipelineExecutionId"))
        abandon = bool(self._get_param("abandon"))
        if release.status == "Stopping":
            if not abandon or release.stop_mode == "abandon":
                raise DuplicatedStopRequestException(
                    f"Execution {release.id} of pipeline {runs.name} is already in a Stopping state.")
        elif release.status != "InProgress":
            raise PipelineExecutionNotStoppableException(
                f"Unable to stop the pipeline execution {release.id}: it is {release.status}, no longer in progress.")
        release.status, release.updated = "Stopping", time.time()
        release.stop_mode = "abandon" if abandon else "wait"
        release.stop_reason = self._get_param("reason") or release.stop_reason
        for stage, holder in runs.holder.items():
            if holder is release:
                runs.stage_latest[stage] = [release, "Stopping"]
        if abandon:
            for run in release.actions:
                if run.status == "InProgress":
                    run.status, run.updated = "Abandoned", time.time()
        _release_state.notify_all()
        return json.dumps({"pipelineExecutionId": release.id})

    for handler in (start_pipeline_execution, get_pipeline_execution, list_pipeline_executions, get_pipeline_state,
                    list_action_executions, put_approval_result, stop_pipeline_execution):
        setattr(CodePipelineResponse, handler.__name__, handler)


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
    service could fail one request with HTTP 500, which the SDK retries, executing it twice.

    The lock is SERVER_LOCK, which the pipeline walkers (23) take for their own state changes. A
    reset (`POST /moto-api/reset`) starts a new generation; a walker's request carrying an older
    generation (header `X-Rig-Generation`) is refused before it reaches moto, so a walk started
    before a reset never changes what comes after it."""

    def __init__(self, app, lock=None):
        self.app = app
        self.lock = lock or SERVER_LOCK

    def __call__(self, environ, start_response):
        with self.lock:
            if environ.get("PATH_INFO") == "/moto-api/reset":
                _server["generation"] += 1
            settle_holds()  # 27: stacks whose simulated operation time is over show their final status
            generation = environ.get("HTTP_X_RIG_GENERATION")
            if generation is not None and generation != str(_server["generation"]):
                start_response("410 Gone", [("Content-Type", "application/json")])
                return [b'{"__type": "ResetException", "message": "The local AWS was reset."}']
            return list(self.app(environ, start_response))


# =============================================================================================
# 27. A fault and latency layer in front of everything above: per-request latency, a seeded
# fraction of requests failed as AWS fails them (throttling in each protocol's own error shape,
# HTTP 500, HTTP 503, a connection closed without an answer), stack operations that take time,
# one mutating request held until released (kill -9 tests), and a count of requests per service
# and operation. Controlled over HTTP:
#   POST /_rig/faults?rate=0.1&seed=7&kinds=throttle,500,503,drop&latency_ms=20
#                    &hold=foundation:1.8,db-aurora:6&express_factor=0.25&stall=3   (rate=0: off)
#   POST /_rig/faults?release=1   (the stalled request goes on; nothing else changes)
#   GET  /_rig/requests  -> {"requests": {"cloudformation:CreateChangeSet": 3, ...}, "injected": {...},
#                            "modes": {...}, "stalled": ..., "stalled_at": ...}
# A failed request never reaches moto (it changes nothing), as when AWS refuses it up front.
# The pipeline walkers' own requests (header X-Rig-Generation) and /moto-api/ are never failed
# nor stalled (their stack operations are held like any other).
# =============================================================================================

MUTATING_VERBS = ("Create", "Put", "Delete", "Update", "Execute", "Add", "Remove", "Batch", "Set",
                  "Tag", "Untag", "Start", "Stop", "Cancel", "Continue", "Register", "Deregister",
                  "Modify")
STALL_SECONDS = 120  # a stalled request goes on by itself after this long
HELD = []  # stacks whose operation's end is not shown yet (hold), under SERVER_LOCK


def is_mutating(op):
    """A write: a query/JSON action named with a mutating verb, or a REST request that is not a
    GET or HEAD (S3's PutObject is `PUT [...]`, its DeleteObjects `POST [...]`)."""
    return op.startswith(MUTATING_VERBS) or op.split(" ", 1)[0] in ("PUT", "POST", "DELETE")


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rate, self.latency, self.kinds = 0.0, 0.0, ["throttle"]
        self.rng = None
        self.requests, self.injected, self.modes = {}, {}, {}
        self.holds, self.express_factor = {}, 0.25
        self.stall, self.passed, self.stalled, self.stalled_at = 0, 0, None, None
        self.released = threading.Event()

    @staticmethod
    def seconds(text, what):
        value = float(text)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{what}: {text!r} is not a number of seconds >= 0")
        return value

    def configure(self, query):
        """Sets every setting (those not given: off) and starts the counts again; `release=1` only
        lets the stalled request go on."""
        import random
        import urllib.parse
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
        if q.get("release", "0").lower() in ("1", "true"):
            with self.lock:
                self.released.set()
                return {"released": self.stalled}
        holds = {}
        for item in filter(None, q.get("hold", "").split(",")):
            suffix, _, seconds = item.rpartition(":")
            if not suffix:
                raise ValueError(f"hold: {item!r} is not SUFFIX:SECONDS")
            holds[suffix] = self.seconds(seconds, "hold")
        express_factor = self.seconds(q.get("express_factor", "0.25"), "express_factor")
        stall = int(q.get("stall", 0))
        with self.lock:
            self.released.set()  # a request still stalled goes on
            self.released = threading.Event()
            self.rate = float(q.get("rate", 0))
            self.latency = float(q.get("latency_ms", 0)) / 1000
            self.kinds = [k for k in q.get("kinds", "throttle").split(",") if k]
            self.rng = random.Random(int(q.get("seed", 0)))
            self.requests, self.injected, self.modes = {}, {}, {}
            self.holds, self.express_factor = holds, express_factor
            self.stall, self.passed, self.stalled, self.stalled_at = stall, 0, None, None
        return {"rate": self.rate, "kinds": self.kinds, "latency_ms": self.latency * 1000, "hold": holds,
                "express_factor": express_factor, "stall": stall}

    @staticmethod
    def operation(environ, body):
        """(service, operation, protocol) of an AWS request; protocol: json, query, ec2 or rest."""
        auth = environ.get("HTTP_AUTHORIZATION", "")
        m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
        service = m.group(1) if m else "unknown"
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return service, target.rsplit(".", 1)[-1], "json"
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            import urllib.parse
            action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
            return service, action, "ec2" if service == "ec2" else "query"
        return service, f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '').split('/')[1:2]}", "rest"

    def decide(self, environ, body):
        """Counts the request; returns (the fault to answer it with, or None; the Event to wait for
        when it is the mutating request to stall, or None)."""
        service, op, protocol = self.operation(environ, body)
        key = f"{service}:{op}"
        with self.lock:
            self.requests[key] = self.requests.get(key, 0) + 1
            if self.rng is not None and self.rate > 0 and self.rng.random() < self.rate:
                kind = self.rng.choice(self.kinds)
                self.injected[kind] = self.injected.get(kind, 0) + 1
                return (kind, service, protocol), None
            if self.stall and is_mutating(op):
                self.passed += 1  # mutating requests that reach moto
                if self.passed == self.stall:
                    self.stalled = self.stalled_at = key
                    return None, self.released
        return None, None

    def unstall(self, released):
        with self.lock:
            if released is self.released:  # not configured again meanwhile
                self.stalled = None

    def hold_for(self, stack_name, express=False):
        """Seconds a stack's operation shows in progress: the longest `-SUFFIX` the name ends with."""
        with self.lock:
            suffix = max((s for s in self.holds if stack_name.endswith("-" + s)), key=len, default=None)
            if suffix is None:
                return 0.0
            return self.holds[suffix] * (self.express_factor if express else 1.0)

    def record_mode(self, stack_name, mode):
        with self.lock:
            self.modes[stack_name] = mode

    def summary(self):
        with self.lock:
            mutating = sum(n for k, n in self.requests.items()
                           if is_mutating(k.split(":", 1)[1]))
            return {"requests": dict(self.requests), "injected": dict(self.injected),
                    "total": sum(self.requests.values()), "mutating": mutating, "modes": dict(self.modes),
                    "stalled": self.stalled, "stalled_at": self.stalled_at}


def fault_response(kind, service, protocol):
    """The status, headers and body AWS answers with for a throttled or failed request."""
    rid = str(uuid.uuid4())
    if kind == "throttle":
        status, code, message = 400, "Throttling", "Rate exceeded"
        if protocol == "json":
            code = "ThrottlingException"
        elif protocol == "ec2":
            code = "RequestLimitExceeded"
        elif service == "s3":
            status, code, message = 503, "SlowDown", "Please reduce your request rate."
    elif kind == "500":
        status, code, message = 500, "InternalFailure", "An internal error occurred."
    else:
        status, code, message = 503, "ServiceUnavailable", "Service is unavailable. Try again later."
    reason = {400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}[status]
    if protocol == "json":
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", rid)]
        body = json.dumps({"__type": code, "message": message})
    elif protocol == "ec2":
        headers = [("Content-Type", "text/xml")]
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                f"<RequestID>{rid}</RequestID></Response>")
    elif protocol == "rest":
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", rid)]
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{rid}</RequestId></Error>"
    else:
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)]
        body = (f"<ErrorResponse><Error><Type>{'Sender' if status < 500 else 'Receiver'}</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>")
    return f"{status} {reason}", headers, body.encode()


FAULTS = Faults()


class FaultLayer:
    """WSGI wrapper outside OneAtATime: latency is spent before taking the server's lock, so
    requests wait side by side as they would for a distant endpoint; so is a stall."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path in ("/_rig/faults", "/_rig/requests"):
            status = "200 OK"
            try:
                answer = FAULTS.configure(environ.get("QUERY_STRING", "")) if path == "/_rig/faults" \
                    else FAULTS.summary()
            except ValueError as exc:
                status, answer = "400 Bad Request", {"error": str(exc)}
            body = json.dumps(answer).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path.startswith("/moto-api/") or environ.get("HTTP_X_RIG_GENERATION") is not None:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = b""
        if length:  # read, then handed on unchanged (a chunked body is left alone)
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
        fault, stall = FAULTS.decide(environ, body)
        if FAULTS.latency:
            time.sleep(FAULTS.latency)
        if fault and fault[0] == "drop":
            self.drop(environ)
        if fault:
            status, headers, answer = fault_response(*fault)
            start_response(status, headers + [("Content-Length", str(len(answer)))])
            return [answer]
        if stall is not None:
            # Held outside every lock (other requests go on), then handled as usual: like a request
            # AWS received before its client died, it takes effect even if nobody reads the answer
            # (werkzeug treats writing to a closed connection as a dropped connection).
            stall.wait(STALL_SECONDS)
            FAULTS.unstall(stall)
        return self.app(environ, start_response)

    @staticmethod
    def drop(environ):
        """Closes the connection without an answer, as a network failure or a dying load balancer
        does (the client sees it closed or reset before any response). werkzeug's request handler
        takes the ConnectionError for a client that went away: it writes and logs nothing."""
        import socket
        try:
            environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
        except (KeyError, OSError):
            pass
        raise ConnectionAbortedError("rig fault layer: connection dropped")


def _stack_event(stack, e):
    return e.resource_type == "AWS::CloudFormation::Stack" and e.logical_resource_id == stack.name


def hold_stack(backend, stack, since, status, seconds):
    """Shows `stack` in `status` (the first stack event of the operation that just ran, from event
    number `since` on) for `seconds`: the work is done, its resource events shown, but the final
    status and the operation's later stack events wait in `rig_hold` until settle_holds()."""
    if seconds <= 0:
        return
    events = stack.events[since:]
    first = next((i for i, e in enumerate(events) if _stack_event(stack, e) and e.resource_status == status), None)
    if first is None:
        return
    later = [e for e in events[first + 1:] if _stack_event(stack, e)]
    stack.events[:] = [e for e in stack.events if all(e is not x for x in later)]
    if stack.stack_id in backend.deleted_stacks:  # found by name until its DELETE_COMPLETE shows
        backend.stacks[stack.stack_id] = backend.deleted_stacks.pop(stack.stack_id)
    stack.rig_hold = SimpleNamespace(until=time.monotonic() + seconds, status=stack.status, events=later,
                                     backend=backend, generation=_server["generation"])
    stack.status = status
    HELD.append(stack)


def end_hold(stack):
    """Shows what the held operation ended with: its status, then its stack events, dated now."""
    from moto.core.utils import utcnow
    hold = stack.__dict__.pop("rig_hold")
    HELD[:] = [s for s in HELD if s is not stack]
    for e in hold.events:
        e.timestamp = utcnow()
        stack.events.append(e)
    stack.status = hold.status
    if hold.status == "DELETE_COMPLETE":
        hold.backend.deleted_stacks[stack.stack_id] = hold.backend.stacks.pop(stack.stack_id)


def settle_holds():
    """Ends the holds whose time is over; called under SERVER_LOCK at the start of every request
    (nothing runs in between: a hold is only ever seen through a request). A reset forgets them."""
    now = time.monotonic()
    for stack in list(HELD):
        if stack.rig_hold.generation != _server["generation"]:
            stack.__dict__.pop("rig_hold")
            HELD[:] = [s for s in HELD if s is not stack]
        elif now >= stack.rig_hold.until:
            end_hold(stack)


def extend_stack_holds() -> None:  # noqa: C901 - every stack operation, in one place
    """`hold`: CreateStack, UpdateStack, ExecuteChangeSet and DeleteStack requests show their
    in-progress status for the stack's hold (not the nested stacks they make); CreateChangeSet's
    DeploymentConfig (EXPRESS: the hold times `express_factor`), which ExecuteChangeSet's
    DisableRollback may not contradict."""
    from moto.cloudformation import models as cfm
    from moto.cloudformation import responses as cfr
    from moto.cloudformation.exceptions import ValidationError
    from moto.core.responses import EmptyResult

    def live(backend, name_or_id):
        return backend.stacks.get(name_or_id) or next(
            (s for s in backend.stacks.values() if s.name == name_or_id), None
        )

    def held(status, handler):
        """The API handler of an operation on StackName, which then shows `status` for the hold."""
        def wrapped(self):
            backend, name = self.cloudformation_backend, self._get_param("StackName")
            stack = live(backend, name)
            if stack is not None and "rig_hold" in stack.__dict__ and status == "DELETE_IN_PROGRESS":
                if stack.status == "DELETE_IN_PROGRESS":
                    return EmptyResult()  # AWS: already being deleted
                end_hold(stack)  # AWS cancels the operation in progress; here it has ended already
            since = len(stack.events) if stack is not None else 0
            result = handler(self)
            stack = stack or live(backend, name)
            if stack is not None:
                hold_stack(backend, stack, since, status, FAULTS.hold_for(stack.name))
            return result

        return wrapped

    api = cfr.CloudFormationResponse
    api.create_stack = held("CREATE_IN_PROGRESS", api.create_stack)
    api.update_stack = held("UPDATE_IN_PROGRESS", api.update_stack)  # refused while held (check_updatable, 3)
    api.delete_stack = held("DELETE_IN_PROGRESS", api.delete_stack)

    # AWS shows a stack's outputs once it is created.
    shown_outputs = cfm.Stack.outputs.fget
    cfm.Stack.outputs = property(
        lambda s: None if s.status == "CREATE_IN_PROGRESS" and "rig_hold" in s.__dict__ else shown_outputs(s)
    )

    plain_create_change_set = api.create_change_set

    def create_change_set(self):
        """CreateChangeSet keeps its DeploymentConfig (moto dropped it); DescribeChangeSet shows it."""
        config = self._get_param("DeploymentConfig") or {}
        if config.get("Mode") not in (None, "STANDARD", "EXPRESS"):
            raise ValidationError(
                message=f"1 validation error detected: Value '{config['Mode']}' at 'deploymentConfig.mode' failed "
                "to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
            )
        result = plain_create_change_set(self)
        if config:
            change_set = self.cloudformation_backend.change_sets[result.result["Id"]]
            change_set.deployment_config = {k: config[k] for k in ("Mode", "DisableRollback") if k in config}
        return result

    def execute_change_set(self):
        """ExecuteChangeSet: refused while the stack is held; DisableRollback belongs in the change
        set's DeploymentConfig if it has one; the stack then shows in progress for its hold (times
        `express_factor` in EXPRESS mode)."""
        backend = self.cloudformation_backend
        name, stack_name = self._get_param("ChangeSetName"), self._get_param("StackName")
        change_set = backend.describe_change_set(name, stack_name)
        config, stack = getattr(change_set, "deployment_config", None), change_set.stack
        if self._get_param("DisableRollback") is not None and config:
            raise ValidationError(
                message="DisableRollback cannot be specified on ExecuteChangeSet when the change set has a "
                "DeploymentConfig; set it in DeploymentConfig."
            )
        if "rig_hold" in stack.__dict__:  # AWS: an operation is in progress
            raise ValidationError(message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")
        since = len(stack.events)
        backend.execute_change_set(name, stack_name)
        mode = (config or {}).get("Mode") or "STANDARD"
        FAULTS.record_mode(stack.name, mode)
        if config:  # the stack reports the DeploymentConfig of its last change set
            stack.deployment_config = dict(config)
        else:
            stack.__dict__.pop("deployment_config", None)
        status = "CREATE_IN_PROGRESS" if change_set.change_set_type == "CREATE" else "UPDATE_IN_PROGRESS"
        hold_stack(backend, stack, since, status, FAULTS.hold_for(stack.name, express=mode == "EXPRESS"))
        return EmptyResult()

    api.create_change_set = create_change_set
    api.execute_change_set = execute_change_set


def serve(host: str, port: int) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    os.environ.setdefault("MOTO_PORT", str(port))
    local = "127.0.0.1" if host in ("", "0.0.0.0", "localhost") else host
    _server["endpoint"] = f"http://{'[' + local + ']' if ':' in local else local}:{port}"
    server = make_server(host, port, FaultLayer(OneAtATime(DomainDispatcherApplication(create_backend_app))),
                         threaded=True,
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

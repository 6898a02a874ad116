"""rig's local AWS: the pinned moto server plus the small extensions rig's tests rely on.

Usage: python rig_moto.py --host 127.0.0.1 --port N
Applies the extensions described in README.md (next to this file), then serves moto in the
foreground and prints one line "rig-moto ready on http://HOST:PORT" once the socket listens.
"""

import argparse
import importlib.metadata
import json
import os
import re
import secrets
import signal
import string
import sys
import threading
import uuid

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
        return changes, new_map

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


def exit_when_stdin_closes() -> None:
    """For harnesses: the server goes away with the process that started it, even if that one is killed."""

    def watch():
        while sys.stdin.buffer.read(4096):
            pass
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def serve(host: str, port: int) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    os.environ.setdefault("MOTO_PORT", str(port))
    server = make_server(host, port, DomainDispatcherApplication(create_backend_app), threaded=True,
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

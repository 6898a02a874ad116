"""Self-check of rig_moto.py: starts the launcher on a free port and exercises every extension
(see README.md) with boto3. Run: .venv/bin/python tests/support/moto/test_rig_moto.py
Exits non-zero on failure; prints start-up and scenario timings."""

import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid
import zipfile

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rig_moto.py")
TIMINGS = {}

# Test copies of the shapes rig's templates use (see templates/README.md).
FOUNDATION = r"""
AWSTemplateFormatVersion: "2010-09-09"
Description: rig foundation (test copy)
Parameters:
  Environment: {Type: String}
  ProjectName: {Type: String}
  EmailAddress: {Type: String, Default: ""}
  VpcCidr: {Type: String, Default: 10.20.0.0/16}
  AppBucketName: {Type: String}
  DomainCertArn: {Type: String, Default: "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"}
Conditions:
  HasEmail: !Not [!Equals [!Ref EmailAddress, ""]]
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: !Ref VpcCidr
      EnableDnsSupport: true
      EnableDnsHostnames: true
      Tags: [{Key: Name, Value: !Sub "${AWS::StackName}-vpc"}]
  Igw:
    Type: AWS::EC2::InternetGateway
  IgwAttachment:
    Type: AWS::EC2::VPCGatewayAttachment
    Properties: {VpcId: !Ref Vpc, InternetGatewayId: !Ref Igw}
  PublicSubnetA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.20.0.0/24, AvailabilityZone: !Select [0, !GetAZs ""], MapPublicIpOnLaunch: true}
  PublicSubnetB:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.20.1.0/24, AvailabilityZone: !Select [1, !GetAZs ""], MapPublicIpOnLaunch: true}
  PrivateSubnetA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.20.10.0/24, AvailabilityZone: !Select [0, !GetAZs ""]}
  PrivateSubnetB:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.20.11.0/24, AvailabilityZone: !Select [1, !GetAZs ""]}
  DatabaseSubnetA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.20.20.0/24, AvailabilityZone: !Select [0, !GetAZs ""]}
  DatabaseSubnetB:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.20.21.0/24, AvailabilityZone: !Select [1, !GetAZs ""]}
  NatEipA:
    Type: AWS::EC2::EIP
    DependsOn: IgwAttachment
    Properties: {Domain: vpc}
  NatEipB:
    Type: AWS::EC2::EIP
    DependsOn: IgwAttachment
    Properties: {Domain: vpc}
  NatA:
    Type: AWS::EC2::NatGateway
    Properties: {AllocationId: !GetAtt NatEipA.AllocationId, SubnetId: !Ref PublicSubnetA}
  NatB:
    Type: AWS::EC2::NatGateway
    Properties: {AllocationId: !GetAtt NatEipB.AllocationId, SubnetId: !Ref PublicSubnetB}
  PublicRouteTable:
    Type: AWS::EC2::RouteTable
    Properties: {VpcId: !Ref Vpc}
  PublicRoute:
    Type: AWS::EC2::Route
    DependsOn: IgwAttachment
    Properties: {RouteTableId: !Ref PublicRouteTable, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Igw}
  PublicSubnetARoutes:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref PublicSubnetA, RouteTableId: !Ref PublicRouteTable}
  PublicSubnetBRoutes:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref PublicSubnetB, RouteTableId: !Ref PublicRouteTable}
  PrivateRouteTableA:
    Type: AWS::EC2::RouteTable
    Properties: {VpcId: !Ref Vpc}
  PrivateRouteA:
    Type: AWS::EC2::Route
    Properties: {RouteTableId: !Ref PrivateRouteTableA, DestinationCidrBlock: 0.0.0.0/0, NatGatewayId: !Ref NatA}
  PrivateRouteTableB:
    Type: AWS::EC2::RouteTable
    Properties: {VpcId: !Ref Vpc}
  PrivateRouteB:
    Type: AWS::EC2::Route
    Properties: {RouteTableId: !Ref PrivateRouteTableB, DestinationCidrBlock: 0.0.0.0/0, NatGatewayId: !Ref NatB}
  PrivateSubnetARoutes:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref PrivateSubnetA, RouteTableId: !Ref PrivateRouteTableA}
  PrivateSubnetBRoutes:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref PrivateSubnetB, RouteTableId: !Ref PrivateRouteTableB}
  DatabaseSubnetARoutes:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref DatabaseSubnetA, RouteTableId: !Ref PrivateRouteTableA}
  DatabaseSubnetBRoutes:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref DatabaseSubnetB, RouteTableId: !Ref PrivateRouteTableB}
  AlbSecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: ALB
      VpcId: !Ref Vpc
      SecurityGroupIngress:
        - {IpProtocol: tcp, FromPort: 80, ToPort: 80, CidrIp: 0.0.0.0/0}
        - {IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 0.0.0.0/0}
  AppSecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: apps
      VpcId: !Ref Vpc
      SecurityGroupIngress:
        - {IpProtocol: tcp, FromPort: 1024, ToPort: 65535, SourceSecurityGroupId: !Ref AlbSecurityGroup}
  Alb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Scheme: internet-facing
      Subnets: [!Ref PublicSubnetA, !Ref PublicSubnetB]
      SecurityGroups: [!Ref AlbSecurityGroup]
  HttpListener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Alb
      Port: 80
      Protocol: HTTP
      DefaultActions:
        - Type: redirect
          RedirectConfig: {Protocol: HTTPS, Port: "443", StatusCode: HTTP_301}
  HttpsListener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Alb
      Port: 443
      Protocol: HTTPS
      SslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06
      Certificates: [{CertificateArn: !Ref DomainCertArn}]
      DefaultActions:
        - Type: fixed-response
          FixedResponseConfig: {StatusCode: "404", ContentType: text/plain, MessageBody: not found}
  OperationsTopicKey:
    Type: AWS::KMS::Key
    Properties:
      Description: !Sub "${AWS::StackName} operations topic"
      EnableKeyRotation: true
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Sid: AccountAdmin
            Effect: Allow
            Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            Action: "kms:*"
            Resource: "*"
          - Sid: AlarmsAndEvents
            Effect: Allow
            Principal: {Service: [cloudwatch.amazonaws.com, events.amazonaws.com]}
            Action: ["kms:Decrypt", "kms:GenerateDataKey*"]
            Resource: "*"
  OperationsTopicKeyAlias:
    Type: AWS::KMS::Alias
    Properties: {AliasName: !Sub "alias/${AWS::StackName}-operations", TargetKeyId: !Ref OperationsTopicKey}
  OperationsTopic:
    Type: AWS::SNS::Topic
    Properties: {TopicName: !Ref AWS::StackName, KmsMasterKeyId: !Ref OperationsTopicKey}
  OperationsTopicPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref OperationsTopic]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Sid: AlarmsAndEvents
            Effect: Allow
            Principal: {Service: [cloudwatch.amazonaws.com, events.amazonaws.com]}
            Action: "sns:Publish"
            Resource: !Ref OperationsTopic
            Condition: {StringEquals: {"aws:SourceAccount": !Ref AWS::AccountId}}
  EmailSubscription:
    Type: AWS::SNS::Subscription
    Condition: HasEmail
    Properties: {TopicArn: !Ref OperationsTopic, Protocol: email, Endpoint: !Ref EmailAddress}
  InternalZone:
    Type: AWS::Route53::HostedZone
    Properties:
      Name: !Sub "${ProjectName}.internal"
      VPCs: [{VPCId: !Ref Vpc, VPCRegion: !Ref AWS::Region}]
  AppBucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Ref AppBucketName
      VersioningConfiguration: {Status: Enabled}
      BucketEncryption:
        ServerSideEncryptionConfiguration: [{ServerSideEncryptionByDefault: {SSEAlgorithm: AES256}}]
      PublicAccessBlockConfiguration: {BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true}
  AppBucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref AppBucket
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Sid: TlsOnly
            Effect: Deny
            Principal: "*"
            Action: "s3:*"
            Resource: [!GetAtt AppBucket.Arn, !Sub "${AppBucket.Arn}/*"]
            Condition: {Bool: {"aws:SecureTransport": "false"}}
Outputs:
  VpcId: {Value: !Ref Vpc, Export: {Name: !Sub "${AWS::StackName}--VpcId"}}
  CidrBlock: {Value: !GetAtt Vpc.CidrBlock, Export: {Name: !Sub "${AWS::StackName}--CidrBlock"}}
  SubnetPublicA: {Value: !Ref PublicSubnetA, Export: {Name: !Sub "${AWS::StackName}--SubnetPublicA"}}
  SubnetPublicB: {Value: !Ref PublicSubnetB, Export: {Name: !Sub "${AWS::StackName}--SubnetPublicB"}}
  SubnetPrivateA: {Value: !Ref PrivateSubnetA, Export: {Name: !Sub "${AWS::StackName}--SubnetPrivateA"}}
  SubnetPrivateB: {Value: !Ref PrivateSubnetB, Export: {Name: !Sub "${AWS::StackName}--SubnetPrivateB"}}
  SubnetDatabaseA: {Value: !Ref DatabaseSubnetA, Export: {Name: !Sub "${AWS::StackName}--SubnetDatabaseA"}}
  SubnetDatabaseB: {Value: !Ref DatabaseSubnetB, Export: {Name: !Sub "${AWS::StackName}--SubnetDatabaseB"}}
  InternalDns: {Value: !Ref InternalZone, Export: {Name: !Sub "${AWS::StackName}--InternalDns"}}
  InternalHostedZoneName: {Value: !Sub "${ProjectName}.internal", Export: {Name: !Sub "${AWS::StackName}--InternalHostedZoneName"}}
  AppSecurityGroup: {Value: !Ref AppSecurityGroup, Export: {Name: !Sub "${AWS::StackName}--AppSecurityGroup"}}
  AppBucket: {Value: !Ref AppBucket, Export: {Name: !Sub "${AWS::StackName}--AppBucket"}}
  AlbDnsName: {Value: !GetAtt Alb.DNSName, Export: {Name: !Sub "${AWS::StackName}--ALB--DNSName"}}
  AlbCanonicalHostedZoneId: {Value: !GetAtt Alb.CanonicalHostedZoneID, Export: {Name: !Sub "${AWS::StackName}--ALB--CanonicalHostedZoneID"}}
  HttpListener: {Value: !Ref HttpListener, Export: {Name: !Sub "${AWS::StackName}--ALB--HttpListener"}}
  HttpsListener: {Value: !Ref HttpsListener, Export: {Name: !Sub "${AWS::StackName}--ALB--HttpsListener"}}
  OperationsTopic: {Value: !Ref OperationsTopic, Export: {Name: !Sub "${AWS::StackName}--SNS--Topic"}}
"""

ECS_EC2 = r"""
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Environment: {Type: String}
  FoundationStackName: {Type: String}
  InstanceType: {Type: String, Default: t3.small}
  ClusterSize: {Type: Number, Default: 1}
  ClusterMaxSize: {Type: Number, Default: 4}
  EcsAmiParameter:
    Type: AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>
    Default: /aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id
Resources:
  Cluster:
    Type: AWS::ECS::Cluster
    Properties:
      ClusterName: !Sub "${AWS::StackName}-ECSCluster"
      ClusterSettings: [{Name: containerInsights, Value: enabled}]
  InstanceRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: "sts:AssumeRole"}]
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role
        - arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore
  InstanceProfile:
    Type: AWS::IAM::InstanceProfile
    Properties: {Roles: [!Ref InstanceRole]}
  LaunchTemplate:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateData:
        ImageId: !Ref EcsAmiParameter
        InstanceType: !Ref InstanceType
        IamInstanceProfile: {Arn: !GetAtt InstanceProfile.Arn}
        MetadataOptions: {HttpTokens: required, HttpEndpoint: enabled}
        SecurityGroupIds:
          - Fn::ImportValue: !Sub "${FoundationStackName}--AppSecurityGroup"
        BlockDeviceMappings:
          - DeviceName: /dev/xvda
            Ebs: {VolumeSize: 30, VolumeType: gp3, Encrypted: true}
        UserData:
          Fn::Base64: !Sub |
            #!/bin/bash
            echo ECS_CLUSTER=${Cluster} >> /etc/ecs/ecs.config
  AutoScalingGroup:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      VPCZoneIdentifier:
        - Fn::ImportValue: !Sub "${FoundationStackName}--SubnetPrivateA"
        - Fn::ImportValue: !Sub "${FoundationStackName}--SubnetPrivateB"
      LaunchTemplate:
        LaunchTemplateId: !Ref LaunchTemplate
        Version: !GetAtt LaunchTemplate.LatestVersionNumber
      MinSize: !Ref ClusterSize
      MaxSize: !Ref ClusterMaxSize
      DesiredCapacity: !Ref ClusterSize
  CapacityProvider:
    Type: AWS::ECS::CapacityProvider
    Properties:
      AutoScalingGroupProvider:
        AutoScalingGroupArn: !Ref AutoScalingGroup
        ManagedScaling: {Status: ENABLED, TargetCapacity: 100}
        ManagedTerminationProtection: DISABLED
  ClusterCapacityProviders:
    Type: AWS::ECS::ClusterCapacityProviderAssociations
    Properties:
      Cluster: !Ref Cluster
      CapacityProviders: [!Ref CapacityProvider]
      DefaultCapacityProviderStrategy: [{CapacityProvider: !Ref CapacityProvider, Weight: 1}]
Outputs:
  ClusterName: {Value: !Ref Cluster, Export: {Name: !Sub "${AWS::StackName}--Cluster"}}
  AppSecurityGroup:
    Value: {"Fn::ImportValue": !Sub "${FoundationStackName}--AppSecurityGroup"}
    Export: {Name: !Sub "${AWS::StackName}--AppSecurityGroup"}
  AutoScalingGroupName: {Value: !Ref AutoScalingGroup}
  CapacityProviderName: {Value: !Ref CapacityProvider}
"""

FARGATE = r"""
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Environment: {Type: String}
  FoundationStackName: {Type: String}
  SpotWeight: {Type: Number, Default: 0}
Conditions:
  UseSpot: !Not [!Equals [!Ref SpotWeight, 0]]
Resources:
  Cluster:
    Type: AWS::ECS::Cluster
    Properties:
      ClusterName: !Sub "${AWS::StackName}-ECSCluster"
      ClusterSettings: [{Name: containerInsights, Value: enabled}]
      CapacityProviders: [FARGATE, FARGATE_SPOT]
      DefaultCapacityProviderStrategy:
        - {CapacityProvider: FARGATE, Weight: 1}
        - !If [UseSpot, {CapacityProvider: FARGATE_SPOT, Weight: !Ref SpotWeight}, !Ref AWS::NoValue]
Outputs:
  ClusterName: {Value: !Ref Cluster, Export: {Name: !Sub "${AWS::StackName}--Cluster"}}
  LaunchType: {Value: FARGATE, Export: {Name: !Sub "${AWS::StackName}--LaunchType"}}
"""

AURORA = r"""
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Environment: {Type: String}
  FoundationStackName: {Type: String}
  ProjectName: {Type: String}
  DatabaseName: {Type: String}
  MasterUsername: {Type: String, Default: admin}
  MasterPasswordSource: {Type: String, Default: ssm, AllowedValues: [ssm, managed]}
  MasterPasswordParameter: {Type: String, Default: /rig/db/password}
  EngineVersion: {Type: String, Default: 8.0.mysql_aurora.3.08.0}
  BackupRetentionPeriod: {Type: Number, Default: 1}
  ReaderCount: {Type: String, Default: "0", AllowedValues: ["0", "1"]}
  DeletionProtection: {Type: String, Default: "false", AllowedValues: ["true", "false"]}
  MinCapacity: {Type: Number, Default: 0.5}
  MaxCapacity: {Type: Number, Default: 4}
Conditions:
  UseSsm: !Equals [!Ref MasterPasswordSource, ssm]
  HasReader: !Equals [!Ref ReaderCount, "1"]
Resources:
  SubnetGroup:
    Type: AWS::RDS::DBSubnetGroup
    Properties:
      DBSubnetGroupDescription: !Sub "${AWS::StackName} subnets"
      SubnetIds:
        - Fn::ImportValue: !Sub "${FoundationStackName}--SubnetDatabaseA"
        - Fn::ImportValue: !Sub "${FoundationStackName}--SubnetDatabaseB"
  DatabaseSecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: database
      VpcId: {"Fn::ImportValue": !Sub "${FoundationStackName}--VpcId"}
      SecurityGroupIngress:
        - IpProtocol: tcp
          FromPort: 3306
          ToPort: 3306
          SourceSecurityGroupId: {"Fn::ImportValue": !Sub "${FoundationStackName}--AppSecurityGroup"}
  ClusterParameterGroup:
    Type: AWS::RDS::DBClusterParameterGroup
    Properties:
      Description: !Sub "${AWS::StackName} cluster parameters"
      Family: aurora-mysql8.0
      Parameters: {time_zone: UTC}
  DatabaseCluster:
    Type: AWS::RDS::DBCluster
    DeletionPolicy: Snapshot
    UpdateReplacePolicy: Snapshot
    Properties:
      Engine: aurora-mysql
      EngineVersion: !Ref EngineVersion
      DatabaseName: !Ref DatabaseName
      MasterUsername: !Ref MasterUsername
      MasterUserPassword: !If [UseSsm, !Sub "{{resolve:ssm-secure:${MasterPasswordParameter}}}", !Ref AWS::NoValue]
      ManageMasterUserPassword: !If [UseSsm, !Ref AWS::NoValue, true]
      DBSubnetGroupName: !Ref SubnetGroup
      DBClusterParameterGroupName: !Ref ClusterParameterGroup
      VpcSecurityGroupIds: [!GetAtt DatabaseSecurityGroup.GroupId]
      StorageEncrypted: true
      DeletionProtection: !Ref DeletionProtection
      BackupRetentionPeriod: !Ref BackupRetentionPeriod
      EnableCloudwatchLogsExports: [error, slowquery]
      ServerlessV2ScalingConfiguration: {MinCapacity: !Ref MinCapacity, MaxCapacity: !Ref MaxCapacity}
  WriterInstance:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: aurora-mysql
      EngineVersion: !Ref EngineVersion
      DBClusterIdentifier: !Ref DatabaseCluster
      DBInstanceClass: db.serverless
  ReaderInstance:
    Type: AWS::RDS::DBInstance
    Condition: HasReader
    Properties:
      Engine: aurora-mysql
      EngineVersion: !Ref EngineVersion
      DBClusterIdentifier: !Ref DatabaseCluster
      DBInstanceClass: db.serverless
  DnsRecord:
    Type: AWS::Route53::RecordSet
    Properties:
      HostedZoneId: {"Fn::ImportValue": !Sub "${FoundationStackName}--InternalDns"}
      Name: !Sub "aurora.${ProjectName}.internal"
      Type: CNAME
      TTL: "300"
      ResourceRecords: [!GetAtt DatabaseCluster.Endpoint.Address]
Outputs:
  ClusterIdentifier: {Value: !Ref DatabaseCluster, Export: {Name: !Sub "${AWS::StackName}--ClusterIdentifier"}}
  ClusterEndpoint: {Value: !GetAtt DatabaseCluster.Endpoint.Address, Export: {Name: !Sub "${AWS::StackName}--ClusterEndpoint"}}
  ReaderEndpoint: {Value: !GetAtt DatabaseCluster.ReadEndpoint.Address, Export: {Name: !Sub "${AWS::StackName}--ReaderEndpoint"}}
  Port: {Value: !GetAtt DatabaseCluster.Endpoint.Port, Export: {Name: !Sub "${AWS::StackName}--Port"}}
  DatabaseName: {Value: !Ref DatabaseName, Export: {Name: !Sub "${AWS::StackName}--DatabaseName"}}
  InternalDnsName: {Value: !Ref DnsRecord, Export: {Name: !Sub "${AWS::StackName}--InternalDnsName"}}
  DatabaseSecurityGroup: {Value: !Ref DatabaseSecurityGroup, Export: {Name: !Sub "${AWS::StackName}--DatabaseSecurityGroup"}}
"""

COUCH = r"""
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Environment: {Type: String}
  FoundationStackName: {Type: String}
  ProjectName: {Type: String}
  InstanceType: {Type: String, Default: t3.small}
  AmiParameter:
    Type: AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>
    Default: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64
  DataVolumeSize: {Type: Number, Default: 20}
  BackupBucketName: {Type: String}
Resources:
  DatabaseSecurityGroup:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: couch
      VpcId: {"Fn::ImportValue": !Sub "${FoundationStackName}--VpcId"}
      SecurityGroupIngress:
        - IpProtocol: tcp
          FromPort: 5984
          ToPort: 5984
          SourceSecurityGroupId: {"Fn::ImportValue": !Sub "${FoundationStackName}--AppSecurityGroup"}
  BackupBucket:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    Properties: {BucketName: !Ref BackupBucketName}
  InstanceRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: "sts:AssumeRole"}]
      Policies:
        - PolicyName: backup
          PolicyDocument:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: ["s3:PutObject", "s3:ListBucket"], Resource: [!GetAtt BackupBucket.Arn, !Sub "${BackupBucket.Arn}/*"]}]
  InstanceProfile:
    Type: AWS::IAM::InstanceProfile
    Properties: {Roles: [!Ref InstanceRole]}
  Instance:
    Type: AWS::EC2::Instance
    Properties:
      ImageId: !Ref AmiParameter
      InstanceType: !Ref InstanceType
      IamInstanceProfile: !Ref InstanceProfile
      SubnetId: {"Fn::ImportValue": !Sub "${FoundationStackName}--SubnetDatabaseA"}
      SecurityGroupIds: [!GetAtt DatabaseSecurityGroup.GroupId]
      UserData: {"Fn::Base64": !Sub "#!/bin/bash\necho ${BackupBucket}\n"}
  DataVolume:
    Type: AWS::EC2::Volume
    Properties:
      AvailabilityZone: !GetAtt Instance.AvailabilityZone
      Size: !Ref DataVolumeSize
      VolumeType: gp3
      Encrypted: true
  DataVolumeAttachment:
    Type: AWS::EC2::VolumeAttachment
    Properties: {InstanceId: !Ref Instance, VolumeId: !Ref DataVolume, Device: /dev/sdf}
  DnsRecord:
    Type: AWS::Route53::RecordSet
    Properties:
      HostedZoneId: {"Fn::ImportValue": !Sub "${FoundationStackName}--InternalDns"}
      Name: !Sub "couch.${ProjectName}.internal"
      Type: CNAME
      TTL: "300"
      ResourceRecords: [!GetAtt Instance.PrivateDnsName]
Outputs:
  InstanceId: {Value: !Ref Instance, Export: {Name: !Sub "${AWS::StackName}--InstanceId"}}
  InternalDnsName: {Value: !Ref DnsRecord, Export: {Name: !Sub "${AWS::StackName}--InternalDnsName"}}
  BackupBucket: {Value: !Ref BackupBucket, Export: {Name: !Sub "${AWS::StackName}--BackupBucket"}}
  DataVolume: {Value: !Ref DataVolume}
"""

PIPELINE = r"""
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  RepoName: {Type: String, Default: app}
Resources:
  Repository:
    Type: AWS::ECR::Repository
    Properties: {RepositoryName: !Sub "${AWS::StackName}-ecr-repo"}
  Connection:
    Type: AWS::CodeStarConnections::Connection
    Properties: {ConnectionName: !Sub "${RepoName}-gh", ProviderType: GitHub}
  WebhookSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Sub "${AWS::StackName}-webhook"
      GenerateSecretString: {PasswordLength: 32, ExcludePunctuation: true}
  BuildLogs:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: !Sub "/rig/${AWS::StackName}", RetentionInDays: 7}
  ErrorFilter:
    Type: AWS::Logs::MetricFilter
    Properties:
      LogGroupName: !Ref BuildLogs
      FilterPattern: ERROR
      MetricTransformations: [{MetricName: Errors, MetricNamespace: Rig, MetricValue: "1"}]
  ErrorAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub "${AWS::StackName}-errors"
      MetricName: Errors
      Namespace: Rig
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
  BuildRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: [codebuild.amazonaws.com, codepipeline.amazonaws.com]}, Action: "sts:AssumeRole"}]
  Build:
    Type: AWS::CodeBuild::Project
    Properties:
      Name: !Sub "${AWS::StackName}-build"
      ServiceRole: !GetAtt BuildRole.Arn
      Artifacts: {Type: CODEPIPELINE}
      Environment: {Type: LINUX_CONTAINER, ComputeType: BUILD_GENERAL1_SMALL, Image: "aws/codebuild/standard:7.0"}
      Source: {Type: CODEPIPELINE}
  ArtifactBucket:
    Type: AWS::S3::Bucket
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      RoleArn: !GetAtt BuildRole.Arn
      ArtifactStore: {Type: S3, Location: !Ref ArtifactBucket}
      Stages:
        - Name: Source
          Actions:
            - Name: Source
              ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeStarSourceConnection, Version: "1"}
              Configuration: {ConnectionArn: !Ref Connection, FullRepositoryId: "o/r", BranchName: main}
              OutputArtifacts: [{Name: src}]
        - Name: Build
          Actions:
            - Name: Build
              ActionTypeId: {Category: Build, Owner: AWS, Provider: CodeBuild, Version: "1"}
              Configuration: {ProjectName: !Ref Build}
              InputArtifacts: [{Name: src}]
  Webhook:
    Type: AWS::CodePipeline::Webhook
    Properties:
      Authentication: GITHUB_HMAC
      AuthenticationConfiguration: {SecretToken: !Sub "{{resolve:secretsmanager:${WebhookSecret}}}"}
      Filters: [{JsonPath: "$.ref", MatchEquals: "refs/heads/main"}]
      TargetPipeline: !Ref Pipeline
      TargetAction: Source
      TargetPipelineVersion: !GetAtt Pipeline.Version
  FailRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [aws.codepipeline]}
      Targets: [{Arn: !Ref Topic, Id: topic}]
  Topic:
    Type: AWS::SNS::Topic
Outputs:
  RepositoryUri: {Value: !GetAtt Repository.RepositoryUri}
  RepositoryArn: {Value: !GetAtt Repository.Arn}
  ConnectionArn: {Value: !GetAtt Connection.ConnectionArn}
  SecretArn: {Value: !Ref WebhookSecret}
  BuildProject: {Value: !Ref Build}
  BuildArn: {Value: !GetAtt Build.Arn}
  PipelineName: {Value: !Ref Pipeline}
  WebhookUrl: {Value: !GetAtt Webhook.Url}
  AlarmArn: {Value: !GetAtt ErrorAlarm.Arn}
  FilterName: {Value: !Ref ErrorFilter}
"""

CHANGE_SET_V1 = r"""
Parameters:
  Env: {Type: String}
  Size: {Type: String, Default: small}
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties: {Name: !Sub "/${AWS::StackName}/size", Type: String, Value: !Sub "${Env}-${Size}"}
  Gateway:
    Type: AWS::EC2::InternetGateway
  Bucket:
    Type: AWS::S3::Bucket
  Topic:
    Type: AWS::SNS::Topic
    Properties: {TopicName: !Sub "${AWS::StackName}-${Env}"}
Outputs:
  TopicArn: {Value: !Ref Topic, Export: {Name: !Sub "${AWS::StackName}--Topic"}}
  Setting: {Value: !Ref Setting}
"""

CHANGE_SET_V2 = r"""
Parameters:
  Env: {Type: String}
  Size: {Type: String, Default: small}
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties: {Name: !Sub "/${AWS::StackName}/size", Type: String, Value: !Sub "${Env}-${Size}", Description: v2}
  Gateway:
    Type: AWS::EC2::InternetGateway
  Topic:
    Type: AWS::SNS::Topic
    Properties: {TopicName: !Sub "${AWS::StackName}-${Env}"}
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  TopicArn: {Value: !Ref Topic, Export: {Name: !Sub "${AWS::StackName}--Topic"}}
  QueueUrl: {Value: !Ref Queue, Export: {Name: !Sub "${AWS::StackName}--Queue"}}
"""

FAILING = r"""
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties: {TopicName: rig-rollback-topic}
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: rig-rollback-bucket}
  Broken:
    Type: AWS::EC2::Subnet
    DependsOn: [Topic, Bucket]
    Properties: {VpcId: vpc-0000000000000000f, CidrBlock: 10.99.0.0/24}
"""

PARENT = r"""
Resources:
  Child:
    Type: AWS::CloudFormation::Stack
    Properties: {TemplateURL: https://rig-nested.s3.amazonaws.com/child.yaml}
Outputs:
  ChildTopic: {Value: !GetAtt Child.Outputs.TopicArn}
"""

SMALL = r"""
Resources:
  Topic: {Type: AWS::SNS::Topic}
"""

EXPORTING = r"""
Resources:
  Topic: {Type: AWS::SNS::Topic}
Outputs:
  TopicArn: {Value: !Ref Topic, Export: {Name: !Sub "${AWS::StackName}-topic"}}
"""

PREVIOUS = r"""
Parameters:
  Size: {Type: String}
  Count: {Type: Number, Default: 2}
  Zones: {Type: CommaDelimitedList, Default: "a,b"}
  Ami:
    Type: AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>
    Default: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties: {Name: /rig-prev/size, Type: String, Value: !Sub "${Size}-${Count}"}
  Image:
    Type: AWS::SSM::Parameter
    Properties: {Name: /rig-prev/ami, Type: String, Value: !Ref Ami}
  Zone:
    Type: AWS::SSM::Parameter
    Properties: {Name: /rig-prev/zones, Type: String, Value: !Join [",", !Ref Zones]}
"""

RETAIN = r"""
Resources:
  Topic: {Type: AWS::SNS::Topic}
  Data:
    Type: AWS::S3::Bucket
    Properties: {BucketName: rig-retain-data}
"""

PRIVATE_ZONE = r"""
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.30.0.0/16}
  Zone:
    Type: AWS::Route53::HostedZone
    Properties:
      Name: rig.internal
      VPCs: [{VPCId: !Ref Vpc, VPCRegion: !Ref AWS::Region}]
  Record:
    Type: AWS::Route53::RecordSet
    Properties:
      {HostedZoneId: !Ref Zone, Name: db.rig.internal, Type: CNAME, TTL: "60", ResourceRecords: [db.example.com]}
Outputs:
  ZoneId: {Value: !Ref Zone}
"""

REPOSITORIES = r"""
Resources:
  Repository:
    Type: AWS::ECR::Repository
    Properties: {RepositoryName: rig-repo}
  Emptied:
    Type: AWS::ECR::Repository
    Properties: {RepositoryName: rig-repo-emptied, EmptyOnDelete: true}
"""

BUCKETS = r"""
Resources:
  Data:
    Type: AWS::S3::Bucket
    Properties: {BucketName: rig-data}
  Kept:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    Properties: {BucketName: rig-kept}
"""


# The application stack (templates/app.yaml's shapes; the planner's environment and secrets inserted).
APP = r"""
AWSTemplateFormatVersion: "2010-09-09"
Description: rig application (test copy of templates/app.yaml, with what the planner inserts)
Parameters:
  Environment: {Type: String}
  AppName: {Type: String}
  FoundationStackName: {Type: String}
  ComputeStackName: {Type: String}
  LaunchType: {Type: String, AllowedValues: [FARGATE, EC2]}
  ContainerImage: {Type: String, MinLength: 1}
  ContainerPort: {Type: Number, MinValue: 1, MaxValue: 65535}
  ContainerCpu: {Type: Number}
  ContainerMemory: {Type: Number}
  TaskDesiredCount: {Type: Number, MinValue: 0}
  HealthCheckPath: {Type: String, Default: /}
  HealthCheckGracePeriodSeconds: {Type: Number, Default: 60}
  ListenerRulePriority: {Type: Number, MinValue: 1, MaxValue: 25000}
  PreferredListenerRulePriority: {Type: Number, MinValue: 25001, MaxValue: 50000}
  HostName: {Type: String}
  PreferredHostName: {Type: String, Default: ""}
  HostedZoneId: {Type: String}
  SsmEnvironmentNamespace: {Type: String}
  IamPath: {Type: String}
  LogRetentionInDays:
    Type: Number
    Default: 60
    AllowedValues: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]
  ErrorAlarm: {Type: String, AllowedValues: ["true", "false"]}
  AutoScalingMaxCapacity: {Type: Number, Default: 0}
  AutoScalingMinCapacity: {Type: Number, Default: 1}
  AutoScalingCpuTarget: {Type: Number, Default: 60}
  CircuitBreakerFailureThreshold: {Type: Number, Default: 3}
Conditions:
  HasPreferredHost: !Not [!Equals [!Ref PreferredHostName, ""]]
  HasAutoScaling: !Not [!Equals [!Ref AutoScalingMaxCapacity, "0"]]
  HasErrorAlarm: !Equals [!Ref ErrorAlarm, "true"]
  IsFargate: !Equals [!Ref LaunchType, FARGATE]
Resources:
  TargetGroup:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      VpcId: {"Fn::ImportValue": !Sub "${FoundationStackName}--VpcId"}
      TargetType: ip
      Protocol: HTTP
      ProtocolVersion: HTTP1
      Port: !Ref ContainerPort
      HealthCheckEnabled: true
      HealthCheckProtocol: HTTP
      HealthCheckPath: !Ref HealthCheckPath
      HealthCheckIntervalSeconds: 10
      HealthCheckTimeoutSeconds: 5
      HealthyThresholdCount: 2
      UnhealthyThresholdCount: 3
      Matcher: {HttpCode: 200-399}
      TargetGroupAttributes: [{Key: deregistration_delay.timeout_seconds, Value: "30"}]
      Tags: [{Key: Name, Value: !Sub "${AWS::StackName}-tg"}]
  ListenerRule:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: {"Fn::ImportValue": !Sub "${FoundationStackName}--ALB--HttpsListener"}
      Priority: !Ref ListenerRulePriority
      Conditions: [{Field: host-header, HostHeaderConfig: {Values: [!Ref HostName]}}]
      Actions: [{Type: forward, TargetGroupArn: !Ref TargetGroup}]
  PreferredListenerRule:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Condition: HasPreferredHost
    Properties:
      ListenerArn: {"Fn::ImportValue": !Sub "${FoundationStackName}--ALB--HttpsListener"}
      Priority: !Ref PreferredListenerRulePriority
      Conditions: [{Field: host-header, HostHeaderConfig: {Values: [!Ref PreferredHostName]}}]
      Actions: [{Type: forward, TargetGroupArn: !Ref TargetGroup}]
  DnsRecord:
    Type: AWS::Route53::RecordSet
    Properties:
      HostedZoneId: !Ref HostedZoneId
      Name: !Ref HostName
      Type: A
      AliasTarget:
        DNSName: {"Fn::ImportValue": !Sub "${FoundationStackName}--ALB--DNSName"}
        HostedZoneId: {"Fn::ImportValue": !Sub "${FoundationStackName}--ALB--CanonicalHostedZoneID"}
        EvaluateTargetHealth: false
  PreferredDnsRecord:
    Type: AWS::Route53::RecordSet
    Condition: HasPreferredHost
    Properties:
      HostedZoneId: !Ref HostedZoneId
      Name: !Ref PreferredHostName
      Type: A
      AliasTarget:
        DNSName: {"Fn::ImportValue": !Sub "${FoundationStackName}--ALB--DNSName"}
        HostedZoneId: {"Fn::ImportValue": !Sub "${FoundationStackName}--ALB--CanonicalHostedZoneID"}
        EvaluateTargetHealth: false
  LogGroup:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      LogGroupName: !Ref AWS::StackName
      RetentionInDays: !Ref LogRetentionInDays
      Tags: [{Key: Name, Value: !Ref AWS::StackName}]
  ExecutionRole:
    Type: AWS::IAM::Role
    Properties:
      Description: !Sub "ECS task execution role of ${AWS::StackName}"
      Path: !Ref IamPath
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: ecs-tasks.amazonaws.com}
            Action: sts:AssumeRole
            Condition: {StringEquals: {"aws:SourceAccount": !Ref AWS::AccountId}}
      ManagedPolicyArns: [!Sub "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]
      Policies:
        - PolicyName: secrets
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: ssm:GetParameters
                Resource: !Sub "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SsmEnvironmentNamespace}/*"
      Tags: [{Key: Name, Value: !Sub "${AWS::StackName}-execution"}]
  TaskRole:
    Type: AWS::IAM::Role
    Properties:
      Description: !Sub "ECS task role of ${AWS::StackName}"
      Path: !Ref IamPath
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: ecs-tasks.amazonaws.com}
            Action: sts:AssumeRole
            Condition: {StringEquals: {"aws:SourceAccount": !Ref AWS::AccountId}}
      Policies:
        - PolicyName: parameters
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [ssm:GetParameters, ssm:GetParametersByPath]
                Resource:
                  - !Sub "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SsmEnvironmentNamespace}"
                  - !Sub "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SsmEnvironmentNamespace}/*"
      Tags: [{Key: Name, Value: !Sub "${AWS::StackName}-task"}]
  TaskDefinition:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: !Ref AWS::StackName
      Cpu: !Ref ContainerCpu
      Memory: !Ref ContainerMemory
      NetworkMode: awsvpc
      RequiresCompatibilities: [!Ref LaunchType]
      ExecutionRoleArn: !GetAtt ExecutionRole.Arn
      TaskRoleArn: !GetAtt TaskRole.Arn
      ContainerDefinitions:
        - Name: !Ref AppName
          Image: !Ref ContainerImage
          Essential: true
          PortMappings: [{ContainerPort: !Ref ContainerPort, Protocol: tcp}]
          LogConfiguration:
            LogDriver: awslogs
            Options:
              awslogs-group: !Ref LogGroup
              awslogs-region: !Ref AWS::Region
              awslogs-stream-prefix: !Ref AppName
          Environment:
            - {Name: APP_ENVIRONMENT, Value: !Ref Environment}
            - {Name: AWS_REGION, Value: !Ref AWS::Region}
            - {Name: AWS_ENV_PATH, Value: !Ref SsmEnvironmentNamespace}
            - {Name: IMAGE, Value: !Ref ContainerImage}
            # rig:environment
            - {Name: LOG_LEVEL, Value: info}
          # rig:secrets
          Secrets:
            - Name: STRIPE_KEY
              ValueFrom: !Sub "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SsmEnvironmentNamespace}/STRIPE_KEY"
      Tags: [{Key: Name, Value: !Ref AWS::StackName}]
  Service:
    Type: AWS::ECS::Service
    DependsOn: ListenerRule
    Properties:
      Cluster: {"Fn::ImportValue": !Sub "${ComputeStackName}--Cluster"}
      PlatformVersion: !If [IsFargate, LATEST, !Ref AWS::NoValue]
      TaskDefinition: !Ref TaskDefinition
      DesiredCount: !Ref TaskDesiredCount
      HealthCheckGracePeriodSeconds: !Ref HealthCheckGracePeriodSeconds
      DeploymentController: {Type: ECS}
      DeploymentConfiguration:
        MaximumPercent: 200
        MinimumHealthyPercent: 100
        DeploymentCircuitBreaker:
          Enable: true
          Rollback: true
          ThresholdConfiguration: {Type: COUNT, Value: !Ref CircuitBreakerFailureThreshold}
      NetworkConfiguration:
        AwsvpcConfiguration:
          AssignPublicIp: DISABLED
          Subnets:
            - {"Fn::ImportValue": !Sub "${FoundationStackName}--SubnetPrivateA"}
            - {"Fn::ImportValue": !Sub "${FoundationStackName}--SubnetPrivateB"}
          SecurityGroups: [{"Fn::ImportValue": !Sub "${FoundationStackName}--AppSecurityGroup"}]
      LoadBalancers:
        - {ContainerName: !Ref AppName, ContainerPort: !Ref ContainerPort, TargetGroupArn: !Ref TargetGroup}
      PropagateTags: SERVICE
      EnableECSManagedTags: true
      Tags: [{Key: Name, Value: !Ref AWS::StackName}]
  ScalableTarget:
    Type: AWS::ApplicationAutoScaling::ScalableTarget
    Condition: HasAutoScaling
    Properties:
      ServiceNamespace: ecs
      ScalableDimension: ecs:service:DesiredCount
      ResourceId: !Sub
        - "service/${Cluster}/${ServiceName}"
        - Cluster: {"Fn::ImportValue": !Sub "${ComputeStackName}--Cluster"}
          ServiceName: !GetAtt Service.Name
      MinCapacity: !Ref AutoScalingMinCapacity
      MaxCapacity: !Ref AutoScalingMaxCapacity
  ScalingPolicy:
    Type: AWS::ApplicationAutoScaling::ScalingPolicy
    Condition: HasAutoScaling
    Properties:
      PolicyName: !Sub "${AWS::StackName}-cpu"
      PolicyType: TargetTrackingScaling
      ScalingTargetId: !Ref ScalableTarget
      TargetTrackingScalingPolicyConfiguration:
        PredefinedMetricSpecification: {PredefinedMetricType: ECSServiceAverageCPUUtilization}
        TargetValue: !Ref AutoScalingCpuTarget
        ScaleOutCooldown: 60
        ScaleInCooldown: 300
  ErrorMetricFilter:
    Type: AWS::Logs::MetricFilter
    Condition: HasErrorAlarm
    Properties:
      LogGroupName: !Ref LogGroup
      FilterPattern: ERROR
      MetricTransformations:
        - {MetricNamespace: Rig/Application, MetricName: !Sub "${AWS::StackName}-errors", MetricValue: "1", Unit: Count}
  ErrorLogAlarm:
    Type: AWS::CloudWatch::Alarm
    Condition: HasErrorAlarm
    DependsOn: ErrorMetricFilter
    Properties:
      Namespace: Rig/Application
      MetricName: !Sub "${AWS::StackName}-errors"
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
      AlarmActions: [{"Fn::ImportValue": !Sub "${FoundationStackName}--SNS--Topic"}]
Outputs:
  ApplicationUrl: {Value: !Sub "https://${HostName}"}
  PreferredApplicationUrl: {Condition: HasPreferredHost, Value: !Sub "https://${PreferredHostName}"}
  ClusterName: {Value: {"Fn::ImportValue": !Sub "${ComputeStackName}--Cluster"}}
  ServiceName: {Value: !GetAtt Service.Name}
  ServiceArn: {Value: !Ref Service}
  TaskDefinitionArn: {Value: !Ref TaskDefinition}
  TargetGroupArn: {Value: !Ref TargetGroup}
  LogGroupName: {Value: !Ref LogGroup}
  ContainerImage: {Value: !Ref ContainerImage}
"""

# A task definition whose awslogs group does not exist: no log lines are written, no group created.
NO_LOG_GROUP = r"""
Parameters:
  ComputeStackName: {Type: String}
  FoundationStackName: {Type: String}
Resources:
  TaskDefinition:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: rig-nolog
      Cpu: "256"
      Memory: "512"
      NetworkMode: awsvpc
      RequiresCompatibilities: [FARGATE]
      ContainerDefinitions:
        - Name: app
          Image: nginx:1.27
          LogConfiguration:
            LogDriver: awslogs
            Options: {awslogs-group: rig-missing-group, awslogs-region: us-east-1, awslogs-stream-prefix: app}
  Service:
    Type: AWS::ECS::Service
    Properties:
      Cluster: {"Fn::ImportValue": !Sub "${ComputeStackName}--Cluster"}
      LaunchType: FARGATE
      TaskDefinition: !Ref TaskDefinition
      DesiredCount: 1
      NetworkConfiguration:
        AwsvpcConfiguration:
          Subnets: [{"Fn::ImportValue": !Sub "${FoundationStackName}--SubnetPrivateA"}]
          SecurityGroups: [{"Fn::ImportValue": !Sub "${FoundationStackName}--AppSecurityGroup"}]
"""

# The release pipeline (the shape of templates/pipeline.yaml: a V2 pipeline in SUPERSEDED mode whose
# Source stage has the repository and an S3 template source per environment).
RELEASE_PIPELINE = r"""
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  ArtifactBucketName: {Type: String}
  TemplateBucketName: {Type: String}
  ConnectionArn: {Type: String, Default: ""}
  ApprovalTopicArn: {Type: String, Default: ""}
  CustomData: {Type: String, Default: "Review the production change set, then approve."}
Conditions:
  HasConnection: !Not [!Equals [!Ref ConnectionArn, ""]]
  HasApprovalTopic: !Not [!Equals [!Ref ApprovalTopicArn, ""]]
Resources:
  EcrRepository:
    Type: AWS::ECR::Repository
    Properties: {RepositoryName: o-p-api-main-ecr-repo, ImageTagMutability: IMMUTABLE}
  CodeBuildRole:
    Type: AWS::IAM::Role
    Properties:
      Path: /rig/build/
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: codebuild.amazonaws.com}, Action: "sts:AssumeRole"}]
  CodeBuildProject:
    Type: AWS::CodeBuild::Project
    Properties:
      Name: o-p-api-main-build
      ServiceRole: !GetAtt CodeBuildRole.Arn
      Source: {Type: CODEPIPELINE, BuildSpec: buildspec.yml}
      Artifacts: {Type: CODEPIPELINE}
      Environment:
        Type: LINUX_CONTAINER
        ComputeType: BUILD_GENERAL1_SMALL
        Image: aws/codebuild/amazonlinux-x86_64-standard:5.0
        PrivilegedMode: true
        EnvironmentVariables:
          - {Name: REPOSITORY_URI, Value: !Sub "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${EcrRepository}"}
          - {Name: BRANCH, Value: main}
      TimeoutInMinutes: 60
  CloudFormationExecutionRole:
    Type: AWS::IAM::Role
    Properties:
      Path: /rig/build/
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: cloudformation.amazonaws.com}, Action: "sts:AssumeRole"}]
  CodePipelineRole:
    Type: AWS::IAM::Role
    Properties:
      Path: /rig/build/
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: codepipeline.amazonaws.com}
            Action: "sts:AssumeRole"
            Condition: {StringEquals: {"aws:SourceAccount": !Ref AWS::AccountId}}
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: !Ref AWS::StackName
      PipelineType: V2
      ExecutionMode: SUPERSEDED
      RoleArn: !GetAtt CodePipelineRole.Arn
      RestartExecutionOnUpdate: false
      ArtifactStore: {Type: S3, Location: !Ref ArtifactBucketName}
      Stages:
        - Name: Source
          Actions:
            - !If
              - HasConnection
              - Name: Source
                ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeStarSourceConnection, Version: "1"}
                Configuration: {ConnectionArn: !Ref ConnectionArn, FullRepositoryId: o/api, BranchName: main,
                                OutputArtifactFormat: CODE_ZIP, DetectChanges: true}
                OutputArtifacts: [{Name: SourceOutput}]
                RunOrder: 1
              - Name: Source
                ActionTypeId: {Category: Source, Owner: ThirdParty, Provider: GitHub, Version: "1"}
                Configuration: {Owner: o, Repo: api, Branch: main, OAuthToken: not-a-token, PollForSourceChanges: true}
                OutputArtifacts: [{Name: SourceOutput}]
                RunOrder: 1
            - Name: IntegrationTemplate
              ActionTypeId: {Category: Source, Owner: AWS, Provider: S3, Version: "1"}
              Configuration: {S3Bucket: !Ref TemplateBucketName, S3ObjectKey: integration/app.zip, PollForSourceChanges: "false"}
              OutputArtifacts: [{Name: IntegrationTemplate}]
            - Name: StagingTemplate
              ActionTypeId: {Category: Source, Owner: AWS, Provider: S3, Version: "1"}
              Configuration: {S3Bucket: !Ref TemplateBucketName, S3ObjectKey: staging/app.zip, PollForSourceChanges: "false"}
              OutputArtifacts: [{Name: StagingTemplate}]
            - Name: ProductionTemplate
              ActionTypeId: {Category: Source, Owner: AWS, Provider: S3, Version: "1"}
              Configuration: {S3Bucket: !Ref TemplateBucketName, S3ObjectKey: production/app.zip, PollForSourceChanges: "false"}
              OutputArtifacts: [{Name: ProductionTemplate}]
        - Name: Build
          Actions:
            - Name: Build
              ActionTypeId: {Category: Build, Owner: AWS, Provider: CodeBuild, Version: "1"}
              Configuration: {ProjectName: !Ref CodeBuildProject}
              InputArtifacts: [{Name: SourceOutput}]
              OutputArtifacts: [{Name: BuildOutput}]
        - Name: Deploy-Integration
          Actions:
            - Name: Deploy
              ActionTypeId: {Category: Deploy, Owner: AWS, Provider: CloudFormation, Version: "1"}
              Configuration:
                ActionMode: CREATE_UPDATE
                StackName: o-p-integration-app-api
                TemplatePath: IntegrationTemplate::app.yaml
                TemplateConfiguration: IntegrationTemplate::config.json
                ParameterOverrides: '{"ContainerImage": {"Fn::GetParam": ["BuildOutput", "build.json", "image"]}}'
                Capabilities: CAPABILITY_IAM,CAPABILITY_NAMED_IAM
                RoleArn: !GetAtt CloudFormationExecutionRole.Arn
              InputArtifacts: [{Name: IntegrationTemplate}, {Name: BuildOutput}]
        - Name: Deploy-Staging
          Actions:
            - Name: Deploy
              ActionTypeId: {Category: Deploy, Owner: AWS, Provider: CloudFormation, Version: "1"}
              Configuration:
                ActionMode: CREATE_UPDATE
                StackName: o-p-staging-app-api
                TemplatePath: StagingTemplate::app.yaml
                TemplateConfiguration: StagingTemplate::config.json
                ParameterOverrides: '{"ContainerImage": {"Fn::GetParam": ["BuildOutput", "build.json", "image"]}}'
                Capabilities: CAPABILITY_IAM,CAPABILITY_NAMED_IAM
                RoleArn: !GetAtt CloudFormationExecutionRole.Arn
              InputArtifacts: [{Name: StagingTemplate}, {Name: BuildOutput}]
        - Name: Approve
          Actions:
            - Name: CreateChangeSet
              ActionTypeId: {Category: Deploy, Owner: AWS, Provider: CloudFormation, Version: "1"}
              Configuration:
                ActionMode: CHANGE_SET_REPLACE
                StackName: o-p-production-app-api
                ChangeSetName: o-p-production-app-api
                TemplatePath: ProductionTemplate::app.yaml
                TemplateConfiguration: ProductionTemplate::config.json
                ParameterOverrides: '{"ContainerImage": {"Fn::GetParam": ["BuildOutput", "build.json", "image"]}}'
                Capabilities: CAPABILITY_IAM,CAPABILITY_NAMED_IAM
                RoleArn: !GetAtt CloudFormationExecutionRole.Arn
              InputArtifacts: [{Name: ProductionTemplate}, {Name: BuildOutput}]
              RunOrder: 1
            - Name: ApproveChangeSet
              ActionTypeId: {Category: Approval, Owner: AWS, Provider: Manual, Version: "1"}
              Configuration:
                CustomData: !Ref CustomData
                NotificationArn: !If [HasApprovalTopic, !Ref ApprovalTopicArn, !Ref AWS::NoValue]
              RunOrder: 2
        - Name: Deploy-Production
          Actions:
            - Name: ExecuteChangeSet
              ActionTypeId: {Category: Deploy, Owner: AWS, Provider: CloudFormation, Version: "1"}
              Configuration:
                ActionMode: CHANGE_SET_EXECUTE
                StackName: o-p-production-app-api
                ChangeSetName: o-p-production-app-api
      Tags: [{Key: Name, Value: !Ref AWS::StackName}]
Outputs:
  PipelineName: {Value: !Ref Pipeline}
  PipelineVersion: {Value: !GetAtt Pipeline.Version}
  RepositoryUri: {Value: !Sub "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${EcrRepository}"}
  BuildProject: {Value: !Ref CodeBuildProject}
  BuildProjectArn: {Value: !GetAtt CodeBuildProject.Arn}
"""

# A short pipeline for the execution rules and the CloudFormation action modes: an S3 source, an
# optional approval, a CloudFormation action.
RELEASE_SHORT = r"""
Parameters:
  SourceBucket: {Type: String, Default: rig-short-source}
  ActionMode: {Type: String, Default: CREATE_UPDATE}
  WithApproval: {Type: String, Default: "true"}
  ExecutionMode: {Type: String, Default: SUPERSEDED}
  Overrides: {Type: String, Default: '{"Name": "from-override", "Key": {"Fn::GetArtifactAtt": ["Src", "ObjectKey"]}}'}
Conditions:
  HasApproval: !Equals [!Ref WithApproval, "true"]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: [codepipeline.amazonaws.com, cloudformation.amazonaws.com]}, Action: "sts:AssumeRole"}]
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: rig-short
      PipelineType: V2
      ExecutionMode: !Ref ExecutionMode
      RoleArn: !GetAtt Role.Arn
      ArtifactStore: {Type: S3, Location: rig-short-artifacts}
      Stages:
        - Name: Source
          Actions:
            - Name: Src
              ActionTypeId: {Category: Source, Owner: AWS, Provider: S3, Version: "1"}
              Configuration: {S3Bucket: !Ref SourceBucket, S3ObjectKey: src.zip, PollForSourceChanges: false}
              OutputArtifacts: [{Name: Src}]
        - !If
          - HasApproval
          - Name: Approve
            Actions:
              - Name: Approval
                ActionTypeId: {Category: Approval, Owner: AWS, Provider: Manual, Version: "1"}
                Configuration: {CustomData: Approve the short release}
          - !Ref AWS::NoValue
        - Name: Deploy
          Actions:
            - Name: Stack
              ActionTypeId: {Category: Deploy, Owner: AWS, Provider: CloudFormation, Version: "1"}
              Configuration:
                ActionMode: !Ref ActionMode
                StackName: rig-short-stack
                ChangeSetName: rig-short-change
                TemplatePath: Src::stack.yaml
                TemplateConfiguration: Src::config.json
                ParameterOverrides: !Ref Overrides
                OutputFileName: outputs.json
                RoleArn: !GetAtt Role.Arn
              InputArtifacts: [{Name: Src}]
              OutputArtifacts: [{Name: StackOutputs}]
"""

# What the short pipeline deploys (its Src artifact holds it with a config.json).
RELEASE_SHORT_STACK = r"""
Parameters:
  Name: {Type: String}
  Other: {Type: String, Default: default}
  Key: {Type: String, Default: ""}
  Broken: {Type: String, Default: "false"}
Conditions:
  IsBroken: !Equals [!Ref Broken, "true"]
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties: {TopicName: !Sub "${AWS::StackName}-${Name}-${Other}"}
  Subnet:
    Type: AWS::EC2::Subnet
    Condition: IsBroken
    Properties: {VpcId: vpc-0000000000000000, CidrBlock: 10.9.0.0/24}
Outputs:
  TopicArn: {Value: !Ref Topic}
  Key: {Value: !Ref Key}
"""

# A pipeline whose role CodePipeline may not assume.
RELEASE_UNTRUSTED = r"""
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: codebuild.amazonaws.com}, Action: "sts:AssumeRole"}]
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      RoleArn: !GetAtt Role.Arn
      ArtifactStore: {Type: S3, Location: rig-short-artifacts}
      Stages:
        - Name: Source
          Actions:
            - Name: Src
              ActionTypeId: {Category: Source, Owner: AWS, Provider: S3, Version: "1"}
              Configuration: {S3Bucket: rig-short-source, S3ObjectKey: src.zip}
              OutputArtifacts: [{Name: Src}]
        - Name: Approve
          Actions:
            - Name: Approval
              ActionTypeId: {Category: Approval, Owner: AWS, Provider: Manual, Version: "1"}
"""

COMMIT_1 = "1111111122222222333333334444444455555555"
COMMIT_2 = "aaaaaaaabbbbbbbbccccccccddddddddeeeeeeee"
CRASH_COMMIT = "crash001" + "f" * 32  # its image tag starts with "crash": a crashing image (18)


def zipped(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def unzipped(body):
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def params(**values):
    return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()]


def tags(**values):
    return [{"Key": k, "Value": v} for k, v in values.items()]


def eni_detail(task, name):
    """A detail (privateIPv4Address, networkInterfaceId, ...) of an awsvpc task's ENI attachment."""
    return next(d["value"] for d in task["attachments"][0]["details"] if d["name"] == name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RigMotoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        started = time.monotonic()
        cls.server = subprocess.Popen(
            [sys.executable, LAUNCHER, "--host", "127.0.0.1", "--port", str(cls.port)],
            stdout=subprocess.PIPE, text=True,  # RIG_MOTO_LOG=file keeps the server's log
            stderr=open(os.environ["RIG_MOTO_LOG"], "w") if os.environ.get("RIG_MOTO_LOG") else subprocess.DEVNULL,
            env=dict(os.environ, MOTO_ECS_SERVICE_RUNNING="1"),
        )
        line = cls.server.stdout.readline()
        assert line.startswith("rig-moto ready on http://127.0.0.1:"), line
        TIMINGS["start-up (ready line)"] = time.monotonic() - started
        cls.endpoint = f"http://127.0.0.1:{cls.port}"
        cls.clients = {}

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait(10)

    def client(self, service):
        if service not in self.clients:
            self.clients[service] = boto3.client(
                service, endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}),
            )
        return self.clients[service]

    def setUp(self):
        urllib.request.urlopen(urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST")).read()
        self.cf = self.client("cloudformation")

    # -- helpers ---------------------------------------------------------------------------

    def stack(self, name):
        return self.cf.describe_stacks(StackName=name)["Stacks"][0]

    def outputs(self, name):
        return {o["OutputKey"]: o["OutputValue"] for o in self.stack(name).get("Outputs", [])}

    def events(self, name):
        return self.cf.describe_stack_events(StackName=name)["StackEvents"]

    def create(self, name, body, status="CREATE_COMPLETE", **values):
        self.cf.create_stack(StackName=name, TemplateBody=body, Parameters=params(**values))
        self.assertEqual(self.stack(name)["StackStatus"], status, self.events(name)[:3])

    def delete(self, name, status="DELETE_COMPLETE"):
        stack_id = self.stack(name)["StackId"]
        self.cf.delete_stack(StackName=name)
        self.assertEqual(self.stack(stack_id)["StackStatus"], status, self.events(stack_id)[:3])

    def change_set(self, name, body, kind="UPDATE", stack_tags=None, **values):
        extra = {} if stack_tags is None else {"Tags": tags(**stack_tags)}
        cs = self.cf.create_change_set(StackName=name, ChangeSetName=f"rig-{time.monotonic_ns()}", TemplateBody=body,
                                       ChangeSetType=kind, Parameters=params(**values), **extra)
        return self.cf.describe_change_set(ChangeSetName=cs["Id"])

    def previous_change_set(self, name, **values):
        """UsePreviousTemplate; the given parameters change, every other one is UsePreviousValue."""
        current = [p["ParameterKey"] for p in self.stack(name)["Parameters"]]
        cs = self.cf.create_change_set(
            StackName=name, ChangeSetName=f"rig-{time.monotonic_ns()}", ChangeSetType="UPDATE",
            UsePreviousTemplate=True, Tags=self.stack(name).get("Tags", []),
            Parameters=[{"ParameterKey": k, "ParameterValue": str(values[k])} if k in values
                        else {"ParameterKey": k, "UsePreviousValue": True} for k in current],
        )
        return self.cf.describe_change_set(ChangeSetName=cs["Id"])

    def failed_deletes(self, name):
        return {e["LogicalResourceId"]: e["ResourceStatusReason"]
                for e in reversed(self.events(name)) if e["ResourceStatus"] == "DELETE_FAILED"}

    def statuses(self, name):
        return {(e["LogicalResourceId"], e["ResourceStatus"]) for e in self.events(name)}

    def changes(self, change_set):
        return {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in change_set["Changes"]}

    def cert(self):
        return self.client("acm").request_certificate(DomainName="*.example.com")["CertificateArn"]

    def foundation(self, name="o-p-dev-foundation"):
        self.create(name, FOUNDATION, Environment="dev", ProjectName="proj", AppBucketName="rig-o-p-app-dev",
                    EmailAddress="ops@example.com", DomainCertArn=self.cert())

    def aurora(self, name="o-p-dev-db-aurora", **overrides):
        values = dict(Environment="dev", FoundationStackName="o-p-dev-foundation", ProjectName="proj",
                      DatabaseName="app")
        values.update(overrides)
        self.create(name, AURORA, **values)

    def snapshot(self):
        """Ids of everything a stack teardown must remove (moto's defaults included)."""
        ec2, elb, r53 = self.client("ec2"), self.client("elbv2"), self.client("route53")
        return {
            "vpcs": {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]},
            "subnets": {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]},
            "igws": {i["InternetGatewayId"] for i in ec2.describe_internet_gateways()["InternetGateways"]},
            "nats": {n["NatGatewayId"] for n in ec2.describe_nat_gateways()["NatGateways"]},
            "eips": {a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]},
            "route_tables": {r["RouteTableId"] for r in ec2.describe_route_tables()["RouteTables"]},
            "security_groups": {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]},
            "volumes": {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]},
            "running_instances": {
                i["InstanceId"]
                for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                if i["State"]["Name"] != "terminated"
            },
            "launch_templates": {t["LaunchTemplateId"] for t in ec2.describe_launch_templates()["LaunchTemplates"]},
            "load_balancers": {lb["LoadBalancerArn"] for lb in elb.describe_load_balancers()["LoadBalancers"]},
            "target_groups": {t["TargetGroupArn"] for t in elb.describe_target_groups()["TargetGroups"]},
            "ecs_clusters": set(self.client("ecs").list_clusters()["clusterArns"]),
            "asgs": {g["AutoScalingGroupName"]
                     for g in self.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]},
            "rds_clusters": {c["DBClusterIdentifier"] for c in self.client("rds").describe_db_clusters()["DBClusters"]},
            "rds_instances": {i["DBInstanceIdentifier"]
                              for i in self.client("rds").describe_db_instances()["DBInstances"]},
            "subnet_groups": {g["DBSubnetGroupName"]
                              for g in self.client("rds").describe_db_subnet_groups()["DBSubnetGroups"]},
            "zones": {z["Id"] for z in r53.list_hosted_zones()["HostedZones"]},
            "buckets": {b["Name"] for b in self.client("s3").list_buckets()["Buckets"]},
            "topics": {t["TopicArn"] for t in self.client("sns").list_topics()["Topics"]},
            "roles": {r["RoleName"] for r in self.client("iam").list_roles()["Roles"]},
            "profiles": {p["InstanceProfileName"]
                         for p in self.client("iam").list_instance_profiles()["InstanceProfiles"]},
            "secrets": {s["Name"] for s in self.client("secretsmanager").list_secrets()["SecretList"]},
            "exports": {e["Name"] for e in self.cf.list_exports()["Exports"]},
        }

    # -- the application stack (15-22) --------------------------------------------------------

    APP_STACK = "o-p-dev-app-api"

    def app_environment(self):
        """A public zone (made through the Route 53 API, as for a real domain), the foundation and a
        Fargate compute stack; returns the zone id."""
        zone = self.client("route53").create_hosted_zone(Name="example.com", CallerReference="rig")["HostedZone"]
        self.foundation()
        self.create("o-p-dev-compute-fargate", FARGATE, Environment="dev", FoundationStackName="o-p-dev-foundation")
        return zone["Id"].split("/")[-1]

    def app_values(self, zone, **overrides):
        values = dict(
            Environment="dev", AppName="api", FoundationStackName="o-p-dev-foundation",
            ComputeStackName="o-p-dev-compute-fargate", LaunchType="FARGATE", ContainerImage="nginx:1.27",
            ContainerPort=8080, ContainerCpu=256, ContainerMemory=512, TaskDesiredCount=2,
            HealthCheckPath="/health", ListenerRulePriority=10, PreferredListenerRulePriority=25010,
            HostName="o-dev-api.example.com", PreferredHostName="api.example.com", HostedZoneId=zone,
            SsmEnvironmentNamespace="/o/p/env/dev/app/api", IamPath="/o/p/app/api/", ErrorAlarm="true",
            AutoScalingMaxCapacity=4, AutoScalingMinCapacity=2,
        )
        values.update(overrides)
        return values

    def create_app(self, zone, **overrides):
        """The app stack through a CREATE change set, as rig deploys it; returns its outputs."""
        cs = self.change_set(self.APP_STACK, APP, kind="CREATE", **self.app_values(zone, **overrides))
        self.cf.execute_change_set(ChangeSetName=cs["ChangeSetId"])
        self.assertEqual(self.stack(self.APP_STACK)["StackStatus"], "CREATE_COMPLETE", self.events(self.APP_STACK)[:3])
        return self.outputs(self.APP_STACK)

    def update_app(self, zone, **overrides):
        """An UPDATE change set of the app stack, executed; returns the described change set."""
        cs = self.change_set(self.APP_STACK, APP, **self.app_values(zone, **overrides))
        self.cf.execute_change_set(ChangeSetName=cs["ChangeSetId"])
        self.assertEqual(self.stack(self.APP_STACK)["StackStatus"], "UPDATE_COMPLETE", self.events(self.APP_STACK)[:3])
        return cs

    def service(self, out):
        """One DescribeServices of the app's service (each call is one poll: it moves rollouts on)."""
        return self.client("ecs").describe_services(cluster=out["ClusterName"], services=[out["ServiceName"]])["services"][0]

    @staticmethod
    def rollout(service):
        """[(status, task definition revision, rolloutState, running, pending, failed)] of the deployments."""
        return [(d["status"], d["taskDefinition"].rsplit(":", 1)[1], d["rolloutState"], d["runningCount"],
                 d["pendingCount"], d["failedTasks"]) for d in service["deployments"]]

    def targets(self, out):
        """{(ip, port): (state, reason)} of the app's target group."""
        health = self.client("elbv2").describe_target_health(TargetGroupArn=out["TargetGroupArn"])
        return {(t["Target"]["Id"], t["Target"]["Port"]): (t["TargetHealth"]["State"], t["TargetHealth"].get("Reason"))
                for t in health["TargetHealthDescriptions"]}

    def tasks(self, out, status):
        ecs = self.client("ecs")
        arns = ecs.list_tasks(cluster=out["ClusterName"], serviceName=out["ServiceName"], desiredStatus=status)["taskArns"]
        return ecs.describe_tasks(cluster=out["ClusterName"], tasks=arns)["tasks"] if arns else []

    def log_lines(self, out):
        events = self.client("logs").filter_log_events(logGroupName=out["LogGroupName"], startTime=0)["events"]
        return [(e["logStreamName"], e["message"]) for e in events]

    # -- 0. the launcher -----------------------------------------------------------------------

    def test_0_refuses_other_moto_versions(self):
        code = (
            "import importlib.metadata as m, runpy, sys; m.version = lambda name: '5.0.0'; "
            f"sys.argv = ['rig_moto.py', '--port', '1']; runpy.run_path({LAUNCHER!r}, run_name='__main__')"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("moto==5.2.5 is required, found 5.0.0", run.stderr)

    # -- 1. AWS::RDS::DBCluster --------------------------------------------------------------

    def test_1_aurora_cluster(self):
        rds = self.client("rds")
        self.client("ssm").put_parameter(Name="/rig/db/password", Value="supersecret1", Type="SecureString")
        self.foundation()
        self.aurora(ReaderCount="1", DeletionProtection="true", BackupRetentionPeriod="7")
        out = self.outputs("o-p-dev-db-aurora")
        cluster = rds.describe_db_clusters(DBClusterIdentifier=out["ClusterIdentifier"])["DBClusters"][0]
        self.assertEqual(cluster["Status"], "available")  # the first describe after the stack is done
        self.assertEqual(cluster["Engine"], "aurora-mysql")
        self.assertEqual(cluster["EngineVersion"], "8.0.mysql_aurora.3.08.0")
        self.assertEqual(cluster["ServerlessV2ScalingConfiguration"], {"MinCapacity": 0.5, "MaxCapacity": 4.0})
        self.assertEqual(cluster["DBSubnetGroup"], rds.describe_db_subnet_groups()["DBSubnetGroups"][0]["DBSubnetGroupName"])
        self.assertEqual(len(cluster["VpcSecurityGroups"]), 1)
        self.assertEqual((cluster["MasterUsername"], cluster["DatabaseName"]), ("admin", "app"))
        self.assertTrue(cluster["StorageEncrypted"] and cluster["DeletionProtection"])
        self.assertEqual(cluster["BackupRetentionPeriod"], 7)
        self.assertTrue(cluster["DBClusterParameterGroup"].endswith("clusterparametergroup") or cluster["DBClusterParameterGroup"])
        self.assertEqual(rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"][0]["DBClusterParameterGroupName"],
                         cluster["DBClusterParameterGroup"])
        members = {m["DBInstanceIdentifier"]: m["IsClusterWriter"] for m in cluster["DBClusterMembers"]}
        self.assertEqual(sorted(members.values()), [False, True])  # writer + reader joined the cluster
        self.assertEqual(out["ClusterEndpoint"], cluster["Endpoint"])
        self.assertEqual(out["ReaderEndpoint"], cluster["ReaderEndpoint"])
        self.assertEqual(out["Port"], "3306")
        zone = self.outputs("o-p-dev-foundation")["InternalDns"]
        records = self.client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        cname = next(r for r in records if r["Name"].startswith("aurora.proj.internal"))
        self.assertEqual(cname["ResourceRecords"][0]["Value"], cluster["Endpoint"])  # GetAtt inside Resources

        # an update reaches the cluster (Modify, no replacement) ...
        values = dict(Environment="dev", FoundationStackName="o-p-dev-foundation", ProjectName="proj",
                      DatabaseName="app", ReaderCount="1", BackupRetentionPeriod="7")
        update = self.change_set("o-p-dev-db-aurora", AURORA, DeletionProtection="false", MaxCapacity="8", **values)
        self.assertEqual({k: (c["Action"], c["Replacement"]) for k, c in self.changes(update).items()},
                         {"DatabaseCluster": ("Modify", "False")})
        self.cf.execute_change_set(ChangeSetName=update["ChangeSetId"])
        cluster = rds.describe_db_clusters()["DBClusters"][0]
        self.assertEqual((cluster["DeletionProtection"], cluster["ServerlessV2ScalingConfiguration"]["MaxCapacity"]),
                         (False, 8.0))
        # ... DeletionProtection holds a delete (DELETE_FAILED with the reason) ...
        self.cf.update_stack(StackName="o-p-dev-db-aurora", UsePreviousTemplate=True,
                             Parameters=params(DeletionProtection="true", **values))
        self.delete("o-p-dev-db-aurora", status="DELETE_FAILED")
        failed = {e["LogicalResourceId"]: e["ResourceStatusReason"]
                  for e in self.events("o-p-dev-db-aurora") if e["ResourceStatus"] == "DELETE_FAILED"}
        self.assertIn("protected", failed["DatabaseCluster"])
        self.assertIn("DatabaseCluster", failed["o-p-dev-db-aurora"])
        # ... and DeletionPolicy: Snapshot leaves a final snapshot.
        rds.modify_db_cluster(DBClusterIdentifier=out["ClusterIdentifier"], DeletionProtection=False)
        self.delete("o-p-dev-db-aurora")
        self.assertEqual(rds.describe_db_clusters()["DBClusters"], [])
        self.assertEqual(rds.describe_db_instances()["DBInstances"], [])
        snapshots = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
        self.assertEqual([s["DBClusterIdentifier"] for s in snapshots], [out["ClusterIdentifier"]])

        # RDS-managed master password instead of the ssm-secure dynamic reference
        self.aurora(name="o-p-dev-db-managed", MasterPasswordSource="managed")
        cluster = rds.describe_db_clusters()["DBClusters"][0]
        self.assertIn("MasterUserSecret", cluster)
        self.delete("o-p-dev-db-managed")

    # -- 2. placeholder / backed models for types moto skips --------------------------------------

    def test_2_unmodelled_types(self):
        ecs, s3, sns = self.client("ecs"), self.client("s3"), self.client("sns")
        self.foundation()
        self.assertEqual(self.outputs("o-p-dev-foundation")["AlbCanonicalHostedZoneId"], "Z2P70J7EXAMPLE")
        policy = s3.get_bucket_policy(Bucket="rig-o-p-app-dev")["Policy"]
        self.assertIn("aws:SecureTransport", policy)
        subs = sns.list_subscriptions()["Subscriptions"]
        self.assertEqual([(s["Protocol"], s["Endpoint"]) for s in subs], [("email", "ops@example.com")])

        self.create("o-p-dev-compute-ecs", ECS_EC2, Environment="dev", FoundationStackName="o-p-dev-foundation")
        out = self.outputs("o-p-dev-compute-ecs")
        provider = ecs.describe_capacity_providers(capacityProviders=[out["CapacityProviderName"]])["capacityProviders"][0]
        self.assertEqual(provider["autoScalingGroupProvider"]["autoScalingGroupArn"], out["AutoScalingGroupName"])
        cluster = ecs.describe_clusters(clusters=[out["ClusterName"]])["clusters"][0]
        self.assertEqual(cluster["capacityProviders"], [out["CapacityProviderName"]])
        self.assertEqual(cluster["settings"], [{"name": "containerInsights", "value": "enabled"}])

        self.create("o-p-dev-fargate", FARGATE, Environment="dev", FoundationStackName="o-p-dev-foundation")
        cluster = ecs.describe_clusters(clusters=["o-p-dev-fargate-ECSCluster"])["clusters"][0]
        self.assertEqual(cluster["capacityProviders"], ["FARGATE", "FARGATE_SPOT"])
        self.assertEqual(len(cluster["defaultCapacityProviderStrategy"]), 1)  # !If ... AWS::NoValue dropped

        self.create("o-p-build-app-main", PIPELINE)
        out = self.outputs("o-p-build-app-main")
        self.assertRegex(out["ConnectionArn"], r"^arn:aws:codestar-connections:us-east-1:123456789012:connection/")
        self.assertEqual(out["BuildArn"], "arn:aws:codebuild:us-east-1:123456789012:project/o-p-build-app-main-build")
        self.assertRegex(out["WebhookUrl"], r"^https://us-east-1\.webhooks\.aws/trigger\?t=")
        self.assertEqual(out["AlarmArn"], "arn:aws:cloudwatch:us-east-1:123456789012:alarm:o-p-build-app-main-errors")
        self.assertTrue(out["PipelineName"].startswith("o-p-build-app-main-Pipeline-"))
        secret = self.client("secretsmanager").get_secret_value(SecretId=out["SecretArn"])
        self.assertEqual(len(secret["SecretString"]), 32)
        filters = self.client("logs").describe_metric_filters(logGroupName="/rig/o-p-build-app-main")["metricFilters"]
        self.assertEqual([f["filterName"] for f in filters], [out["FilterName"]])
        self.assertIn("o-p-build-app-main-ecr-repo", out["RepositoryUri"])
        self.delete("o-p-build-app-main")
        self.assertEqual(self.client("secretsmanager").list_secrets()["SecretList"], [])

    def test_2_moto_models_rig_uses(self):
        ec2 = self.client("ec2")
        self.foundation()
        out = self.outputs("o-p-dev-foundation")
        listeners = self.client("elbv2").describe_listeners(ListenerArns=[out["HttpListener"], out["HttpsListener"]])
        actions = {l["Port"]: l["DefaultActions"][0] for l in listeners["Listeners"]}
        self.assertEqual(actions[80]["RedirectConfig"]["StatusCode"], "HTTP_301")
        self.assertEqual(actions[443]["FixedResponseConfig"]["StatusCode"], "404")
        zone = self.client("route53").get_hosted_zone(Id=out["InternalDns"])["HostedZone"]
        self.assertTrue(zone["Config"]["PrivateZone"])

        self.create("o-p-dev-db-couch", COUCH, Environment="dev", FoundationStackName="o-p-dev-foundation",
                    ProjectName="proj", BackupBucketName="rig-couch-backup")
        couch = self.outputs("o-p-dev-db-couch")
        volume = ec2.describe_volumes(VolumeIds=[couch["DataVolume"]])["Volumes"][0]
        self.assertEqual((volume["VolumeType"], volume["Encrypted"], volume["Size"]), ("gp3", True, 20))
        self.assertEqual(volume["Attachments"][0]["InstanceId"], couch["InstanceId"])
        records = self.client("route53").list_resource_record_sets(HostedZoneId=out["InternalDns"])["ResourceRecordSets"]
        self.assertIn("couch.proj.internal", [r["Name"].rstrip(".") for r in records if r["Type"] == "CNAME"])

    # -- 3. change sets ----------------------------------------------------------------------------

    def test_3_change_sets(self):
        ssm, name = self.client("ssm"), "rig-cs"
        created = self.change_set(name, CHANGE_SET_V1, kind="CREATE", Env="dev")
        self.assertEqual(created["Status"], "CREATE_COMPLETE")
        self.assertEqual({k: c["Action"] for k, c in self.changes(created).items()},
                         {"Setting": "Add", "Gateway": "Add", "Bucket": "Add", "Topic": "Add"})
        self.assertEqual(self.stack(name)["StackStatus"], "REVIEW_IN_PROGRESS")
        started = time.monotonic()
        self.cf.execute_change_set(ChangeSetName=created["ChangeSetId"])
        TIMINGS["execute CREATE change set (4 resources)"] = time.monotonic() - started
        self.assertEqual(self.stack(name)["StackStatus"], "CREATE_COMPLETE")
        self.assertEqual(self.outputs(name)["Setting"], "/rig-cs/size")
        self.assertEqual(ssm.get_parameter(Name="/rig-cs/size")["Parameter"]["Value"], "dev-small")
        exports = {e["Name"]: e["Value"] for e in self.cf.list_exports()["Exports"]}
        self.assertEqual(exports, {"rig-cs--Topic": self.outputs(name)["TopicArn"]})

        same = self.change_set(name, CHANGE_SET_V1, Env="dev")
        self.assertEqual(same["Status"], "FAILED")
        self.assertEqual(same["StatusReason"], "The submitted information didn't contain changes. "
                                               "Submit different information to create a change set.")
        self.assertEqual(same["Changes"], [])
        with self.assertRaises(ClientError) as err:
            self.cf.execute_change_set(ChangeSetName=same["ChangeSetId"])
        self.assertEqual(err.exception.response["Error"]["Code"], "InvalidChangeSetStatus")

        size = self.change_set(name, CHANGE_SET_V1, Env="dev", Size="large")  # parameter used only in Fn::Sub
        self.assertEqual({k: (c["Action"], c["Replacement"]) for k, c in self.changes(size).items()},
                         {"Setting": ("Modify", "False")})
        self.assertEqual(self.changes(size)["Setting"]["Details"][0]["Target"]["Name"], "Value")
        # 24. property values only when asked; a parameter named as the cause
        self.assertNotIn("BeforeValue", self.changes(size)["Setting"]["Details"][0]["Target"])
        valued = self.cf.describe_change_set(ChangeSetName=size["ChangeSetId"], IncludePropertyValues=True)
        detail = self.changes(valued)["Setting"]["Details"][0]
        self.assertEqual((detail["Target"]["BeforeValue"], detail["Target"]["AfterValue"]),
                         ('"dev-small"', '"dev-large"'))
        self.assertEqual((detail["ChangeSource"], detail["CausingEntity"]), ("ParameterReference", "Size"))
        self.cf.execute_change_set(ChangeSetName=size["ChangeSetName"], StackName=name)
        self.assertEqual(ssm.get_parameter(Name="/rig-cs/size")["Parameter"]["Value"], "dev-large")
        self.assertEqual(self.stack(name)["StackStatus"], "UPDATE_COMPLETE")
        self.assertIn("LastUpdatedTime", self.stack(name))

        env = self.change_set(name, CHANGE_SET_V1, Env="prod", Size="large")
        self.assertEqual({k: (c["Action"], c["Replacement"]) for k, c in self.changes(env).items()},
                         {"Setting": ("Modify", "False"), "Topic": ("Modify", "True")})
        self.cf.delete_change_set(ChangeSetName=env["ChangeSetId"])

        v2 = self.change_set(name, CHANGE_SET_V2, Env="dev", Size="large")
        changes = self.changes(v2)
        self.assertEqual({k: c["Action"] for k, c in changes.items()},
                         {"Setting": "Modify", "Queue": "Add", "Bucket": "Remove"})
        self.assertTrue(changes["Bucket"]["PhysicalResourceId"].startswith("rig-cs-bucket-"))
        self.cf.execute_change_set(ChangeSetName=v2["ChangeSetId"])
        self.assertNotIn(changes["Bucket"]["PhysicalResourceId"],
                         [b["Name"] for b in self.client("s3").list_buckets()["Buckets"]])
        self.assertEqual(sorted(e["Name"] for e in self.cf.list_exports()["Exports"]), ["rig-cs--Queue", "rig-cs--Topic"])
        self.assertIn("QueueUrl", self.outputs(name))

        # a CREATE change set that is never executed: the stack waits in REVIEW_IN_PROGRESS, then deletes
        review = self.change_set("rig-review", SMALL, kind="CREATE")
        self.assertEqual(self.stack("rig-review")["StackStatus"], "REVIEW_IN_PROGRESS")
        listed = self.cf.list_change_sets(StackName="rig-review")["Summaries"]
        self.assertEqual([c["ChangeSetId"] for c in listed], [review["ChangeSetId"]])
        with self.assertRaises(ClientError) as err:  # a CREATE change set for a live stack
            self.change_set(name, SMALL, kind="CREATE")
        self.assertIn("already exists", err.exception.response["Error"]["Message"])
        self.delete("rig-review")

    def test_3_nested_stack_outputs(self):
        s3 = self.client("s3")
        s3.create_bucket(Bucket="rig-nested")
        s3.put_object(Bucket="rig-nested", Key="child.yaml", Body=SMALL.encode() + b"""
Outputs:
  TopicArn: {Value: !Ref Topic}
""")
        self.create("rig-parent", PARENT)
        self.assertTrue(self.outputs("rig-parent")["ChildTopic"].startswith("arn:aws:sns:us-east-1:123456789012:"))
        self.delete("rig-parent")
        self.assertEqual(self.client("sns").list_topics()["Topics"], [])

    # -- 4. termination protection ---------------------------------------------------------------

    def test_4_termination_protection(self):
        self.cf.create_stack(StackName="rig-protected", TemplateBody=SMALL, EnableTerminationProtection=True)
        self.assertTrue(self.stack("rig-protected")["EnableTerminationProtection"])
        with self.assertRaises(ClientError) as err:
            self.cf.delete_stack(StackName="rig-protected")
        self.assertEqual(err.exception.response["Error"]["Code"], "ValidationError")
        self.assertEqual(err.exception.response["Error"]["Message"],
                         "Stack [rig-protected] cannot be deleted while TerminationProtection is enabled")
        self.cf.update_termination_protection(StackName="rig-protected", EnableTerminationProtection=False)
        self.assertFalse(self.stack("rig-protected")["EnableTerminationProtection"])
        self.delete("rig-protected")
        self.create("rig-later", SMALL)
        self.cf.update_termination_protection(StackName="rig-later", EnableTerminationProtection=True)
        self.assertTrue(self.stack("rig-later")["EnableTerminationProtection"])
        with self.assertRaises(ClientError):
            self.cf.delete_stack(StackName="rig-later")

    # -- 5. failed creates roll back -------------------------------------------------------------

    def test_5_failed_create_rolls_back(self):
        s3, sns = self.client("s3"), self.client("sns")
        for name, create in (
            ("rig-broken", lambda: self.cf.create_stack(StackName="rig-broken", TemplateBody=FAILING)),
            ("rig-broken-cs", lambda: self.cf.execute_change_set(
                ChangeSetName=self.change_set("rig-broken-cs", FAILING, kind="CREATE")["ChangeSetId"])),
        ):
            create()
            self.assertEqual(self.stack(name)["StackStatus"], "ROLLBACK_COMPLETE")
            events = self.events(name)
            failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
            self.assertEqual([e["LogicalResourceId"] for e in failed], ["Broken"])
            self.assertIn("vpc-0000000000000000f", failed[0]["ResourceStatusReason"])
            resource_events = {(e["LogicalResourceId"], e["ResourceStatus"]) for e in events}
            for lid in ("Topic", "Bucket"):
                for status in ("CREATE_IN_PROGRESS", "CREATE_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_COMPLETE"):
                    self.assertIn((lid, status), resource_events)
            self.assertIn("[Broken]", next(e for e in events if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS")
                          ["ResourceStatusReason"])
            self.assertEqual(sns.list_topics()["Topics"], [])
            self.assertNotIn("rig-rollback-bucket", [b["Name"] for b in s3.list_buckets()["Buckets"]])
            self.assertEqual(self.stack(name).get("Outputs"), None)
            self.delete(name)

        # a failed update ends UPDATE_ROLLBACK_COMPLETE with the reason
        self.create("rig-update", SMALL)
        self.cf.update_stack(StackName="rig-update", TemplateBody=SMALL + FAILING.split("Resources:")[1])
        self.assertEqual(self.stack("rig-update")["StackStatus"], "UPDATE_ROLLBACK_COMPLETE")
        events = self.events("rig-update")
        self.assertIn("vpc-0000000000000000f", next(
            e for e in events if e["ResourceStatus"] == "UPDATE_ROLLBACK_IN_PROGRESS")["ResourceStatusReason"])
        self.assertIn(("Broken", "CREATE_FAILED"), {(e["LogicalResourceId"], e["ResourceStatus"]) for e in events})

    # -- 6. teardown leaves nothing ----------------------------------------------------------------

    def test_6_teardown(self):
        s3 = self.client("s3")
        self.client("ssm").put_parameter(Name="/rig/db/password", Value="supersecret1", Type="SecureString")
        before = self.snapshot()
        started = time.monotonic()
        self.foundation()
        self.create("o-p-dev-compute-ecs", ECS_EC2, Environment="dev", FoundationStackName="o-p-dev-foundation")
        self.aurora(ReaderCount="1")
        self.create("o-p-dev-db-couch", COUCH, Environment="dev", FoundationStackName="o-p-dev-foundation",
                    ProjectName="proj", BackupBucketName="rig-couch-backup")
        self.create("o-p-build-app-main", PIPELINE)
        TIMINGS["create 5 stacks (foundation, ecs-ec2, aurora, couch, pipeline)"] = time.monotonic() - started
        s3.put_object(Bucket="rig-o-p-app-dev", Key="app.yaml", Body=b"x")

        # the foundation cannot go while its exports are imported
        self.delete("o-p-dev-foundation", status="DELETE_FAILED")
        reason = self.events("o-p-dev-foundation")[0]["ResourceStatusReason"]
        self.assertRegex(reason, r"^Export o-p-dev-foundation--\S+ cannot be deleted as it is in use by o-p-dev-")
        started = time.monotonic()
        for name in ("o-p-build-app-main", "o-p-dev-db-couch", "o-p-dev-db-aurora", "o-p-dev-compute-ecs"):
            self.delete(name)
        # a non-empty bucket fails the delete (DELETE_FAILED with a reason), exports stay
        self.delete("o-p-dev-foundation", status="DELETE_FAILED")
        failed = [e for e in self.events("o-p-dev-foundation") if e["ResourceStatus"] == "DELETE_FAILED"]
        self.assertEqual([e["LogicalResourceId"] for e in failed][:2], ["o-p-dev-foundation", "AppBucket"])
        self.assertIn("BucketNotEmpty", failed[1]["ResourceStatusReason"])
        self.assertIn("AppBucket", failed[0]["ResourceStatusReason"])
        self.assertIn("o-p-dev-foundation--VpcId", {e["Name"] for e in self.cf.list_exports()["Exports"]})
        for version in s3.list_object_versions(Bucket="rig-o-p-app-dev").get("Versions", []):
            s3.delete_object(Bucket="rig-o-p-app-dev", Key=version["Key"], VersionId=version["VersionId"])
        self.delete("o-p-dev-foundation")
        TIMINGS["delete 5 stacks"] = time.monotonic() - started

        after = self.snapshot()
        after["buckets"].discard("rig-couch-backup")  # DeletionPolicy: Retain
        self.maxDiff = None
        self.assertEqual(after, before)
        self.assertEqual(self.client("ec2").describe_vpcs(Filters=[{"Name": "is-default", "Values": ["false"]}])["Vpcs"], [])
        statuses = {s["StackName"]: s["StackStatus"] for s in self.cf.list_stacks()["StackSummaries"]}
        self.assertEqual(set(statuses.values()), {"DELETE_COMPLETE"})

    # -- 7. public SSM parameters --------------------------------------------------------------------

    def test_7_public_ssm_parameters(self):
        ssm, ec2 = self.client("ssm"), self.client("ec2")
        for path in ("/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
                     "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"):
            ami = ssm.get_parameter(Name=path)["Parameter"]["Value"]
            self.assertEqual(ec2.describe_images(ImageIds=[ami])["Images"][0]["ImageId"], ami)
        self.foundation()
        self.create("o-p-dev-compute-ecs", ECS_EC2, Environment="dev", FoundationStackName="o-p-dev-foundation")
        ecs_ami = ssm.get_parameter(Name="/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id")
        versions = ec2.describe_launch_template_versions(LaunchTemplateId=next(
            t["LaunchTemplateId"] for t in ec2.describe_launch_templates()["LaunchTemplates"]))
        self.assertEqual(versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]["ImageId"],
                         ecs_ami["Parameter"]["Value"])
        instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
        self.assertEqual({i["ImageId"] for i in instances}, {ecs_ami["Parameter"]["Value"]})  # the ASG's instance

    # -- 8. ECS ---------------------------------------------------------------------------------------

    def test_8_ecs(self):
        ecs = self.client("ecs")
        ecs.create_cluster(clusterName="empty")
        cluster = ecs.describe_clusters(clusters=["empty"])["clusters"][0]
        self.assertEqual((cluster["status"], cluster["registeredContainerInstancesCount"]), ("ACTIVE", 0))
        named = ecs.describe_capacity_providers(capacityProviders=["FARGATE", "FARGATE_SPOT"])
        self.assertEqual([p["name"] for p in named["capacityProviders"]], ["FARGATE", "FARGATE_SPOT"])
        self.assertEqual(named["failures"], [])
        self.assertEqual({p["name"] for p in ecs.describe_capacity_providers()["capacityProviders"]},
                         {"FARGATE", "FARGATE_SPOT"})
        ecs.delete_cluster(cluster="empty")
        self.assertEqual(ecs.list_clusters()["clusterArns"], [])
        self.assertEqual(ecs.describe_clusters(clusters=["empty"])["clusters"][0]["status"], "INACTIVE")

    # -- 9. stack tags through change sets -------------------------------------------------------------

    def test_9_stack_tags_through_change_sets(self):
        name, no_changes = "rig-tags", ("FAILED", "The submitted information didn't contain changes. "
                                                  "Submit different information to create a change set.")
        self.cf.create_stack(StackName=name, TemplateBody=CHANGE_SET_V1, Parameters=params(Env="dev"),
                             Tags=tags(owner="a", project="p"))
        self.cf.create_stack(StackName="rig-other", TemplateBody=SMALL, Tags=tags(owner="b"))
        same = self.change_set(name, CHANGE_SET_V1, stack_tags=dict(owner="a", project="p"), Env="dev")
        self.assertEqual((same["Status"], same["StatusReason"]), no_changes)

        retag = self.change_set(name, CHANGE_SET_V1, stack_tags=dict(owner="rig", project="p"), Env="dev")
        self.assertEqual(retag["Status"], "CREATE_COMPLETE")
        self.assertEqual({k: (c["Action"], c["Scope"], c["Replacement"]) for k, c in self.changes(retag).items()},
                         {k: ("Modify", ["Tags"], "False") for k in ("Setting", "Gateway", "Bucket", "Topic")})
        self.assertEqual(self.changes(retag)["Topic"]["Details"][0]["Target"],
                         {"Attribute": "Tags", "RequiresRecreation": "Never"})
        self.cf.execute_change_set(ChangeSetName=retag["ChangeSetId"])
        self.assertEqual(self.stack(name)["StackStatus"], "UPDATE_COMPLETE")
        self.assertEqual(self.stack(name)["Tags"], tags(owner="rig", project="p"))
        listed = {s["StackName"]: s.get("Tags") for s in self.cf.describe_stacks()["Stacks"]}
        self.assertEqual(listed, {name: tags(owner="rig", project="p"), "rig-other": tags(owner="b")})
        again = self.change_set(name, CHANGE_SET_V1, stack_tags=dict(owner="rig", project="p"), Env="dev")
        self.assertEqual((again["Status"], again["StatusReason"]), no_changes)

        # template and tags change together: both are applied
        both = self.change_set(name, CHANGE_SET_V2, stack_tags=dict(owner="rig", project="q"), Env="dev")
        changes = self.changes(both)
        self.assertEqual({k: (c["Action"], c.get("Scope")) for k, c in changes.items()},
                         {"Setting": ("Modify", ["Properties", "Tags"]), "Gateway": ("Modify", ["Tags"]),
                          "Topic": ("Modify", ["Tags"]), "Queue": ("Add", None), "Bucket": ("Remove", None)})
        self.cf.execute_change_set(ChangeSetName=both["ChangeSetId"])
        self.assertEqual(self.stack(name)["StackStatus"], "UPDATE_COMPLETE")
        self.assertEqual(self.stack(name)["Tags"], tags(owner="rig", project="q"))
        self.assertIn("QueueUrl", self.outputs(name))

    # -- 10. UsePreviousTemplate / UsePreviousValue ----------------------------------------------------

    def test_10_use_previous_template(self):
        ssm = self.client("ssm")
        self.create("rig-prev", PREVIOUS, Size="small", Zones="x,y")
        ami = ssm.get_parameter(Name="/rig-prev/ami")["Parameter"]["Value"]
        self.assertTrue(ami.startswith("ami-"))
        body = self.cf.get_template(StackName="rig-prev")["TemplateBody"]
        unchanged = self.previous_change_set("rig-prev")  # every value UsePreviousValue (SSM type, list, default)
        self.assertEqual((unchanged["Status"], unchanged["ExecutionStatus"], unchanged["Changes"]),
                         ("FAILED", "UNAVAILABLE", []))
        size = self.previous_change_set("rig-prev", Size="large")
        self.assertEqual({k: c["Action"] for k, c in self.changes(size).items()}, {"Setting": "Modify"})
        self.cf.execute_change_set(ChangeSetName=size["ChangeSetId"])
        self.assertEqual(self.stack("rig-prev")["StackStatus"], "UPDATE_COMPLETE")
        values = [ssm.get_parameter(Name=f"/rig-prev/{n}")["Parameter"]["Value"] for n in ("size", "ami", "zones")]
        self.assertEqual(values, ["large-2", ami, "x,y"])
        self.assertEqual(self.cf.get_template(StackName="rig-prev")["TemplateBody"], body)

        # rig: switch an Aurora cluster's deletion protection off, then delete the stack
        ssm.put_parameter(Name="/rig/db/password", Value="supersecret1", Type="SecureString")
        self.foundation()
        self.aurora(DeletionProtection="true")
        off = self.previous_change_set("o-p-dev-db-aurora", DeletionProtection="false")
        self.assertEqual({k: c["Action"] for k, c in self.changes(off).items()}, {"DatabaseCluster": "Modify"})
        self.cf.execute_change_set(ChangeSetName=off["ChangeSetId"])
        self.assertFalse(self.client("rds").describe_db_clusters()["DBClusters"][0]["DeletionProtection"])
        values = {p["ParameterKey"]: p["ParameterValue"] for p in self.stack("o-p-dev-db-aurora")["Parameters"]}
        self.assertEqual((values["DeletionProtection"], values["DatabaseName"]), ("false", "app"))
        self.delete("o-p-dev-db-aurora")

    # -- 11. DeleteStack RetainResources -------------------------------------------------------------

    def test_11_retain_resources(self):
        s3 = self.client("s3")
        self.create("rig-retain", RETAIN)
        s3.put_object(Bucket="rig-retain-data", Key="a", Body=b"x")
        with self.assertRaises(ClientError) as err:  # only for a stack in DELETE_FAILED
            self.cf.delete_stack(StackName="rig-retain", RetainResources=["Data"])
        self.assertEqual(err.exception.response["Error"]["Code"], "ValidationError")
        self.assertRegex(err.exception.response["Error"]["Message"], r"RetainResources .*DELETE_FAILED")
        self.assertEqual(self.stack("rig-retain")["StackStatus"], "CREATE_COMPLETE")
        self.delete("rig-retain", status="DELETE_FAILED")
        with self.assertRaises(ClientError) as err:  # Topic is already DELETE_COMPLETE
            self.cf.delete_stack(StackName="rig-retain", RetainResources=["Topic"])
        self.assertIn("DELETE_COMPLETE", err.exception.response["Error"]["Message"])
        stack_id = self.stack("rig-retain")["StackId"]
        self.cf.delete_stack(StackName="rig-retain", RetainResources=["Data"])
        self.assertEqual(self.stack(stack_id)["StackStatus"], "DELETE_COMPLETE")
        self.assertIn(("Data", "DELETE_SKIPPED"), self.statuses(stack_id))
        self.assertEqual([o["Key"] for o in s3.list_objects_v2(Bucket="rig-retain-data")["Contents"]], ["a"])

    # -- 12-14. resources holding data fail the delete; emptied, the delete is resumed -------------------

    def test_12_hosted_zone_with_extra_records(self):
        r53 = self.client("route53")
        self.create("rig-zone", PRIVATE_ZONE)
        zone = self.outputs("rig-zone")["ZoneId"]

        def extra(action):
            record = {"Name": "extra.rig.internal", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.30.0.9"}]}
            r53.change_resource_record_sets(
                HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": record}]})

        extra("CREATE")
        self.delete("rig-zone", status="DELETE_FAILED")
        self.assertEqual(self.failed_deletes("rig-zone")["Zone"],
                         "HostedZoneNotEmpty: The specified hosted zone contains non-required resource record sets "
                         "and so cannot be deleted.")
        self.assertIn(("Record", "DELETE_COMPLETE"), self.statuses("rig-zone"))  # the stack's own record went first
        records = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        self.assertEqual(sorted(r["Type"] for r in records), ["A", "NS", "SOA"])
        extra("DELETE")
        self.delete("rig-zone")
        self.assertEqual(r53.list_hosted_zones()["HostedZones"], [])

    def test_13_ecr_repository_with_images(self):
        ecr = self.client("ecr")
        self.create("rig-ecr", REPOSITORIES)
        for repo in ("rig-repo", "rig-repo-emptied"):
            ecr.put_image(repositoryName=repo, imageTag="v1", imageManifest=json.dumps(
                {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "layers": []}))
        self.delete("rig-ecr", status="DELETE_FAILED")
        self.assertEqual(self.failed_deletes("rig-ecr")["Repository"],
                         "RepositoryNotEmptyException: The repository with name 'rig-repo' in registry with id "
                         "'123456789012' cannot be deleted because it still contains images")
        self.assertIn(("Emptied", "DELETE_COMPLETE"), self.statuses("rig-ecr"))  # EmptyOnDelete: true
        self.assertEqual([r["repositoryName"] for r in ecr.describe_repositories()["repositories"]], ["rig-repo"])
        ecr.batch_delete_image(repositoryName="rig-repo", imageIds=[{"imageTag": "v1"}])
        self.delete("rig-ecr")
        self.assertEqual(ecr.describe_repositories()["repositories"], [])

    def test_14_bucket_with_objects(self):
        s3 = self.client("s3")
        self.create("rig-buckets", BUCKETS)
        s3.put_bucket_versioning(Bucket="rig-data", VersioningConfiguration={"Status": "Enabled"})
        for body in (b"1", b"2"):
            s3.put_object(Bucket="rig-data", Key="a", Body=body)
        s3.delete_object(Bucket="rig-data", Key="a")  # a delete marker over two versions
        s3.put_object(Bucket="rig-kept", Key="keep", Body=b"k")
        self.delete("rig-buckets", status="DELETE_FAILED")
        self.assertIn("BucketNotEmpty", self.failed_deletes("rig-buckets")["Data"])
        versions = s3.list_object_versions(Bucket="rig-data")
        for v in versions["Versions"]:
            s3.delete_object(Bucket="rig-data", Key=v["Key"], VersionId=v["VersionId"])
        self.delete("rig-buckets", status="DELETE_FAILED")  # the delete marker is still a version
        for v in versions["DeleteMarkers"]:
            s3.delete_object(Bucket="rig-data", Key=v["Key"], VersionId=v["VersionId"])
        stack_id = self.stack("rig-buckets")["StackId"]
        self.delete("rig-buckets")
        self.assertIn(("Kept", "DELETE_SKIPPED"), self.statuses(stack_id))
        self.assertEqual([b["Name"] for b in s3.list_buckets()["Buckets"]], ["rig-kept"])
        self.assertEqual(s3.get_object(Bucket="rig-kept", Key="keep")["Body"].read(), b"k")

    # -- 15. change sets: what refers to a replaced resource changes too --------------------------

    def test_15_replacement_reaches_what_refers_to_it(self):
        zone = self.app_environment()
        out = self.create_app(zone)
        cs = self.change_set(self.APP_STACK, APP, **self.app_values(zone, ContainerImage="nginx:1.28"))
        changes = self.changes(cs)
        self.assertEqual({k: (c["Action"], c["Replacement"]) for k, c in changes.items()},
                         {"TaskDefinition": ("Modify", "True"), "Service": ("Modify", "False")})
        self.assertEqual(changes["Service"]["Details"], [{
            "Target": {"Attribute": "Properties", "Name": "TaskDefinition", "RequiresRecreation": "Never"},
            "Evaluation": "Static", "ChangeSource": "ResourceReference", "CausingEntity": "TaskDefinition"}])
        self.cf.execute_change_set(ChangeSetName=cs["ChangeSetId"])
        new = self.outputs(self.APP_STACK)["TaskDefinitionArn"]
        self.assertTrue(new.endswith(":2"))
        self.assertEqual(self.service(out)["taskDefinition"], new)  # the service was updated after its task definition
        ecs = self.client("ecs")
        self.assertEqual(ecs.describe_task_definition(taskDefinition=out["TaskDefinitionArn"])["taskDefinition"]["status"],
                         "INACTIVE")  # the replaced revision is deregistered

    # -- 16. ECS service and task definition properties ------------------------------------------

    def test_16_ecs_service_and_task_definition(self):
        ecs, iam = self.client("ecs"), self.client("iam")
        zone = self.app_environment()
        out = self.create_app(zone)
        foundation = self.outputs("o-p-dev-foundation")
        service = self.service(out)
        # No LaunchType in the template: the cluster's default capacity provider strategy.
        self.assertNotIn("launchType", service)
        self.assertEqual([c["capacityProvider"] for c in service["capacityProviderStrategy"]], ["FARGATE"])
        self.assertEqual((service["platformVersion"], service["desiredCount"]), ("LATEST", 2))
        self.assertEqual(service["deploymentConfiguration"], {
            "maximumPercent": 200, "minimumHealthyPercent": 100,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True,
                                         "thresholdConfiguration": {"type": "COUNT", "value": 3}}})
        self.assertEqual(service["loadBalancers"],
                         [{"targetGroupArn": out["TargetGroupArn"], "containerName": "api", "containerPort": 8080}])
        self.assertEqual(service["networkConfiguration"], {"awsvpcConfiguration": {
            "subnets": [foundation["SubnetPrivateA"], foundation["SubnetPrivateB"]],
            "securityGroups": [foundation["AppSecurityGroup"]], "assignPublicIp": "DISABLED"}})
        self.assertEqual(service["healthCheckGracePeriodSeconds"], 60)
        self.assertEqual((service["propagateTags"], service["enableECSManagedTags"]), ("SERVICE", True))
        self.assertEqual(service["taskDefinition"], out["TaskDefinitionArn"])
        self.assertEqual(out["ServiceArn"], service["serviceArn"])

        td = ecs.describe_task_definition(taskDefinition=out["TaskDefinitionArn"])["taskDefinition"]
        self.assertEqual((td["family"], td["cpu"], td["memory"], td["networkMode"]), ("o-p-dev-app-api", "256", "512", "awsvpc"))
        self.assertEqual(td["requiresCompatibilities"], ["FARGATE"])
        roles = {r["Arn"]: r for r in iam.list_roles(PathPrefix="/o/p/app/api/")["Roles"]}
        self.assertEqual({td["executionRoleArn"], td["taskRoleArn"]}, set(roles))
        self.assertEqual({r["Path"] for r in roles.values()}, {"/o/p/app/api/"})
        container = td["containerDefinitions"][0]
        self.assertEqual((container["name"], container["image"], container["essential"]), ("api", "nginx:1.27", True))
        self.assertEqual(container["portMappings"], [{"containerPort": 8080, "protocol": "tcp"}])
        self.assertEqual({e["name"]: e["value"] for e in container["environment"]}, {
            "APP_ENVIRONMENT": "dev", "AWS_REGION": "us-east-1", "AWS_ENV_PATH": "/o/p/env/dev/app/api",
            "IMAGE": "nginx:1.27", "LOG_LEVEL": "info"})
        self.assertEqual(container["secrets"], [{"name": "STRIPE_KEY", "valueFrom":
            "arn:aws:ssm:us-east-1:123456789012:parameter/o/p/env/dev/app/api/STRIPE_KEY"}])
        self.assertEqual(container["logConfiguration"], {"logDriver": "awslogs", "options": {
            "awslogs-group": "o-p-dev-app-api", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "api"}})

    # -- 17. deployments and their rollout state ---------------------------------------------------

    def test_17_deployments(self):
        zone = self.app_environment()
        started = time.monotonic()
        out = self.create_app(zone)
        TIMINGS["app stack: create change set + execute (17 resources)"] = time.monotonic() - started
        first = self.service(out)  # the first poll after the create: in progress
        self.assertEqual(self.rollout(first), [("PRIMARY", "1", "IN_PROGRESS", 0, 2, 0)])
        self.assertEqual((first["runningCount"], first["pendingCount"]), (0, 2))
        self.assertRegex(first["deployments"][0]["id"], r"^ecs-svc/\d{19}$")
        self.assertEqual([t["lastStatus"] for t in self.tasks(out, "RUNNING")], ["PENDING", "PENDING"])
        done = self.service(out)
        self.assertEqual(self.rollout(done), [("PRIMARY", "1", "COMPLETED", 2, 0, 0)])
        self.assertEqual(done["deployments"][0]["id"], first["deployments"][0]["id"])
        self.assertEqual(done["deployments"][0]["rolloutStateReason"], f"ECS deployment {done['deployments'][0]['id']} completed.")
        self.assertEqual([e["message"].split(") ", 1)[1] for e in done["events"][:2]],
                         ["has reached a steady state.", f"(deployment {done['deployments'][0]['id']}) deployment completed."])
        running = self.tasks(out, "RUNNING")
        self.assertEqual([t["lastStatus"] for t in running], ["RUNNING", "RUNNING"])
        self.assertEqual({t["startedBy"] for t in running}, {done["deployments"][0]["id"]})
        self.assertEqual({t["group"] for t in running}, {"service:" + out["ServiceName"]})

        # a new image through a change set: a new PRIMARY deployment, the old one ACTIVE, then gone
        self.update_app(zone, ContainerImage="nginx:1.28")
        polls = [self.service(out) for _ in range(3)]
        self.assertEqual(self.rollout(polls[0]), [("PRIMARY", "2", "IN_PROGRESS", 0, 2, 0),
                                                  ("ACTIVE", "1", "COMPLETED", 2, 0, 0)])
        self.assertNotEqual(polls[0]["deployments"][0]["id"], done["deployments"][0]["id"])
        self.assertEqual(self.rollout(polls[1]), [("PRIMARY", "2", "COMPLETED", 2, 0, 0)])
        self.assertEqual(polls[2]["deployments"], polls[1]["deployments"])  # stays so
        self.assertEqual(polls[1]["taskDefinition"], self.outputs(self.APP_STACK)["TaskDefinitionArn"])
        self.assertEqual({t["containers"][0]["image"] for t in self.tasks(out, "RUNNING")}, {"nginx:1.28"})
        replaced = self.tasks(out, "STOPPED")
        self.assertEqual({(t["stopCode"], t["taskDefinitionArn"][-2:]) for t in replaced}, {("ServiceSchedulerInitiated", ":1")})

        # the desired count only: no new deployment; the counts follow after one poll
        self.update_app(zone, ContainerImage="nginx:1.28", TaskDesiredCount=3)
        scaled = [self.service(out) for _ in range(2)]
        self.assertEqual(self.rollout(scaled[0]), [("PRIMARY", "2", "COMPLETED", 2, 1, 0)])
        self.assertEqual(self.rollout(scaled[1]), [("PRIMARY", "2", "COMPLETED", 3, 0, 0)])
        self.assertEqual(scaled[1]["deployments"][0]["id"], polls[1]["deployments"][0]["id"])
        self.assertEqual((scaled[1]["desiredCount"], scaled[1]["runningCount"]), (3, 3))
        self.assertEqual(len(self.tasks(out, "RUNNING")), 3)

    # -- 18. crashing images: circuit breaker, rollback, stopped tasks --------------------------------

    def test_18_crashing_image_rolls_back(self):
        zone = self.app_environment()
        out = self.create_app(zone)
        self.service(out), self.service(out)
        good = self.outputs(self.APP_STACK)["TaskDefinitionArn"]
        before = {t["taskArn"] for t in self.tasks(out, "RUNNING")}
        self.update_app(zone, ContainerImage="nginx:crash-1")
        self.assertEqual(self.stack(self.APP_STACK)["StackStatus"], "UPDATE_COMPLETE")  # CloudFormation does not wait
        crashing = self.outputs(self.APP_STACK)["TaskDefinitionArn"]
        trying = self.service(out)
        self.assertEqual(self.rollout(trying), [("PRIMARY", "2", "IN_PROGRESS", 0, 2, 0), ("ACTIVE", "1", "COMPLETED", 2, 0, 0)])
        failed_id = trying["deployments"][0]["id"]
        after = self.service(out)
        self.assertEqual(self.rollout(after), [("PRIMARY", "1", "COMPLETED", 2, 0, 0), ("ACTIVE", "2", "FAILED", 0, 0, 3)])
        failed = after["deployments"][1]
        self.assertEqual((failed["id"], failed["rolloutStateReason"]),
                         (failed_id, "ECS deployment circuit breaker: tasks failed to start."))
        self.assertNotIn(after["deployments"][0]["id"], {failed_id, trying["deployments"][1]["id"]})  # a new deployment
        self.assertEqual(after["taskDefinition"], good)
        name = out["ServiceName"]
        messages = [e["message"] for e in after["events"]]
        self.assertIn(f"(service {name}) deployment {failed_id} deployment failed: tasks failed to start.", messages)
        self.assertTrue(any(re.fullmatch(rf"\(service {name}\) has started 1 tasks: \(task [0-9a-f-]{{36}}\)\.", m)
                            for m in messages), messages)
        self.assertEqual(self.rollout(self.service(out)), [("PRIMARY", "1", "COMPLETED", 2, 0, 0)])  # the failed one goes

        stopped = [t for t in self.tasks(out, "STOPPED") if t["taskDefinitionArn"] == crashing]
        self.assertEqual(len(stopped), 3)
        for task in stopped:
            self.assertEqual((task["lastStatus"], task["stoppedReason"], task["stopCode"]),
                             ("STOPPED", "Essential container in task exited", "EssentialContainerExited"))
            self.assertEqual((task["containers"][0]["exitCode"], task["containers"][0]["reason"]),
                             (1, "exit status 1 (crash image)"))
            self.assertEqual(task["startedBy"], failed_id)
        running = self.tasks(out, "RUNNING")
        self.assertEqual({t["taskDefinitionArn"] for t in running}, {good})
        self.assertFalse(before & {t["taskArn"] for t in running})  # the rollback's own tasks

        # a crashing first deployment has nothing to roll back to: the service runs nothing
        self.delete(self.APP_STACK)
        out = self.create_app(zone, ContainerImage="nginx:crash-2", ListenerRulePriority=11,
                              PreferredListenerRulePriority=25011)
        self.service(out)
        first = self.service(out)
        revision = out["TaskDefinitionArn"].rsplit(":", 1)[1]  # the family's revisions go on
        self.assertEqual(self.rollout(first), [("PRIMARY", revision, "FAILED", 0, 0, 3)])
        self.assertEqual((first["runningCount"], first["pendingCount"]), (0, 0))
        self.assertEqual(self.tasks(out, "RUNNING"), [])

    # -- 19. target health ---------------------------------------------------------------------

    def test_19_target_health(self):
        elb = self.client("elbv2")
        zone = self.app_environment()
        out = self.create_app(zone)
        foundation = self.outputs("o-p-dev-foundation")
        self.service(out)
        pending = self.targets(out)
        self.assertEqual(set(pending.values()), {("initial", "Elb.RegistrationInProgress")})
        self.service(out)
        healthy = self.targets(out)
        self.assertEqual(len(healthy), 2)
        self.assertEqual(set(healthy.values()), {("healthy", None)})
        self.assertEqual(set(healthy), {(eni_detail(t, "privateIPv4Address"), 8080) for t in self.tasks(out, "RUNNING")})
        subnets = {s["SubnetId"]: s["CidrBlock"] for s in self.client("ec2").describe_subnets(
            SubnetIds=[foundation["SubnetPrivateA"], foundation["SubnetPrivateB"]])["Subnets"]}
        self.assertEqual({ip.rsplit(".", 1)[0] for ip, _ in healthy},
                         {cidr.rsplit(".", 1)[0] for cidr in subnets.values()})  # one task in each private subnet
        enis = self.client("ec2").describe_network_interfaces()["NetworkInterfaces"]
        self.assertTrue({ip for ip, _ in healthy} <= {e["PrivateIpAddress"] for e in enis})

        self.update_app(zone, ContainerImage="nginx:crash-1")
        self.service(out)
        trying = self.targets(out)
        self.assertEqual(sorted(trying.values()), [("healthy", None)] * 2 + [("unhealthy", "Target.FailedHealthChecks")] * 2)
        description = elb.describe_target_health(TargetGroupArn=out["TargetGroupArn"])["TargetHealthDescriptions"]
        self.assertIn("Health checks failed", {t["TargetHealth"].get("Description") for t in description})
        self.service(out)  # failed, rolled back
        after = self.targets(out)
        self.assertEqual(sorted(s for s, _ in after.values() if s != "draining"), ["healthy", "healthy"])
        self.assertNotIn("unhealthy", {s for s, _ in after.values()})
        self.service(out)
        self.assertEqual(sorted(self.targets(out).values()), [("healthy", None)] * 2)
        one = next(iter(self.targets(out)))
        named = elb.describe_target_health(TargetGroupArn=out["TargetGroupArn"], Targets=[{"Id": one[0], "Port": 8080}])
        self.assertEqual([t["TargetHealth"]["State"] for t in named["TargetHealthDescriptions"]], ["healthy"])

        # a target group with registered targets keeps moto's answer
        group = elb.create_target_group(Name="rig-explicit", Protocol="HTTP", Port=80, VpcId=foundation["VpcId"],
                                        TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        elb.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.20.10.99", "Port": 80}])
        explicit = elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        self.assertEqual([(t["Target"]["Id"], t["TargetHealth"]["State"]) for t in explicit], [("10.20.10.99", "healthy")])

    # -- 20. task logs -------------------------------------------------------------------------

    def test_20_task_logs(self):
        zone = self.app_environment()
        out = self.create_app(zone)
        self.service(out), self.service(out)
        lines = self.log_lines(out)
        tasks = {t["taskArn"].rsplit("/", 1)[1] for t in self.tasks(out, "RUNNING")}
        self.assertEqual({stream for stream, _ in lines}, {f"api/api/{task}" for task in tasks})
        self.assertEqual(sorted(m for _, m in lines), ["listening on port 8080"] * 2 + ["starting nginx:1.27"] * 2)
        self.update_app(zone, ContainerImage="nginx:crash-1")
        self.service(out), self.service(out)
        errors = [m for _, m in self.log_lines(out) if "ERROR" in m]
        self.assertEqual(errors, ["ERROR crash image: exiting with status 1"] * 3)
        matched = self.client("logs").filter_log_events(logGroupName=out["LogGroupName"], filterPattern="ERROR")["events"]
        self.assertEqual(len(matched), 3)

        # no log group: nothing written, no group created behind the stack's back
        self.create("rig-nolog", NO_LOG_GROUP, ComputeStackName="o-p-dev-compute-fargate",
                    FoundationStackName="o-p-dev-foundation")
        ecs = self.client("ecs")
        arn = ecs.list_services(cluster=out["ClusterName"])["serviceArns"]
        self.assertEqual(len(arn), 2)
        ecs.describe_services(cluster=out["ClusterName"], services=arn)
        ecs.describe_services(cluster=out["ClusterName"], services=arn)
        groups = {g["logGroupName"] for g in self.client("logs").describe_log_groups()["logGroups"]}
        self.assertNotIn("rig-missing-group", groups)

    # -- 21. Application Auto Scaling ----------------------------------------------------------------

    def test_21_autoscaling(self):
        aas = self.client("application-autoscaling")
        zone = self.app_environment()
        out = self.create_app(zone)
        resource_id = f"service/{out['ClusterName']}/{out['ServiceName']}"
        target = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
        self.assertEqual([(t["ResourceId"], t["ScalableDimension"], t["MinCapacity"], t["MaxCapacity"]) for t in target],
                         [(resource_id, "ecs:service:DesiredCount", 2, 4)])
        policy = aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
        self.assertEqual([(p["PolicyName"], p["PolicyType"], p["ResourceId"]) for p in policy],
                         [("o-p-dev-app-api-cpu", "TargetTrackingScaling", resource_id)])
        conf = policy[0]["TargetTrackingScalingPolicyConfiguration"]
        self.assertEqual((conf["TargetValue"], conf["PredefinedMetricSpecification"]["PredefinedMetricType"]),
                         (60.0, "ECSServiceAverageCPUUtilization"))
        resources = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                     for r in self.cf.describe_stack_resources(StackName=self.APP_STACK)["StackResources"]}
        self.assertEqual(resources["ScalableTarget"], f"{resource_id}|ecs:service:DesiredCount|ecs")
        self.assertEqual(resources["ScalingPolicy"], policy[0]["PolicyARN"])

        self.update_app(zone, AutoScalingMaxCapacity=6)
        self.assertEqual(aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"][0]["MaxCapacity"], 6)
        self.update_app(zone, AutoScalingMaxCapacity=0)  # the condition compares the Number with "0"
        self.assertEqual(aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"], [])
        self.assertEqual(aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"], [])

    # -- 22. the other types of an app stack; its teardown -----------------------------------------

    def test_22_app_stack_types_and_teardown(self):
        ecs, elb, r53, logs, kms, sns, iam, ec2 = (self.client(s) for s in (
            "ecs", "elbv2", "route53", "logs", "kms", "sns", "iam", "ec2"))
        zone = self.app_environment()
        foundation = self.outputs("o-p-dev-foundation")

        # foundation: KMS key with its policy, alias, topic encrypted with it, topic policy
        key = kms.describe_key(KeyId="alias/o-p-dev-foundation-operations")["KeyMetadata"]
        self.assertEqual((key["KeyState"], key["Enabled"]), ("Enabled", True))
        self.assertTrue(kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"])
        key_policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
        self.assertEqual(key_policy["Statement"][1]["Principal"]["Service"], ["cloudwatch.amazonaws.com", "events.amazonaws.com"])
        topic = sns.get_topic_attributes(TopicArn=foundation["OperationsTopic"])["Attributes"]
        self.assertEqual(topic["KmsMasterKeyId"], key["KeyId"])
        topic_policy = json.loads(topic["Policy"])
        self.assertEqual(topic_policy["Statement"][0]["Action"], "sns:Publish")
        self.assertEqual(topic_policy["Statement"][0]["Condition"], {"StringEquals": {"aws:SourceAccount": "123456789012"}})

        out = self.create_app(zone)
        self.service(out), self.service(out)
        records = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        aliases = {r["Name"]: r["AliasTarget"] for r in records if r["Type"] == "A"}
        self.assertEqual(set(aliases), {"o-dev-api.example.com.", "api.example.com."})
        self.assertEqual(aliases["api.example.com."]["DNSName"], foundation["AlbDnsName"])
        self.assertEqual(aliases["api.example.com."]["HostedZoneId"], foundation["AlbCanonicalHostedZoneId"])
        soa = next(r for r in records if r["Type"] == "SOA")["ResourceRecords"][0]["Value"]
        self.assertRegex(soa, r"^ns-\d+\.awsdns-\d+\.com\. hostmaster\.example\.com\. 1 ")

        group = elb.describe_target_groups(TargetGroupArns=[out["TargetGroupArn"]])["TargetGroups"][0]
        self.assertEqual((group["TargetType"], group["Port"], group["HealthCheckPath"], group["Matcher"]["HttpCode"]),
                         ("ip", 8080, "/health", "200-399"))
        self.assertEqual(len(group["LoadBalancerArns"]), 1)
        attributes = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(
            TargetGroupArn=out["TargetGroupArn"])["Attributes"]}
        self.assertEqual(attributes["deregistration_delay.timeout_seconds"], "30")

        def rules():
            return {r["RuleArn"]: (r["Priority"], r["Conditions"][0]["HostHeaderConfig"]["Values"] if r["Conditions"] else [])
                    for r in elb.describe_rules(ListenerArn=foundation["HttpsListener"])["Rules"]}

        before = rules()
        self.assertEqual(sorted(before.values()), [("10", ["o-dev-api.example.com"]), ("25010", ["api.example.com"]),
                                                   ("default", [])])
        cs = self.update_app(zone, ListenerRulePriority=12, PreferredListenerRulePriority=25012, LogRetentionInDays=30)
        self.assertEqual({k: (c["Action"], c["Replacement"]) for k, c in self.changes(cs).items()},
                         {"ListenerRule": ("Modify", "False"), "PreferredListenerRule": ("Modify", "False"),
                          "LogGroup": ("Modify", "False")})
        after = rules()
        self.assertEqual(set(after), set(before))  # updated in place
        self.assertEqual(sorted(after.values()), [("12", ["o-dev-api.example.com"]), ("25012", ["api.example.com"]),
                                                  ("default", [])])
        group_log = logs.describe_log_groups(logGroupNamePrefix=out["LogGroupName"])["logGroups"][0]
        self.assertEqual(group_log["retentionInDays"], 30)

        # without a preferred host name its rule and record go
        self.update_app(zone, ListenerRulePriority=12, PreferredListenerRulePriority=25012, LogRetentionInDays=30,
                        PreferredHostName="")
        self.assertEqual(sorted(rules().values()), [("12", ["o-dev-api.example.com"]), ("default", [])])
        self.assertEqual([r["Name"] for r in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
                          if r["Type"] == "A"], ["o-dev-api.example.com."])

        # DeleteStack leaves nothing behind
        self.update_app(zone, ListenerRulePriority=12, PreferredListenerRulePriority=25012, LogRetentionInDays=30,
                        PreferredHostName="", ContainerImage="nginx:1.28")
        self.service(out), self.service(out)
        enis = {eni_detail(t, "networkInterfaceId") for t in self.tasks(out, "RUNNING")}
        self.assertEqual(len(enis), 2)
        self.assertEqual(len(ec2.describe_network_interfaces(NetworkInterfaceIds=list(enis))["NetworkInterfaces"]), 2)
        started = time.monotonic()
        self.delete(self.APP_STACK)
        TIMINGS["app stack: delete"] = time.monotonic() - started
        self.assertEqual(ecs.list_services(cluster=out["ClusterName"])["serviceArns"], [])
        self.assertEqual(self.service(out)["status"], "INACTIVE")
        self.assertEqual(ecs.list_task_definitions(familyPrefix="o-p-dev-app-api")["taskDefinitionArns"], [])
        self.assertEqual(len(ecs.list_task_definitions(familyPrefix="o-p-dev-app-api", status="INACTIVE")["taskDefinitionArns"]), 2)
        self.assertEqual(ecs.list_tasks(cluster=out["ClusterName"], desiredStatus="RUNNING")["taskArns"], [])
        left = {e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces()["NetworkInterfaces"]}
        self.assertFalse(enis & left)  # the tasks' ENIs are gone
        self.assertEqual(sorted(rules().values()), [("default", [])])
        self.assertEqual(sorted(r["Type"] for r in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]),
                         ["NS", "SOA"])
        self.assertEqual([g["TargetGroupArn"] for g in elb.describe_target_groups()["TargetGroups"]], [])
        self.assertEqual(logs.describe_log_groups(logGroupNamePrefix="o-p-dev-app-api")["logGroups"], [])
        self.assertEqual(iam.list_roles(PathPrefix="/o/p/app/")["Roles"], [])
        self.assertEqual(self.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")
                         ["ScalableTargets"], [])
        self.assertEqual(self.client("cloudwatch").describe_alarms(AlarmNamePrefix="TargetTracking")["MetricAlarms"], [])

        # the foundation's key is scheduled for deletion, its alias goes
        self.delete("o-p-dev-compute-fargate")
        self.delete("o-p-dev-foundation")
        self.assertEqual(kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"], "PendingDeletion")
        self.assertNotIn("alias/o-p-dev-foundation-operations", {a["AliasName"] for a in kms.list_aliases()["Aliases"]})

    # -- 23. CodePipeline releases ------------------------------------------------------------------

    RELEASE = "o-p-build-api-main"
    CONNECTION = "arn:aws:codestar-connections:us-east-1:123456789012:connection/4b7a3c2e-0000-4000-8000-000000000001"
    ENVIRONMENTS = {"integration": 11, "staging": 12, "production": 13}  # environment -> listener rule priority
    SHORT = {"pipeline": "rig-short", "stage": "Approve", "action": "Approval"}

    def release_config(self, env, zone, **overrides):
        """An environment's template configuration file: every app stack parameter but ContainerImage."""
        priority = self.ENVIRONMENTS[env]
        values = self.app_values(
            zone, Environment=env, ListenerRulePriority=priority, PreferredListenerRulePriority=25000 + priority,
            HostName=f"o-{env}-api.example.com", PreferredHostName="", TaskDesiredCount=1, AutoScalingMaxCapacity=0,
            ErrorAlarm="false", SsmEnvironmentNamespace=f"/o/p/env/{env}/app/api", IamPath=f"/o/p/app/api/{env}/",
            **overrides)
        del values["ContainerImage"]
        return {"Parameters": {k: str(v) for k, v in values.items()}, "Tags": {"rig:environment": env}}

    def put_release_template(self, env, zone, **overrides):
        body = zipped({"app.yaml": APP, "config.json": json.dumps(self.release_config(env, zone, **overrides))})
        return self.client("s3").put_object(Bucket="rig-o-p-templates", Key=f"{env}/app.zip", Body=body)["VersionId"]

    def release_environment(self, **values):
        """The app environment (zone, foundation, Fargate compute), the artifact bucket, the versioned
        template bucket with each environment's app.zip, and the release pipeline stack; returns the
        zone id and the template objects' versions."""
        zone = self.app_environment()
        s3 = self.client("s3")
        s3.create_bucket(Bucket="rig-o-p-build")
        s3.create_bucket(Bucket="rig-o-p-templates")
        s3.put_bucket_versioning(Bucket="rig-o-p-templates", VersioningConfiguration={"Status": "Enabled"})
        versions = {env: self.put_release_template(env, zone) for env in self.ENVIRONMENTS}
        values = dict(dict(ArtifactBucketName="rig-o-p-build", TemplateBucketName="rig-o-p-templates",
                           ConnectionArn=self.CONNECTION), **values)
        self.create(self.RELEASE, RELEASE_PIPELINE, **values)
        return zone, versions

    def put_short_source(self, summary=None, **parameters):
        config = {
            "Parameters": dict({"Name": "from-config", "Other": "o", "Broken": "false"}, **parameters),
            "Tags": {"team": "rig"},
            "StackPolicy": {"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]},
        }
        extra = {"Metadata": {"codepipeline-artifact-revision-summary": summary}} if summary else {}
        body = zipped({"stack.yaml": RELEASE_SHORT_STACK, "config.json": json.dumps(config)})
        return self.client("s3").put_object(Bucket="rig-short-source", Key="src.zip", Body=body, **extra)["VersionId"]

    def short_environment(self, **values):
        """The short pipeline (rig-short) with its versioned source bucket and artifact bucket."""
        s3 = self.client("s3")
        for bucket in ("rig-short-source", "rig-short-artifacts"):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket="rig-short-source", VersioningConfiguration={"Status": "Enabled"})
        version = self.put_short_source()
        self.create("rig-short-pipeline", RELEASE_SHORT, **values)
        return version

    def update_short(self, **values):
        self.cf.update_stack(StackName="rig-short-pipeline", TemplateBody=RELEASE_SHORT, Parameters=params(**values))
        self.assertEqual(self.stack("rig-short-pipeline")["StackStatus"], "UPDATE_COMPLETE")

    def start_release(self, pipeline=None, commit=None, **extra):
        if commit:
            extra["sourceRevisions"] = [{"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": commit}]
        return self.client("codepipeline").start_pipeline_execution(name=pipeline or self.RELEASE,
                                                                    **extra)["pipelineExecutionId"]

    def until(self, what, check, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}")
            time.sleep(0.05)

    def pipeline_execution(self, execution_id, pipeline=None):
        return self.client("codepipeline").get_pipeline_execution(
            pipelineName=pipeline or self.RELEASE, pipelineExecutionId=execution_id)["pipelineExecution"]

    def finished(self, execution_id, pipeline=None):
        """Waits for the execution to end; returns it (GetPipelineExecution)."""
        def ended():
            execution = self.pipeline_execution(execution_id, pipeline)
            return execution if execution["status"] not in ("InProgress", "Stopping") else None

        return self.until(f"execution {execution_id}", ended)

    def pipeline_state(self, pipeline=None):
        """{stage: {latest: (execution id, status) | None, inbound: execution id | None, actions: {name: state}}}"""
        state = self.client("codepipeline").get_pipeline_state(name=pipeline or self.RELEASE)
        stages = {}
        for stage in state["stageStates"]:
            latest = stage.get("latestExecution")
            stages[stage["stageName"]] = {
                "latest": (latest["pipelineExecutionId"], latest["status"]) if latest else None,
                "inbound": (stage.get("inboundExecution") or {}).get("pipelineExecutionId"),
                "actions": {a["actionName"]: a for a in stage["actionStates"]},
            }
        return stages

    def approval_token(self, execution_id, pipeline=None, stage="Approve", action="ApproveChangeSet"):
        """Waits until the execution's approval waits; returns its token."""
        def waiting():
            state = self.pipeline_state(pipeline)[stage]
            run = state["actions"][action].get("latestExecution") or {}
            held = state["latest"] == (execution_id, "InProgress") and run.get("status") == "InProgress"
            return run.get("token") if held else None

        return self.until(f"the approval of {execution_id}", waiting)

    def approve(self, token, status="Approved", summary="", pipeline=None, stage="Approve", action="ApproveChangeSet"):
        return self.client("codepipeline").put_approval_result(
            pipelineName=pipeline or self.RELEASE, stageName=stage, actionName=action, token=token,
            result={"summary": summary, "status": status})

    def action_executions(self, execution_id, pipeline=None):
        details = self.client("codepipeline").list_action_executions(
            pipelineName=pipeline or self.RELEASE, filter={"pipelineExecutionId": execution_id})["actionExecutionDetails"]
        return {(d["stageName"], d["actionName"]): d for d in details}

    def executions(self, pipeline=None):
        summaries = self.client("codepipeline").list_pipeline_executions(
            pipelineName=pipeline or self.RELEASE)["pipelineExecutionSummaries"]
        return [(s["pipelineExecutionId"], s["status"]) for s in summaries]

    def release(self, commit):
        """One release of the release pipeline, approved once it waits; returns its execution id."""
        execution = self.start_release(commit=commit)
        self.approve(self.approval_token(execution))
        self.assertEqual(self.finished(execution)["status"], "Succeeded")
        return execution

    def stack_parameters(self, name):
        return {p["ParameterKey"]: p["ParameterValue"] for p in self.stack(name).get("Parameters", [])}

    def error_of(self, call):
        with self.assertRaises(ClientError) as caught:
            call()
        return caught.exception.response["Error"]["Code"], caught.exception.response["Error"]["Message"]

    def test_23_pipeline_and_project_through_cloudformation(self):
        cp, cb = self.client("codepipeline"), self.client("codebuild")
        self.release_environment()
        out = self.outputs(self.RELEASE)
        self.assertEqual((out["PipelineName"], out["PipelineVersion"]), (self.RELEASE, "1"))
        got = cp.get_pipeline(name=self.RELEASE)
        pipeline = got["pipeline"]
        self.assertEqual((pipeline["version"], pipeline["pipelineType"], pipeline["executionMode"]), (1, "V2", "SUPERSEDED"))
        self.assertEqual(pipeline["artifactStore"], {"type": "S3", "location": "rig-o-p-build"})
        self.assertTrue(pipeline["roleArn"].startswith("arn:aws:iam::123456789012:role/rig/build/"))
        self.assertEqual([s["name"] for s in pipeline["stages"]],
                         ["Source", "Build", "Deploy-Integration", "Deploy-Staging", "Approve", "Deploy-Production"])
        source = {a["name"]: a for a in pipeline["stages"][0]["actions"]}
        self.assertEqual(source["Source"]["actionTypeId"], {"category": "Source", "owner": "AWS",
                                                            "provider": "CodeStarSourceConnection", "version": "1"})
        self.assertEqual(source["Source"]["configuration"]["DetectChanges"], "true")  # YAML booleans: the API's strings
        self.assertEqual(source["IntegrationTemplate"]["configuration"], {
            "S3Bucket": "rig-o-p-templates", "S3ObjectKey": "integration/app.zip", "PollForSourceChanges": "false"})
        self.assertEqual(source["IntegrationTemplate"]["outputArtifacts"], [{"name": "IntegrationTemplate"}])
        approve = {a["name"]: a for a in pipeline["stages"][4]["actions"]}
        self.assertEqual((approve["CreateChangeSet"]["runOrder"], approve["ApproveChangeSet"]["runOrder"]), (1, 2))
        self.assertEqual(approve["ApproveChangeSet"]["configuration"],
                         {"CustomData": "Review the production change set, then approve."})  # NoValue: no NotificationArn
        self.assertEqual(got["metadata"]["pipelineArn"], f"arn:aws:codepipeline:us-east-1:123456789012:{self.RELEASE}")
        self.assertIn(self.RELEASE, [p["name"] for p in cp.list_pipelines()["pipelines"]])
        self.assertEqual(cp.list_tags_for_resource(resourceArn=got["metadata"]["pipelineArn"])["tags"],
                         [{"key": "Name", "value": self.RELEASE}])
        state = cp.get_pipeline_state(name=self.RELEASE)
        self.assertEqual((state["pipelineVersion"], [a["actionName"] for a in state["stageStates"][0]["actionStates"]]),
                         (1, ["Source", "IntegrationTemplate", "StagingTemplate", "ProductionTemplate"]))
        self.assertNotIn("latestExecution", state["stageStates"][0])
        self.assertEqual(self.executions(), [])

        project = cb.batch_get_projects(names=[out["BuildProject"]])["projects"][0]
        self.assertEqual(project["arn"], out["BuildProjectArn"])
        self.assertEqual(out["RepositoryUri"], "123456789012.dkr.ecr.us-east-1.amazonaws.com/o-p-api-main-ecr-repo")
        self.assertEqual({v["name"]: v["value"] for v in project["environment"]["environmentVariables"]},
                         {"REPOSITORY_URI": out["RepositoryUri"], "BRANCH": "main"})
        self.assertEqual((project["source"]["type"], project["source"]["buildspec"], project["timeoutInMinutes"]),
                         ("CODEPIPELINE", "buildspec.yml", 60))

        # a stack update updates the pipeline (version 2): here the GitHub (version 1) source action instead
        self.cf.update_stack(StackName=self.RELEASE, TemplateBody=RELEASE_PIPELINE, Parameters=params(
            ArtifactBucketName="rig-o-p-build", TemplateBucketName="rig-o-p-templates", ConnectionArn="",
            CustomData="Look first."))
        self.assertEqual(self.stack(self.RELEASE)["StackStatus"], "UPDATE_COMPLETE")
        self.assertEqual(self.outputs(self.RELEASE)["PipelineVersion"], "2")
        pipeline = cp.get_pipeline(name=self.RELEASE)["pipeline"]
        self.assertEqual(pipeline["version"], 2)
        self.assertEqual(pipeline["stages"][0]["actions"][0]["actionTypeId"]["provider"], "GitHub")
        self.assertEqual(pipeline["stages"][0]["actions"][0]["configuration"]["PollForSourceChanges"], "true")
        self.assertEqual(pipeline["stages"][4]["actions"][1]["configuration"]["CustomData"], "Look first.")

        # CodePipeline must be allowed to assume the role
        self.create("rig-untrusted", RELEASE_UNTRUSTED, status="ROLLBACK_COMPLETE")
        reason = next(e["ResourceStatusReason"] for e in self.events("rig-untrusted") if e["ResourceStatus"] == "CREATE_FAILED")
        self.assertRegex(reason, r"^InvalidStructureException: CodePipeline is not authorized to perform AssumeRole "
                                 r"on role arn:aws:iam::123456789012:role/rig-untrusted-Role-\w+$")

        # deleting the stack deletes the pipeline and the project
        self.delete(self.RELEASE)
        self.assertEqual(self.error_of(lambda: cp.get_pipeline(name=self.RELEASE))[0], "PipelineNotFoundException")
        self.assertEqual(cb.batch_get_projects(names=[out["BuildProject"]])["projects"], [])

    def test_23_release_walks_every_stage(self):
        s3, ecr, ecs = self.client("s3"), self.client("ecr"), self.client("ecs")
        zone, versions = self.release_environment()
        out = self.outputs(self.RELEASE)
        started = time.monotonic()
        execution = self.start_release(commit=COMMIT_1)
        token = self.approval_token(execution)
        TIMINGS["release: start to the approval (2 app stacks, a change set)"] = time.monotonic() - started
        state = self.pipeline_state()
        self.assertEqual({stage: s["latest"] for stage, s in state.items()}, {
            "Source": (execution, "Succeeded"), "Build": (execution, "Succeeded"),
            "Deploy-Integration": (execution, "Succeeded"), "Deploy-Staging": (execution, "Succeeded"),
            "Approve": (execution, "InProgress"), "Deploy-Production": None})
        sources = state["Source"]["actions"]
        self.assertEqual(sources["Source"]["currentRevision"]["revisionId"], COMMIT_1)
        self.assertEqual(sources["IntegrationTemplate"]["currentRevision"]["revisionId"], versions["integration"])
        self.assertEqual(state["Approve"]["actions"]["CreateChangeSet"]["latestExecution"]["status"], "Succeeded")
        self.assertEqual(state["Approve"]["actions"]["ApproveChangeSet"]["latestExecution"]["status"], "InProgress")

        [summary] = self.client("codepipeline").list_pipeline_executions(pipelineName=self.RELEASE)["pipelineExecutionSummaries"]
        self.assertEqual((summary["pipelineExecutionId"], summary["status"], summary["executionMode"],
                          summary["trigger"]["triggerType"]), (execution, "InProgress", "SUPERSEDED", "StartPipelineExecution"))
        revisions = {r["actionName"]: r for r in summary["sourceRevisions"]}
        self.assertEqual(revisions["Source"]["revisionId"], COMMIT_1)
        self.assertEqual(json.loads(revisions["Source"]["revisionSummary"]),
                         {"ProviderType": "GitHub", "CommitMessage": f"Commit {COMMIT_1}"})
        self.assertIn(f"&FullRepositoryId=o/api&Commit={COMMIT_1}", revisions["Source"]["revisionUrl"])
        self.assertEqual({name: r["revisionId"] for name, r in revisions.items() if name != "Source"},
                         {f"{env.title()}Template": version for env, version in versions.items()})

        # the build: an image tagged with the commit's first 8 characters in the repository of REPOSITORY_URI,
        # build.json in BuildOutput, a build in CodeBuild
        tag = COMMIT_1[:8]
        image = f"{out['RepositoryUri']}:{tag}"
        self.assertEqual([i["imageTags"] for i in ecr.describe_images(repositoryName="o-p-api-main-ecr-repo")["imageDetails"]],
                         [[tag]])
        actions = self.action_executions(execution)
        build = actions[("Build", "Build")]
        [artifact] = build["output"]["outputArtifacts"]
        self.assertEqual((artifact["name"], artifact["s3location"]["bucket"]), ("BuildOutput", "rig-o-p-build"))
        self.assertRegex(artifact["s3location"]["key"], r"^o-p-build-api-main/BuildOutpu/[A-Za-z0-9]{7}$")
        body = s3.get_object(Bucket="rig-o-p-build", Key=artifact["s3location"]["key"])["Body"].read()
        self.assertEqual(json.loads(unzipped(body)["build.json"]), {"image": image, "tag": tag})
        build_id = build["output"]["executionResult"]["externalExecutionId"]
        self.assertRegex(build_id, r"^o-p-api-main-build:[-0-9a-f]{36}$")
        self.assertIn(f"#/builds/{build_id}/view/new", build["output"]["executionResult"]["externalExecutionUrl"])
        recorded = self.client("codebuild").batch_get_builds(ids=[build_id])["builds"][0]
        self.assertEqual((recorded["buildStatus"], recorded["resolvedSourceVersion"], recorded["currentPhase"]),
                         ("SUCCEEDED", COMMIT_1, "COMPLETED"))
        folders = {o["Key"].split("/")[1] for o in s3.list_objects_v2(Bucket="rig-o-p-build")["Contents"]}
        self.assertEqual(folders, {"SourceOutp", "Integratio", "StagingTem", "Production", "BuildOutpu"})

        # integration and staging: the app stacks with the image, the configuration's parameters and tags,
        # their ECS service rolled out (the action polled it to COMPLETED)
        for env in ("integration", "staging"):
            name = f"o-p-{env}-app-api"
            stack = self.stack(name)
            self.assertEqual(stack["StackStatus"], "CREATE_COMPLETE")
            parameters = self.stack_parameters(name)
            self.assertEqual((parameters["ContainerImage"], parameters["Environment"], parameters["HostName"]),
                             (image, env, f"o-{env}-api.example.com"))
            self.assertEqual(stack["Tags"], [{"Key": "rig:environment", "Value": env}])
            app = self.outputs(name)
            service = ecs.describe_services(cluster=app["ClusterName"], services=[app["ServiceName"]])["services"][0]
            self.assertEqual([(d["status"], d["rolloutState"]) for d in service["deployments"]], [("PRIMARY", "COMPLETED")])
            self.assertEqual(service["runningCount"], 1)
        deploy = actions[("Deploy-Integration", "Deploy")]
        self.assertEqual(deploy["input"]["configuration"]["ParameterOverrides"],
                         '{"ContainerImage": {"Fn::GetParam": ["BuildOutput", "build.json", "image"]}}')
        self.assertEqual(deploy["input"]["resolvedConfiguration"], deploy["input"]["configuration"])
        self.assertEqual([a["name"] for a in deploy["input"]["inputArtifacts"]], ["IntegrationTemplate", "BuildOutput"])
        self.assertEqual(deploy["output"]["executionResult"]["externalExecutionId"],
                         self.stack("o-p-integration-app-api")["StackId"])
        self.assertEqual(deploy["output"]["outputVariables"]["ContainerImage"], image)  # the stack's outputs

        # production: a CREATE change set (the stack REVIEW_IN_PROGRESS) waits for the approval
        self.assertEqual(self.stack("o-p-production-app-api")["StackStatus"], "REVIEW_IN_PROGRESS")
        change_set = self.cf.describe_change_set(ChangeSetName="o-p-production-app-api", StackName="o-p-production-app-api")
        self.assertEqual(change_set["Status"], "CREATE_COMPLETE")
        self.approve(token, summary="Reviewed the change set")
        done = self.finished(execution)
        TIMINGS["release: start to Succeeded (3 app stacks)"] = time.monotonic() - started
        self.assertEqual(done["status"], "Succeeded")
        self.assertEqual(self.stack("o-p-production-app-api")["StackStatus"], "CREATE_COMPLETE")
        self.assertEqual(self.stack_parameters("o-p-production-app-api")["ContainerImage"], image)
        state = self.pipeline_state()
        self.assertEqual(state["Deploy-Production"]["latest"], (execution, "Succeeded"))
        approved = state["Approve"]["actions"]["ApproveChangeSet"]["latestExecution"]
        self.assertEqual((approved["status"], approved["summary"], approved["lastUpdatedBy"]),
                         ("Succeeded", "Reviewed the change set", "arn:aws:sts::123456789012:user/moto"))
        self.assertNotIn("token", approved)
        actions = self.action_executions(execution)
        self.assertEqual(sorted(actions), sorted([
            ("Source", "Source"), ("Source", "IntegrationTemplate"), ("Source", "StagingTemplate"),
            ("Source", "ProductionTemplate"), ("Build", "Build"), ("Deploy-Integration", "Deploy"),
            ("Deploy-Staging", "Deploy"), ("Approve", "CreateChangeSet"), ("Approve", "ApproveChangeSet"),
            ("Deploy-Production", "ExecuteChangeSet")]))
        self.assertEqual({a["status"] for a in actions.values()}, {"Succeeded"})
        self.assertEqual({r["name"]: r["revisionId"] for r in done["artifactRevisions"]}, {
            "SourceOutput": COMMIT_1, "IntegrationTemplate": versions["integration"],
            "StagingTemplate": versions["staging"], "ProductionTemplate": versions["production"]})
        self.assertEqual(self.executions(), [(execution, "Succeeded")])

    def test_23_next_releases_rebuild_crash_and_stop(self):
        cp, cb, ecr, ecs = (self.client(s) for s in ("codepipeline", "codebuild", "ecr", "ecs"))
        self.release_environment()
        repository = self.outputs(self.RELEASE)["RepositoryUri"]
        first = self.release(COMMIT_1)
        integration = self.outputs("o-p-integration-app-api")

        def service():
            return ecs.describe_services(cluster=integration["ClusterName"],
                                         services=[integration["ServiceName"]])["services"][0]

        before = service()["taskDefinition"]

        # a new commit: every stack updated to its image; the services' new deployments completed
        second = self.release(COMMIT_2)
        for env in self.ENVIRONMENTS:
            self.assertEqual(self.stack(f"o-p-{env}-app-api")["StackStatus"], "UPDATE_COMPLETE")
            self.assertEqual(self.stack_parameters(f"o-p-{env}-app-api")["ContainerImage"], f"{repository}:aaaaaaaa")
        updated = service()
        self.assertNotEqual(updated["taskDefinition"], before)
        self.assertEqual([(d["status"], d["rolloutState"]) for d in updated["deployments"]], [("PRIMARY", "COMPLETED")])

        # the same commit again: its tag exists in the immutable repository, the build fails, nothing is deployed
        third = self.start_release(commit=COMMIT_1)
        self.assertEqual(self.finished(third)["status"], "Failed")
        state = self.pipeline_state()
        self.assertEqual((state["Build"]["latest"], state["Deploy-Integration"]["latest"]),
                         ((third, "Failed"), (second, "Succeeded")))  # later stages show the previous execution
        message = (f"Build terminated with state: FAILED. Phase: POST_BUILD, Code: COMMAND_EXECUTION_ERROR, Message: Error "
                   f"while executing command: docker push {repository}:11111111. Reason: exit status 1 (tag invalid: "
                   "The image tag '11111111' already exists in the 'o-p-api-main-ecr-repo' repository and cannot be "
                   "overwritten because the repository is immutable.)")
        build = state["Build"]["actions"]["Build"]["latestExecution"]
        self.assertEqual((build["status"], build["errorDetails"]), ("Failed", {"code": "JobFailed", "message": message}))
        actions = self.action_executions(third)
        self.assertEqual(sorted(actions), [("Build", "Build"), ("Source", "IntegrationTemplate"),
                                           ("Source", "ProductionTemplate"), ("Source", "Source"), ("Source", "StagingTemplate")])
        result = actions[("Build", "Build")]["output"]
        self.assertEqual((result["executionResult"]["externalExecutionSummary"], result["outputArtifacts"]), (message, []))
        self.assertEqual(result["executionResult"]["errorDetails"], {"code": "JobFailed", "message": message})
        recorded = cb.batch_get_builds(ids=[build["externalExecutionId"]])["builds"][0]
        self.assertEqual(recorded["buildStatus"], "FAILED")
        self.assertEqual([(p["phaseStatus"], p["contexts"][0]["message"]) for p in recorded["phases"] if p["phaseType"] == "POST_BUILD"],
                         [("FAILED", message.split("Message: ", 1)[1])])
        self.assertEqual(sorted(cb.list_builds_for_project(projectName="o-p-api-main-build")["ids"]),
                         sorted(a["output"]["executionResult"]["externalExecutionId"] for a in [
                             self.action_executions(e)[("Build", "Build")] for e in (first, second, third)]))
        self.assertEqual(len(ecr.describe_images(repositoryName="o-p-api-main-ecr-repo")["imageDetails"]), 2)

        # a crashing image: the circuit breaker rolls the services back, the stacks stay UPDATE_COMPLETE (18), and the
        # actions, whose outcome is the stack's, succeed
        crash = self.start_release(commit=CRASH_COMMIT)
        self.approval_token(crash)
        self.assertEqual(self.pipeline_state()["Deploy-Integration"]["latest"], (crash, "Succeeded"))
        self.assertEqual(self.stack_parameters("o-p-integration-app-api")["ContainerImage"], f"{repository}:crash001")
        rolled_back = service()
        self.assertEqual(rolled_back["taskDefinition"], updated["taskDefinition"])  # the second release's image again
        self.assertEqual([(d["status"], d["rolloutState"]) for d in rolled_back["deployments"]], [("PRIMARY", "COMPLETED")])
        self.assertIn("rolling back to deployment", " ".join(e["message"] for e in rolled_back["events"]))

        # stopped (abandon) while its approval waits: the approval Abandoned, the execution Stopped
        cp.stop_pipeline_execution(pipelineName=self.RELEASE, pipelineExecutionId=crash, abandon=True, reason="it crashes")
        self.assertEqual(self.finished(crash)["status"], "Stopped")
        state = self.pipeline_state()
        self.assertEqual(state["Approve"]["latest"], (crash, "Stopped"))
        self.assertEqual(state["Approve"]["actions"]["ApproveChangeSet"]["latestExecution"]["status"], "Abandoned")
        self.assertEqual(state["Deploy-Production"]["latest"], (second, "Succeeded"))
        self.assertEqual(self.executions(), [(crash, "Stopped"), (third, "Failed"), (second, "Succeeded"), (first, "Succeeded")])
        summary = cp.list_pipeline_executions(pipelineName=self.RELEASE, maxResults=1)
        self.assertEqual((summary["pipelineExecutionSummaries"][0]["stopTrigger"], summary["nextToken"]),
                         ({"reason": "it crashes"}, "1"))
        self.assertEqual(self.error_of(lambda: cp.stop_pipeline_execution(
            pipelineName=self.RELEASE, pipelineExecutionId=crash))[0], "PipelineExecutionNotStoppableException")

    def test_23_approval_notification_rejection_and_tokens(self):
        cp, sns, sqs = self.client("codepipeline"), self.client("sns"), self.client("sqs")
        topic = sns.create_topic(Name="rig-approvals")["TopicArn"]
        queue = sqs.create_queue(QueueName="rig-approvals")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        self.release_environment(ApprovalTopicArn=topic, ConnectionArn="")  # the GitHub (version 1) source action
        execution = self.start_release(commit=COMMIT_1)
        token = self.approval_token(execution)
        [revision] = [r for r in self.client("codepipeline").list_pipeline_executions(
            pipelineName=self.RELEASE)["pipelineExecutionSummaries"][0]["sourceRevisions"] if r["actionName"] == "Source"]
        self.assertEqual(revision, {"actionName": "Source", "revisionId": COMMIT_1, "revisionSummary": f"Commit {COMMIT_1}",
                                    "revisionUrl": f"https://github.com/o/api/commit/{COMMIT_1}"})

        [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=5)["Messages"]
        envelope = json.loads(message["Body"])
        self.assertEqual(envelope["Subject"], f"APPROVAL NEEDED: AWS CodePipeline {self.RELEASE} for action ApproveChangeSet")
        notice = json.loads(envelope["Message"])
        approval = notice["approval"]
        self.assertEqual((notice["region"], approval["pipelineName"], approval["stageName"], approval["actionName"],
                          approval["token"], approval["customData"]),
                         ("us-east-1", self.RELEASE, "Approve", "ApproveChangeSet", token,
                          "Review the production change set, then approve."))
        self.assertTrue(approval["approvalReviewLink"].endswith(f"#/view/{self.RELEASE}/Approve/ApproveChangeSet/approve/{token}"))
        self.assertRegex(approval["expires"], r"^\d{4}-\d\d-\d\dT\d\d:\d\dZ$")

        self.assertEqual(self.error_of(lambda: self.approve("0" * 36)),
                         ("InvalidApprovalTokenException", "The approval request already received a response or has expired."))
        self.assertEqual(self.error_of(lambda: self.approve(token, stage="Nope"))[0], "StageNotFoundException")
        self.assertEqual(self.error_of(lambda: self.approve(token, action="Nope"))[0], "ActionNotFoundException")
        self.assertEqual(self.error_of(lambda: self.approve(token, pipeline="nope"))[0], "PipelineNotFoundException")
        self.assertEqual(self.error_of(lambda: self.approve(token, status="Maybe"))[0], "ValidationException")

        # rejected: the approval fails with the comment, so do the stage and the execution; production is not deployed
        self.approve(token, status="Rejected", summary="Not this week")
        self.assertEqual(self.finished(execution)["status"], "Failed")
        state = self.pipeline_state()
        rejected = state["Approve"]["actions"]["ApproveChangeSet"]["latestExecution"]
        self.assertEqual((rejected["status"], rejected["summary"], rejected["errorDetails"]), (
            "Failed", "Not this week",
            {"code": "JobFailed", "message": "Rejected by arn:aws:sts::123456789012:user/moto. Comment: Not this week"}))
        self.assertEqual((state["Approve"]["latest"], state["Deploy-Production"]["latest"]), ((execution, "Failed"), None))
        self.assertEqual(self.stack("o-p-production-app-api")["StackStatus"], "REVIEW_IN_PROGRESS")
        self.assertEqual(self.error_of(lambda: self.approve(token)), (
            "ApprovalAlreadyCompletedException", "The approval request that you responded to is already complete or has expired."))
        self.assertEqual(cp.list_pipeline_executions(pipelineName=self.RELEASE)["pipelineExecutionSummaries"][0]["status"],
                         "Failed")

        # without a COMMIT_ID the source action makes up a commit; the image is tagged with its first 8 characters
        generated = self.start_release()
        self.approval_token(generated)
        commit = self.pipeline_execution(generated)["artifactRevisions"][0]["revisionId"]
        self.assertRegex(commit, r"^[0-9a-f]{40}$")
        self.assertEqual(self.stack_parameters("o-p-integration-app-api")["ContainerImage"],
                         f"{self.outputs(self.RELEASE)['RepositoryUri']}:{commit[:8]}")
        cp.stop_pipeline_execution(pipelineName=self.RELEASE, pipelineExecutionId=generated, abandon=True)
        self.assertEqual(self.finished(generated)["status"], "Stopped")

    def test_23_reset_ends_executions(self):
        self.short_environment()
        waiting = self.start_release("rig-short")
        self.approval_token(waiting, **self.SHORT)
        urllib.request.urlopen(urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST")).read()
        self.short_environment()  # the same names again: nothing of the execution before the reset is left
        self.assertEqual(self.executions("rig-short"), [])
        state = self.pipeline_state("rig-short")
        self.assertEqual([s["latest"] for s in state.values()], [None, None, None])
        self.assertEqual(self.cf.describe_stacks()["Stacks"][0]["StackName"], "rig-short-pipeline")
        # a request of a walker started before the reset is refused before it reaches moto
        stale = urllib.request.Request(self.endpoint + "/?Action=ListStacks&Version=2010-05-15",
                                       headers={"X-Rig-Generation": "0"})
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(stale)
        self.assertEqual(caught.exception.code, 410)

    def test_23_superseded_queued_and_stopped_executions(self):
        cp = self.client("codepipeline")
        self.short_environment()
        first = self.start_release("rig-short")
        token = self.approval_token(first, **self.SHORT)
        # a newer execution waits at the entrance of the stage the approval locks ...
        second = self.start_release("rig-short")
        self.until("the second execution at the Approve stage", lambda: self.pipeline_state("rig-short")["Approve"]["inbound"] == second)
        self.assertEqual(self.pipeline_state("rig-short")["Source"]["latest"], (second, "Succeeded"))
        # ... and is superseded by a newer one arriving there
        third = self.start_release("rig-short")
        self.until("the second execution superseded", lambda: self.pipeline_execution(second, "rig-short")["status"] == "Superseded")
        state = self.until("the third execution waiting", lambda: (lambda s: s if s["Approve"]["inbound"] == third else None)(
            self.pipeline_state("rig-short")))
        self.assertEqual(state["Approve"]["latest"], (first, "InProgress"))  # the first still holds the stage
        self.assertEqual(sorted(self.action_executions(second, "rig-short")), [("Source", "Src")])
        # the first approved: it deploys; the third enters the stage and waits for its own approval
        self.approve(token, **self.SHORT)
        self.assertEqual(self.finished(first, "rig-short")["status"], "Succeeded")
        self.assertNotEqual(self.approval_token(third, **self.SHORT), token)
        self.assertEqual(self.executions("rig-short"), [(third, "InProgress"), (second, "Superseded"), (first, "Succeeded")])

        # stop and abandon: the waiting approval is abandoned, the stage and the execution Stopped
        cp.stop_pipeline_execution(pipelineName="rig-short", pipelineExecutionId=third, abandon=True)
        self.assertEqual(self.finished(third, "rig-short")["status"], "Stopped")
        state = self.pipeline_state("rig-short")
        self.assertEqual((state["Approve"]["latest"], state["Deploy"]["latest"]), ((third, "Stopped"), (first, "Succeeded")))
        self.assertEqual(state["Approve"]["actions"]["Approval"]["latestExecution"]["status"], "Abandoned")

        # stop and wait: the action in progress (the approval) completes, no later one starts
        fourth = self.start_release("rig-short")
        token = self.approval_token(fourth, **self.SHORT)
        cp.stop_pipeline_execution(pipelineName="rig-short", pipelineExecutionId=fourth, reason="later")
        self.assertEqual(self.pipeline_execution(fourth, "rig-short")["status"], "Stopping")
        self.assertEqual(self.error_of(lambda: cp.stop_pipeline_execution(
            pipelineName="rig-short", pipelineExecutionId=fourth))[0], "DuplicatedStopRequestException")
        self.approve(token, **self.SHORT)
        self.assertEqual(self.finished(fourth, "rig-short")["status"], "Stopped")
        state = self.pipeline_state("rig-short")
        self.assertEqual((state["Approve"]["latest"], state["Deploy"]["latest"]), ((fourth, "Stopped"), (first, "Succeeded")))
        self.assertEqual(state["Approve"]["actions"]["Approval"]["latestExecution"]["status"], "Succeeded")

        # QUEUED: waiting executions are not superseded, they enter one after the other
        self.update_short(ExecutionMode="QUEUED")
        queued = [self.start_release("rig-short") for _ in range(3)]
        token = self.approval_token(queued[0], **self.SHORT)
        self.until("two executions queued at the Approve stage", lambda: [e["pipelineExecutionId"] for e in cp.get_pipeline_state(
            name="rig-short")["stageStates"][1].get("inboundExecutions", [])] == queued[1:])
        self.approve(token, **self.SHORT)
        self.approve(self.approval_token(queued[1], **self.SHORT), **self.SHORT)
        self.approval_token(queued[2], **self.SHORT)
        self.assertEqual([self.finished(e, "rig-short")["status"] for e in queued[:2]], ["Succeeded", "Succeeded"])
        self.assertEqual(self.executions("rig-short")[:3], [(queued[2], "InProgress"), (queued[1], "Succeeded"),
                                                            (queued[0], "Succeeded")])

        # deleting the pipeline ends its executions
        self.delete("rig-short-pipeline")
        self.assertEqual(self.error_of(lambda: cp.get_pipeline_state(name="rig-short"))[0], "PipelineNotFoundException")

    def test_23_cloudformation_action_modes_and_failures(self):
        s3 = self.client("s3")
        self.short_environment(WithApproval="false")
        first = self.start_release("rig-short")
        self.assertEqual(self.finished(first, "rig-short")["status"], "Succeeded")
        actions = self.action_executions(first, "rig-short")
        source = actions[("Source", "Src")]["output"]["outputArtifacts"][0]["s3location"]
        self.assertRegex(source["key"], r"^rig-short/Src/[A-Za-z0-9]{7}$")
        # overrides win over the configuration file; Fn::GetArtifactAtt; the configuration's tags and stack policy
        self.assertEqual(self.stack_parameters("rig-short-stack"),
                         {"Name": "from-override", "Other": "o", "Broken": "false", "Key": source["key"]})
        stack = self.stack("rig-short-stack")
        self.assertEqual((stack["StackStatus"], stack["Tags"]), ("CREATE_COMPLETE", [{"Key": "team", "Value": "rig"}]))
        policy = json.loads(self.cf.get_stack_policy(StackName="rig-short-stack")["StackPolicyBody"])
        self.assertEqual(policy["Statement"][0]["Action"], "Update:*")
        deploy = actions[("Deploy", "Stack")]
        outputs = self.outputs("rig-short-stack")
        self.assertEqual((deploy["output"]["outputVariables"], deploy["output"]["executionResult"]["externalExecutionSummary"]),
                         (outputs, "Stack rig-short-stack created."))
        [written] = deploy["output"]["outputArtifacts"]
        self.assertEqual(written["name"], "StackOutputs")
        body = s3.get_object(Bucket=written["s3location"]["bucket"], Key=written["s3location"]["key"])["Body"].read()
        self.assertEqual(json.loads(unzipped(body)["outputs.json"]), outputs)

        # an update that fails: UPDATE_ROLLBACK_COMPLETE, the action fails with the status and the first failed resource
        self.put_short_source(Broken="true")
        failed = self.start_release("rig-short")
        self.assertEqual(self.finished(failed, "rig-short")["status"], "Failed")
        error = self.pipeline_state("rig-short")["Deploy"]["actions"]["Stack"]["latestExecution"]["errorDetails"]
        self.assertEqual(error["code"], "JobFailed")
        self.assertRegex(error["message"], r"^Failed to update stack rig-short-stack\. Current stack status: "
                                           r"UPDATE_ROLLBACK_COMPLETE\. Reason: Subnet: InvalidVpcID\.NotFound: ")

        # a create that fails: ROLLBACK_COMPLETE; CREATE_UPDATE then fails as UpdateStack does (it does not replace the stack)
        self.delete("rig-short-stack")
        failed = self.start_release("rig-short")
        self.assertEqual(self.finished(failed, "rig-short")["status"], "Failed")
        error = self.pipeline_state("rig-short")["Deploy"]["actions"]["Stack"]["latestExecution"]["errorDetails"]
        self.assertRegex(error["message"], r"^Failed to create stack rig-short-stack\. Current stack status: "
                                           r"ROLLBACK_COMPLETE\. Reason: Subnet: InvalidVpcID\.NotFound: ")
        rolled_back = self.stack("rig-short-stack")["StackId"]
        self.put_short_source()
        failed = self.start_release("rig-short")
        self.assertEqual(self.finished(failed, "rig-short")["status"], "Failed")
        error = self.pipeline_state("rig-short")["Deploy"]["actions"]["Stack"]["latestExecution"]["errorDetails"]
        self.assertRegex(error["message"], rf"^Stack:{re.escape(rolled_back)} is in ROLLBACK_COMPLETE state and can not be "
                                           r"updated\. \(Service: AmazonCloudFormation; Status Code: 400; Error Code: "
                                           r"ValidationError; Request ID: \S+; Proxy: null\)$")

        # REPLACE_ON_FAILURE deletes the failed stack and creates it again
        self.update_short(WithApproval="false", ActionMode="REPLACE_ON_FAILURE", Overrides='{"Name": "from-override"}')
        replaced = self.start_release("rig-short")
        self.assertEqual(self.finished(replaced, "rig-short")["status"], "Succeeded")
        self.assertEqual(self.cf.describe_stacks(StackName=rolled_back)["Stacks"][0]["StackStatus"], "DELETE_COMPLETE")
        self.assertEqual(self.stack("rig-short-stack")["StackStatus"], "CREATE_COMPLETE")
        # the same source again: no updates are to be performed, which succeeds
        self.put_short_source()
        again = self.start_release("rig-short")
        self.assertEqual(self.finished(again, "rig-short")["status"], "Succeeded")
        deploy = self.action_executions(again, "rig-short")[("Deploy", "Stack")]
        self.assertEqual(deploy["output"]["executionResult"]["externalExecutionSummary"], "No updates are to be performed.")

        # DELETE_ONLY
        self.update_short(WithApproval="false", ActionMode="DELETE_ONLY", Overrides='{"Name": "from-override"}')
        stack_id = self.stack("rig-short-stack")["StackId"]
        deleted = self.start_release("rig-short")
        self.assertEqual(self.finished(deleted, "rig-short")["status"], "Succeeded")
        self.assertEqual(self.cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"], "DELETE_COMPLETE")

        # CHANGE_SET_REPLACE (CREATE while the stack does not exist), CHANGE_SET_EXECUTE; then the same source:
        # a change set without changes, which both modes take as success; then a failing execution
        def run(mode, status="Succeeded"):
            self.update_short(WithApproval="false", ActionMode=mode, Overrides='{"Name": "from-override"}')
            execution = self.start_release("rig-short")
            self.assertEqual(self.finished(execution, "rig-short")["status"], status)
            return execution, self.action_executions(execution, "rig-short")[("Deploy", "Stack")]["output"][
                "executionResult"]

        _, result = run("CHANGE_SET_REPLACE")
        self.assertEqual(result["externalExecutionSummary"], "Change set rig-short-change of stack rig-short-stack was "
                                                             "created (CREATE).")
        self.assertEqual(self.stack("rig-short-stack")["StackStatus"], "REVIEW_IN_PROGRESS")
        _, result = run("CHANGE_SET_EXECUTE")
        self.assertEqual(result["externalExecutionSummary"], "Change set rig-short-change of stack rig-short-stack executed.")
        self.assertEqual(self.stack("rig-short-stack")["StackStatus"], "CREATE_COMPLETE")
        _, result = run("CHANGE_SET_REPLACE")
        self.assertEqual(result["externalExecutionSummary"], "The submitted information didn't contain changes. Submit "
                                                             "different information to create a change set.")
        _, result = run("CHANGE_SET_EXECUTE")
        self.assertEqual(result["externalExecutionSummary"], "Change set rig-short-change of stack rig-short-stack "
                                                             "contains no changes: nothing to execute.")
        self.put_short_source(Broken="true")
        run("CHANGE_SET_REPLACE")
        self.assertEqual(self.cf.describe_change_set(ChangeSetName="rig-short-change", StackName="rig-short-stack")[
            "Status"], "CREATE_COMPLETE")
        executed, result = run("CHANGE_SET_EXECUTE", "Failed")
        self.assertRegex(result["errorDetails"]["message"],
                         r"^Failed to execute change set rig-short-change of stack rig-short-stack\. Current stack status: "
                         r"UPDATE_ROLLBACK_COMPLETE\. Reason: Subnet: InvalidVpcID\.NotFound: ")

        # a missing source object (or bucket): the Source action fails, nothing is deployed
        s3.delete_object(Bucket="rig-short-source", Key="src.zip")
        missing = self.start_release("rig-short")
        self.assertEqual(self.finished(missing, "rig-short")["status"], "Failed")
        state = self.pipeline_state("rig-short")
        self.assertEqual((state["Source"]["latest"], state["Deploy"]["latest"]), ((missing, "Failed"), (executed, "Failed")))
        self.assertEqual(state["Source"]["actions"]["Src"]["latestExecution"]["errorDetails"], {
            "code": "JobFailed",
            "message": "Could not access the Amazon S3 source object s3://rig-short-source/src.zip. NoSuchKey: The specified "
                       "key does not exist."})
        self.update_short(WithApproval="false", SourceBucket="rig-short-nowhere")
        missing = self.start_release("rig-short")
        self.assertEqual(self.finished(missing, "rig-short")["status"], "Failed")
        self.assertEqual(self.pipeline_state("rig-short")["Source"]["actions"]["Src"]["latestExecution"]["errorDetails"]["message"],
                         "Could not access the Amazon S3 source object s3://rig-short-nowhere/src.zip. NoSuchBucket: The "
                         "specified bucket does not exist")

    def test_23_api_errors_and_source_revisions(self):
        cp = self.client("codepipeline")
        version_1 = self.short_environment(WithApproval="false")
        version_2 = self.put_short_source(summary="second upload")
        missing = "Account '123456789012' does not have a pipeline with name 'nope'"
        for call in (lambda: cp.get_pipeline_state(name="nope"), lambda: cp.start_pipeline_execution(name="nope"),
                     lambda: cp.list_pipeline_executions(pipelineName="nope"),
                     lambda: cp.list_action_executions(pipelineName="nope"),
                     lambda: cp.get_pipeline_execution(pipelineName="nope", pipelineExecutionId=str(uuid.uuid4())),
                     lambda: cp.stop_pipeline_execution(pipelineName="nope", pipelineExecutionId=str(uuid.uuid4()))):
            self.assertEqual(self.error_of(call), ("PipelineNotFoundException", missing))
        unknown = str(uuid.uuid4())
        for call in (lambda: cp.get_pipeline_execution(pipelineName="rig-short", pipelineExecutionId=unknown),
                     lambda: cp.list_action_executions(pipelineName="rig-short", filter={"pipelineExecutionId": unknown})):
            self.assertEqual(self.error_of(call)[0], "PipelineExecutionNotFoundException")
        for revision in ({"actionName": "Nope", "revisionType": "COMMIT_ID", "revisionValue": COMMIT_1},
                         {"actionName": "Src", "revisionType": "COMMIT_ID", "revisionValue": COMMIT_1}):
            self.assertEqual(self.error_of(lambda: cp.start_pipeline_execution(name="rig-short", sourceRevisions=[revision]))[0],
                             "ValidationException")
        self.assertEqual(self.error_of(lambda: cp.start_pipeline_execution(
            name="rig-short", variables=[{"name": "Nope", "value": "1"}]))[0], "ValidationException")

        # S3_OBJECT_VERSION_ID picks that version; the same clientRequestToken is the same execution
        older = cp.start_pipeline_execution(name="rig-short", clientRequestToken="release-1", sourceRevisions=[
            {"actionName": "Src", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": version_1}])["pipelineExecutionId"]
        self.assertEqual(cp.start_pipeline_execution(name="rig-short", clientRequestToken="release-1")["pipelineExecutionId"], older)
        self.assertEqual(self.finished(older, "rig-short")["status"], "Succeeded")
        newer = self.start_release("rig-short")
        self.assertEqual(self.finished(newer, "rig-short")["status"], "Succeeded")
        summaries = cp.list_pipeline_executions(pipelineName="rig-short")["pipelineExecutionSummaries"]
        self.assertEqual([(s["pipelineExecutionId"], s["sourceRevisions"]) for s in summaries], [
            (newer, [{"actionName": "Src", "revisionId": version_2, "revisionSummary": "second upload"}]),
            (older, [{"actionName": "Src", "revisionId": version_1}])])
        execution = self.pipeline_execution(newer, "rig-short")
        self.assertEqual((execution["pipelineVersion"], execution["executionMode"], execution["trigger"]),
                         (1, "SUPERSEDED", {"triggerType": "StartPipelineExecution",
                                            "triggerDetail": "arn:aws:sts::123456789012:user/moto"}))
        [artifact] = execution["artifactRevisions"]
        self.assertEqual((artifact["name"], artifact["revisionId"], artifact["revisionSummary"]), ("Src", version_2, "second upload"))
        first_page = cp.list_action_executions(pipelineName="rig-short", maxResults=2)
        self.assertEqual([(d["pipelineExecutionId"], d["actionName"]) for d in first_page["actionExecutionDetails"]],
                         [(newer, "Stack"), (newer, "Src")])  # newest first
        rest = cp.list_action_executions(pipelineName="rig-short", nextToken=first_page["nextToken"])
        self.assertEqual([(d["pipelineExecutionId"], d["actionName"]) for d in rest["actionExecutionDetails"]],
                         [(older, "Stack"), (older, "Src")])
        self.assertEqual([s for s in cp.list_pipeline_executions(
            pipelineName="rig-short", filter={"succeededInStage": {"stageName": "Deploy"}})["pipelineExecutionSummaries"]
            if s["status"] != "Succeeded"], [])

    # -- timing --------------------------------------------------------------------------------------

    def test_25_elastic_ip_quota(self):
        attributes = self.client("ec2").describe_account_attributes()["AccountAttributes"]
        values = {a["AttributeName"]: a["AttributeValues"][0]["AttributeValue"] for a in attributes}
        self.assertEqual((values["vpc-max-elastic-ips"], values["max-elastic-ips"]), ("20", "20"))
        self.assertEqual(values["max-instances"], "20")  # the others as moto reports them

    def test_26_bucket_versioning_and_public_access_block(self):
        def template(status, block):
            props = {"BucketName": "rig-moto-versioned", "VersioningConfiguration": {"Status": status}}
            if block:
                props["PublicAccessBlockConfiguration"] = {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
            return json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": props}}})

        s3 = self.client("s3")
        self.cf.create_stack(StackName="rig-moto-bucket", TemplateBody=template("Enabled", True))
        self.assertEqual(s3.get_bucket_versioning(Bucket="rig-moto-versioned")["Status"], "Enabled")
        raw = urllib.request.urlopen(self.endpoint + "/rig-moto-versioned?versioning").read().decode()
        self.assertIn("<VersioningConfiguration", raw)  # the root S3 answers with
        block = s3.get_public_access_block(Bucket="rig-moto-versioned")["PublicAccessBlockConfiguration"]
        self.assertEqual(set(block.values()), {True})
        self.cf.update_stack(StackName="rig-moto-bucket", TemplateBody=template("Suspended", False))
        self.assertEqual(s3.get_bucket_versioning(Bucket="rig-moto-versioned")["Status"], "Suspended")
        with self.assertRaises(ClientError):
            s3.get_public_access_block(Bucket="rig-moto-versioned")
        self.delete("rig-moto-bucket")

    def test_26_bucket_created_with_its_tags(self):
        s3 = self.client("s3")
        s3.create_bucket(Bucket="rig-moto-tagged",
                         CreateBucketConfiguration={"Tags": [{"Key": "rig:role", "Value": "lock"}]})
        self.assertEqual(s3.get_bucket_tagging(Bucket="rig-moto-tagged")["TagSet"],
                         [{"Key": "rig:role", "Value": "lock"}])
        s3.create_bucket(Bucket="rig-moto-untagged")
        with self.assertRaises(ClientError):
            s3.get_bucket_tagging(Bucket="rig-moto-untagged")
        s3.delete_bucket(Bucket="rig-moto-tagged")
        s3.delete_bucket(Bucket="rig-moto-untagged")

    def test_27_fault_layer(self):
        def control(path):
            request = urllib.request.Request(self.endpoint + path, method="POST" if "faults" in path else "GET")
            return json.loads(urllib.request.urlopen(request).read())

        once = Config(retries={"total_max_attempts": 1, "mode": "standard"})

        def client(service):
            return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                                aws_access_key_id="test", aws_secret_access_key="test", config=once)

        try:
            control("/_rig/faults?rate=1&seed=3&kinds=throttle")
            cases = [(client("cloudformation").list_stacks, 400, "Throttling"),
                     (client("ssm").describe_parameters, 400, "ThrottlingException"),
                     (client("ec2").describe_vpcs, 400, "RequestLimitExceeded"),
                     (client("s3").list_buckets, 503, "SlowDown")]
            for call, status, code in cases:
                with self.assertRaises(ClientError) as err:
                    call()
                self.assertEqual(err.exception.response["Error"]["Code"], code)
                self.assertEqual(err.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
            control("/_rig/faults?rate=1&seed=3&kinds=500,503")
            with self.assertRaises(ClientError) as err:
                client("cloudformation").list_stacks()
            self.assertIn(err.exception.response["ResponseMetadata"]["HTTPStatusCode"], (500, 503))
            seen = control("/_rig/requests")
            self.assertEqual(seen["requests"]["cloudformation:ListStacks"], 1, seen)
            self.assertEqual(sum(seen["injected"].values()), 1)
            # A tenth, seeded: the same seed fails the same share of a run of calls.
            control("/_rig/faults?rate=0.1&seed=11&kinds=throttle")
            failed = 0
            for _ in range(200):
                try:
                    client("sts").get_caller_identity()
                except ClientError:
                    failed += 1
            self.assertTrue(5 <= failed <= 40, failed)
            self.assertEqual(control("/_rig/requests")["injected"]["throttle"], failed)
        finally:
            control("/_rig/faults?rate=0")
        client("cloudformation").list_stacks()  # off again

    def rig(self, path):
        """POST /_rig/faults?... or GET /_rig/requests of the fault layer (27)."""
        request = urllib.request.Request(self.endpoint + path, method="POST" if "faults" in path else "GET")
        return json.loads(urllib.request.urlopen(request).read())

    def settled(self, name, status, started, within=8):
        """Seconds from `started` until the stack shows `status` (polled; at most `within`)."""
        while (current := self.stack(name)["StackStatus"]) != status:
            self.assertLess(time.monotonic() - started, within, f"{name} still {current}")
            time.sleep(0.05)
        return time.monotonic() - started

    def test_27_stack_holds(self):
        foundation = "o-p-dev-foundation"
        try:
            for bad in ("hold=foundation", "hold=foundation:soon", "express_factor=-1", "stall=x"):
                with self.assertRaises(urllib.error.HTTPError) as err:
                    self.rig(f"/_rig/faults?{bad}")
                self.assertEqual(err.exception.code, 400, bad)
            # URL-encoded or not; "o-p-dev-foundation" ends with both suffixes: the longer one wins
            self.rig("/_rig/faults?hold=foundation%3A0.5%2Cdev-foundation%3A1.5,db-aurora:0.5")
            started = time.monotonic()
            cs = self.change_set(foundation, EXPORTING, kind="CREATE")
            self.cf.execute_change_set(ChangeSetName=cs["ChangeSetId"])
            stack = self.stack(foundation)
            self.assertEqual(stack["StackStatus"], "CREATE_IN_PROGRESS")
            self.assertIsNone(stack.get("Outputs"))
            self.assertEqual([s["StackStatus"] for s in self.cf.list_stacks()["StackSummaries"]],
                             ["CREATE_IN_PROGRESS"])
            self.assertIn(f"{foundation}-topic", [e["Name"] for e in self.cf.list_exports()["Exports"]])  # work done
            self.assertIn(("Topic", "CREATE_COMPLETE"), self.statuses(foundation))
            self.assertNotIn((foundation, "CREATE_COMPLETE"), self.statuses(foundation))
            with self.assertRaises(ClientError) as err:
                self.change_set(foundation, EXPORTING + "\n")
            self.assertIn("is in CREATE_IN_PROGRESS state and can not be updated.",
                          err.exception.response["Error"]["Message"])
            with self.assertRaises(ClientError) as err:
                self.cf.update_stack(StackName=foundation, TemplateBody=SMALL)
            self.assertIn("is in CREATE_IN_PROGRESS state", err.exception.response["Error"]["Message"])
            elapsed = self.settled(foundation, "CREATE_COMPLETE", started)
            self.assertTrue(1.5 <= elapsed < 6, elapsed)
            self.assertEqual(self.events(foundation)[0]["ResourceStatus"], "CREATE_COMPLETE")
            self.assertIn("TopicArn", self.outputs(foundation))

            # CreateStack and UpdateStack (suffix "foundation": 0.5 s), a failed create (held, then ROLLBACK_COMPLETE)
            started = time.monotonic()
            self.cf.create_stack(StackName="o-p-qa-foundation", TemplateBody=SMALL)
            self.assertEqual(self.stack("o-p-qa-foundation")["StackStatus"], "CREATE_IN_PROGRESS")
            self.assertTrue(0.5 <= self.settled("o-p-qa-foundation", "CREATE_COMPLETE", started) < 5)
            started = time.monotonic()
            self.cf.update_stack(StackName="o-p-qa-foundation", TemplateBody=EXPORTING)
            self.assertEqual(self.stack("o-p-qa-foundation")["StackStatus"], "UPDATE_IN_PROGRESS")
            self.assertNotIn(("o-p-qa-foundation", "UPDATE_COMPLETE"), self.statuses("o-p-qa-foundation"))
            self.assertTrue(0.5 <= self.settled("o-p-qa-foundation", "UPDATE_COMPLETE", started) < 5)
            started = time.monotonic()
            self.cf.create_stack(StackName="o-p-dev-db-aurora", TemplateBody=FAILING)
            self.assertEqual(self.stack("o-p-dev-db-aurora")["StackStatus"], "CREATE_IN_PROGRESS")
            self.assertIn(("Broken", "CREATE_FAILED"), self.statuses("o-p-dev-db-aurora"))  # resource events at once
            self.assertTrue(0.5 <= self.settled("o-p-dev-db-aurora", "ROLLBACK_COMPLETE", started) < 5)
            self.assertEqual(self.events("o-p-dev-db-aurora")[0]["ResourceStatus"], "ROLLBACK_COMPLETE")

            # no matching suffix, no hold
            self.create("o-p-dev-other", SMALL)
            self.create("foundation", SMALL)

            # DeleteStack: DELETE_IN_PROGRESS, still found by name (a second DeleteStack changes nothing), then gone
            stack_id = self.stack(foundation)["StackId"]
            started = time.monotonic()
            self.cf.delete_stack(StackName=foundation)
            self.assertEqual(self.stack(foundation)["StackStatus"], "DELETE_IN_PROGRESS")
            self.cf.delete_stack(StackName=foundation)
            self.assertNotIn((foundation, "DELETE_COMPLETE"), self.statuses(foundation))
            while True:
                try:
                    self.stack(foundation)
                except ClientError as exc:
                    self.assertIn("does not exist", exc.response["Error"]["Message"])
                    break
                self.assertLess(time.monotonic() - started, 8)
                time.sleep(0.05)
            self.assertTrue(1.5 <= time.monotonic() - started < 8)
            self.assertEqual(self.stack(stack_id)["StackStatus"], "DELETE_COMPLETE")
            self.assertEqual([s["StackStatus"] for s in self.cf.list_stacks()["StackSummaries"]
                              if s["StackId"] == stack_id], ["DELETE_COMPLETE"])

            # DeleteStack of a stack still held in CREATE_IN_PROGRESS: its create shows ended, then the delete
            self.cf.create_stack(StackName="o-p-prod-foundation", TemplateBody=SMALL)
            self.cf.delete_stack(StackName="o-p-prod-foundation")
            self.assertEqual(self.stack("o-p-prod-foundation")["StackStatus"], "DELETE_IN_PROGRESS")
            self.assertIn(("o-p-prod-foundation", "CREATE_COMPLETE"), self.statuses("o-p-prod-foundation"))

            # configured again without hold: nothing is held
            self.rig("/_rig/faults?rate=0")
            self.create("o-p-test-foundation", SMALL)
            self.delete("o-p-test-foundation")
        finally:
            self.rig("/_rig/faults?rate=0")

    def test_27_express_deployment_mode(self):
        def change_set(name, kind="CREATE", template=SMALL, **extra):
            return self.cf.create_change_set(StackName=name, ChangeSetName=f"rig-{time.monotonic_ns()}",
                                             TemplateBody=template, ChangeSetType=kind, **extra)["Id"]

        try:
            self.rig("/_rig/faults?hold=app-api:2")  # express_factor: 0.25 unless given
            express = change_set("o-p-dev-app-api", DeploymentConfig={"Mode": "EXPRESS"})
            standard = change_set("o-p-qa-app-api")
            self.assertEqual(self.cf.describe_change_set(ChangeSetName=express)["DeploymentConfig"],
                             {"Mode": "EXPRESS"})
            self.assertNotIn("DeploymentConfig", self.cf.describe_change_set(ChangeSetName=standard))
            started = time.monotonic()
            self.cf.execute_change_set(ChangeSetName=express)
            self.cf.execute_change_set(ChangeSetName=standard)
            self.assertEqual(self.stack("o-p-dev-app-api")["StackStatus"], "CREATE_IN_PROGRESS")
            fast = self.settled("o-p-dev-app-api", "CREATE_COMPLETE", started)
            slow = self.settled("o-p-qa-app-api", "CREATE_COMPLETE", started)
            self.assertTrue(0.5 <= fast < 2 <= slow, (fast, slow))
            self.assertEqual(self.rig("/_rig/requests")["modes"],
                             {"o-p-dev-app-api": "EXPRESS", "o-p-qa-app-api": "STANDARD"})
            self.assertEqual(self.stack("o-p-dev-app-api")["DeploymentConfig"], {"Mode": "EXPRESS"})
            self.assertNotIn("DeploymentConfig", self.stack("o-p-qa-app-api"))

            # express_factor; DisableRollback belongs in the DeploymentConfig, not on ExecuteChangeSet
            self.rig("/_rig/faults?hold=app-api:2&express_factor=0.5")
            update = change_set("o-p-dev-app-api", kind="UPDATE", template=EXPORTING,
                                DeploymentConfig={"Mode": "EXPRESS", "DisableRollback": True})
            self.assertEqual(self.cf.describe_change_set(ChangeSetName=update)["DeploymentConfig"],
                             {"Mode": "EXPRESS", "DisableRollback": True})
            with self.assertRaises(ClientError) as err:
                self.cf.execute_change_set(ChangeSetName=update, DisableRollback=False)
            self.assertEqual(err.exception.response["Error"]["Code"], "ValidationError")
            self.assertEqual(err.exception.response["Error"]["Message"],
                             "DisableRollback cannot be specified on ExecuteChangeSet when the change set has a "
                             "DeploymentConfig; set it in DeploymentConfig.")
            self.assertEqual(self.stack("o-p-dev-app-api")["StackStatus"], "CREATE_COMPLETE")
            self.assertEqual(self.rig("/_rig/requests")["modes"], {})
            started = time.monotonic()
            self.cf.execute_change_set(ChangeSetName=update)
            self.assertEqual(self.stack("o-p-dev-app-api")["StackStatus"], "UPDATE_IN_PROGRESS")
            self.assertTrue(1 <= self.settled("o-p-dev-app-api", "UPDATE_COMPLETE", started) < 2)
            self.assertEqual(self.rig("/_rig/requests")["modes"], {"o-p-dev-app-api": "EXPRESS"})
            # a standard change set without DisableRollback on execute is unchanged; an unknown mode is refused
            self.cf.execute_change_set(ChangeSetName=change_set("o-p-qa-app-api", kind="UPDATE", template=EXPORTING),
                                       DisableRollback=False)
            self.assertEqual(self.rig("/_rig/requests")["modes"],
                             {"o-p-dev-app-api": "EXPRESS", "o-p-qa-app-api": "STANDARD"})
            with self.assertRaises(ClientError) as err:
                change_set("o-p-prod-app-api", DeploymentConfig={"Mode": "FAST"})
            self.assertEqual(err.exception.response["Error"]["Code"], "ValidationError")
        finally:
            self.rig("/_rig/faults?rate=0")

    def test_27_stall(self):
        ssm = self.client("ssm")
        impatient = boto3.client("ssm", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="test",
                                 aws_secret_access_key="test",
                                 config=Config(read_timeout=1, retries={"total_max_attempts": 1}))
        try:
            self.rig("/_rig/faults?stall=2")
            ssm.describe_parameters()  # not mutating: not counted
            ssm.put_parameter(Name="/rig/stall/1", Value="one", Type="String")
            started = time.monotonic()
            with self.assertRaises(ReadTimeoutError):  # the 2nd mutating request is held; its client gives up
                impatient.put_parameter(Name="/rig/stall/2", Value="two", Type="String")
            self.assertLess(time.monotonic() - started, 5)
            seen = self.rig("/_rig/requests")
            self.assertEqual((seen["stalled"], seen["stalled_at"]), ("ssm:PutParameter", "ssm:PutParameter"))
            self.assertEqual(ssm.get_parameter(Name="/rig/stall/1")["Parameter"]["Value"], "one")  # others flow
            with self.assertRaises(ClientError):
                ssm.get_parameter(Name="/rig/stall/2")  # not in moto yet
            self.assertEqual(self.rig("/_rig/faults?release=1"), {"released": "ssm:PutParameter"})
            started = time.monotonic()
            while True:  # it reaches moto although nobody waits for its answer any more
                try:
                    self.assertEqual(ssm.get_parameter(Name="/rig/stall/2")["Parameter"]["Value"], "two")
                    break
                except ClientError:
                    self.assertLess(time.monotonic() - started, 5)
                    time.sleep(0.05)
            seen = self.rig("/_rig/requests")  # release changed nothing else
            self.assertEqual((seen["stalled"], seen["stalled_at"]), (None, "ssm:PutParameter"))
            self.assertEqual(seen["requests"]["ssm:PutParameter"], 2)
            self.assertEqual(seen["requests"]["ssm:DescribeParameters"], 1)

            # a client that waits gets its answer once released
            self.rig("/_rig/faults?stall=1")
            self.assertIsNone(self.rig("/_rig/requests")["stalled_at"])
            answer = {}
            waiting = threading.Thread(
                target=lambda: answer.update(ssm.put_parameter(Name="/rig/stall/3", Value="three", Type="String")))
            waiting.start()
            started = time.monotonic()
            while self.rig("/_rig/requests")["stalled"] is None:
                self.assertLess(time.monotonic() - started, 5)
                time.sleep(0.05)
            time.sleep(0.2)
            self.assertTrue(waiting.is_alive())
            self.rig("/_rig/faults?release=1")
            waiting.join(10)
            self.assertEqual(answer.get("Version"), 1)
            self.assertIsNone(self.rig("/_rig/requests")["stalled"])
            ssm.put_parameter(Name="/rig/stall/4", Value="four", Type="String")  # only the N-th is held
        finally:
            self.rig("/_rig/faults?rate=0")

    def test_27_dropped_connections(self):
        once = Config(retries={"total_max_attempts": 1})

        def client(service):
            return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="test",
                                aws_secret_access_key="test", config=once)

        sts, ssm = client("sts"), client("ssm")
        try:
            self.rig("/_rig/faults?rate=1&kinds=drop")
            for call in (sts.get_caller_identity,
                         lambda: ssm.put_parameter(Name="/rig/dropped", Value="x", Type="String")):
                with self.assertRaises((ConnectionClosedError, EndpointConnectionError)):  # no HTTP status at all
                    call()
            self.assertEqual(self.rig("/_rig/requests")["injected"], {"drop": 2})
            self.rig("/_rig/faults?rate=0")
            sts.get_caller_identity()  # the server serves on
            with self.assertRaises(ClientError):
                ssm.get_parameter(Name="/rig/dropped")  # a dropped request never reached moto
            # among the other kinds, seeded
            self.rig("/_rig/faults?rate=0.5&seed=5&kinds=drop,throttle")
            outcomes = {"ok": 0, "drop": 0, "throttle": 0}
            for _ in range(40):
                try:
                    sts.get_caller_identity()
                    outcomes["ok"] += 1
                except ConnectionClosedError:
                    outcomes["drop"] += 1
                except ClientError:
                    outcomes["throttle"] += 1
            self.assertTrue(outcomes["drop"] and outcomes["throttle"] and outcomes["ok"], outcomes)
            self.assertEqual(self.rig("/_rig/requests")["injected"],
                             {k: n for k, n in outcomes.items() if k != "ok"})
        finally:
            self.rig("/_rig/faults?rate=0")
        sts.get_caller_identity()

    def test_9_scenario_timing(self):
        started = time.monotonic()
        cs = self.change_set("o-p-dev-foundation", FOUNDATION, kind="CREATE", Environment="dev", ProjectName="proj",
                             AppBucketName="rig-o-p-app-dev", DomainCertArn=self.cert())
        self.cf.execute_change_set(ChangeSetName=cs["ChangeSetId"])
        self.assertEqual(self.stack("o-p-dev-foundation")["StackStatus"], "CREATE_COMPLETE")
        self.delete("o-p-dev-foundation")
        TIMINGS["foundation: create change set + execute + delete"] = time.monotonic() - started


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    for what, seconds in TIMINGS.items():
        print(f"timing: {what}: {seconds:.2f} s")
    sys.exit(0 if result.wasSuccessful() else 1)

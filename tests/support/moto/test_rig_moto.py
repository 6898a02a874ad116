"""Self-check of rig_moto.py: starts the launcher on a free port and exercises every extension
(see README.md) with boto3. Run: .venv/bin/python tests/support/moto/test_rig_moto.py
Exits non-zero on failure; prints start-up and scenario timings."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

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

    # -- timing --------------------------------------------------------------------------------------

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

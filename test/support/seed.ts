/**
 * Seed the emulator with the small example storefront that examples/retailctl.yaml describes:
 * an image bucket, a CloudFront distribution, a Route 53 zone with weighted records for a primary
 * (CloudFront) and a secondary CDN with health checks, Lambda aliases, an ECS service and a
 * DynamoDB table registered with Application Auto Scaling, and an exports bucket with the
 * inventory exports. Used by the demo, `npm run emulator -- --seed` and integration tests.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationAutoScalingClient, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { CloudFrontClient, CreateDistributionCommand } from '@aws-sdk/client-cloudfront';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateClusterCommand, CreateServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateAliasCommand, CreateFunctionCommand, LambdaClient, PublishVersionCommand } from '@aws-sdk/client-lambda';
import { ChangeResourceRecordSetsCommand, CreateHealthCheckCommand, CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { CreateBucketCommand, PutBucketEncryptionCommand, PutObjectCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { ROOT } from './moto.js';

export interface SeededStorefront {
  imageBucket: string;
  exportsBucket: string;
  distributionId: string;
  distributionDomain: string;
  zoneId: string;
  zoneName: string;
  record: string;
  secondaryTarget: string;
  healthChecks: { cloudfront: string; fastly: string };
  lambdas: string[];
  ecsService: string;
  dynamodbTable: string;
}

/** A valid, empty zip archive: enough for moto's CreateFunction (the demo never invokes it). */
const EMPTY_ZIP = Buffer.from(`504b0506${'00'.repeat(18)}`, 'hex');

export async function seedStorefront(endpoint: string): Promise<SeededStorefront> {
  const common = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  const cloudfront = new CloudFrontClient(common);
  const route53 = new Route53Client(common);
  const iam = new IAMClient(common);
  const lambda = new LambdaClient(common);
  const ecs = new ECSClient(common);
  const dynamodb = new DynamoDBClient(common);
  const autoscaling = new ApplicationAutoScalingClient(common);

  try {
    // S3: private, encrypted buckets
    const imageBucket = 'shop-product-images';
    const exportsBucket = 'shop-inventory-exports';
    for (const bucket of [imageBucket, exportsBucket]) {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await s3.send(new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true } }));
      await s3.send(new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }));
    }
    const inventoryDir = path.join(ROOT, 'examples', 'inventory');
    for (const name of await readdir(inventoryDir)) {
      await s3.send(new PutObjectCommand({ Bucket: exportsBucket, Key: `daily/${name}`, Body: await readFile(path.join(inventoryDir, name)), ServerSideEncryption: 'AES256' }));
    }

    // CloudFront in front of the image bucket
    const dist = await cloudfront.send(
      new CreateDistributionCommand({
        DistributionConfig: {
          CallerReference: 'retailctl-demo-storefront',
          Comment: 'storefront (retailctl demo)',
          Enabled: true,
          Aliases: { Quantity: 1, Items: ['www.shop.example.com'] },
          Origins: { Quantity: 1, Items: [{ Id: 'images', DomainName: `${imageBucket}.s3.us-east-1.amazonaws.com`, S3OriginConfig: { OriginAccessIdentity: '' } }] },
          DefaultCacheBehavior: { TargetOriginId: 'images', ViewerProtocolPolicy: 'redirect-to-https', CachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6' },
        },
      }),
    );
    const distributionId = dist.Distribution!.Id!;
    const distributionDomain = dist.Distribution!.DomainName!;

    // Route 53: weighted CNAMEs, all traffic on CloudFront, the secondary CDN drained but kept
    const zoneName = 'shop.example.com';
    const zone = await route53.send(new CreateHostedZoneCommand({ Name: zoneName, CallerReference: 'retailctl-demo-zone' }));
    const zoneId = zone.HostedZone!.Id!.replace('/hostedzone/', '');
    const record = `www.${zoneName}`;
    const secondaryTarget = 'www.shop.example.com.global.prod.fastly.net';
    const healthCheck = async (ref: string, fqdn: string) =>
      (await route53.send(new CreateHealthCheckCommand({ CallerReference: ref, HealthCheckConfig: { Type: 'HTTPS', FullyQualifiedDomainName: fqdn, ResourcePath: '/health', Port: 443, RequestInterval: 30, FailureThreshold: 3 } }))).HealthCheck!.Id!;
    const healthChecks = { cloudfront: await healthCheck('retailctl-demo-hc-cloudfront', distributionDomain), fastly: await healthCheck('retailctl-demo-hc-fastly', secondaryTarget) };
    await route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {
          Comment: 'retailctl demo seed',
          Changes: [
            { Action: 'CREATE', ResourceRecordSet: { Name: record, Type: 'CNAME', SetIdentifier: 'cloudfront', Weight: 100, TTL: 60, HealthCheckId: healthChecks.cloudfront, ResourceRecords: [{ Value: distributionDomain }] } },
            { Action: 'CREATE', ResourceRecordSet: { Name: record, Type: 'CNAME', SetIdentifier: 'fastly', Weight: 0, TTL: 60, HealthCheckId: healthChecks.fastly, ResourceRecords: [{ Value: secondaryTarget }] } },
          ],
        },
      }),
    );

    // Lambda functions with a `live` alias on a published version, registered for provisioned concurrency scaling
    const role = await iam.send(new CreateRoleCommand({ RoleName: 'storefront-lambda', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] }) }));
    const lambdas: string[] = [];
    for (const name of ['checkout-api', 'pricing-api']) {
      await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Role: role.Role!.Arn!, Handler: 'index.handler', Code: { ZipFile: EMPTY_ZIP }, MemorySize: 1024 }));
      const version = await lambda.send(new PublishVersionCommand({ FunctionName: name }));
      await lambda.send(new CreateAliasCommand({ FunctionName: name, Name: 'live', FunctionVersion: version.Version! }));
      await autoscaling.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'lambda', ResourceId: `function:${name}:live`, ScalableDimension: 'lambda:function:ProvisionedConcurrency', MinCapacity: 0, MaxCapacity: 500 }));
      lambdas.push(`${name}:live`);
    }

    // ECS service storefront/web, registered with min 4 / max 20 tasks
    await ecs.send(new CreateClusterCommand({ clusterName: 'storefront' }));
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'web', image: 'public.ecr.aws/nginx/nginx:stable', memory: 512 }] }));
    await ecs.send(new CreateServiceCommand({ cluster: 'storefront', serviceName: 'web', taskDefinition: 'web', desiredCount: 4 }));
    await autoscaling.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'ecs', ResourceId: 'service/storefront/web', ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 4, MaxCapacity: 20 }));

    // DynamoDB provisioned-mode table Carts, read/write capacity registered
    await dynamodb.send(
      new CreateTableCommand({
        TableName: 'Carts',
        AttributeDefinitions: [{ AttributeName: 'cartId', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'cartId', KeyType: 'HASH' }],
        BillingMode: 'PROVISIONED',
        ProvisionedThroughput: { ReadCapacityUnits: 100, WriteCapacityUnits: 50 },
      }),
    );
    for (const [dimension, min] of [['dynamodb:table:ReadCapacityUnits', 100], ['dynamodb:table:WriteCapacityUnits', 50]] as const) {
      await autoscaling.send(new RegisterScalableTargetCommand({ ServiceNamespace: 'dynamodb', ResourceId: 'table/Carts', ScalableDimension: dimension, MinCapacity: min, MaxCapacity: 4000 }));
    }

    return {
      imageBucket,
      exportsBucket,
      distributionId,
      distributionDomain,
      zoneId,
      zoneName,
      record,
      secondaryTarget,
      healthChecks,
      lambdas,
      ecsService: 'storefront/web',
      dynamodbTable: 'Carts',
    };
  } finally {
    for (const client of [s3, cloudfront, route53, iam, lambda, ecs, dynamodb, autoscaling]) client.destroy();
  }
}

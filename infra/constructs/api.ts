/**
 * The HTTP API: exactly the routes of ROUTES (functions/routes.ts) plus the catch-all
 * `ANY /{proxy+}` served by the health function (JSON 404/405). Every route is IAM-authorized.
 */
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FALLBACK_ROUTE, type FunctionName, ROUTES } from '../../functions/routes.js';
import type { StackConfig } from '../config.js';
import { constructIdOf } from './functions.js';

export interface SpoolApiProps {
  readonly config: StackConfig;
  readonly functions: Readonly<Record<FunctionName, lambda.IFunction>>;
}

/**
 * HTTP API access log line: JSON, only $context variables that HTTP APIs define. `status` is a JSON
 * number (always set), so metric filters can compare it (`$.status >= 500`); the rest are strings.
 */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  caller: '$context.identity.userArn',
  method: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
};
const NUMERIC_FIELDS = new Set(['status']);
export const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  `{${Object.entries(ACCESS_LOG_FIELDS)
    .map(([k, v]) => `"${k}":${NUMERIC_FIELDS.has(k) ? v : JSON.stringify(v)}`)
    .join(',')}}`,
);

export class SpoolApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SpoolApiProps) {
    super(scope, id);
    const { config } = props;

    this.api = new apigw.HttpApi(this, 'HttpApi', {
      description: 'Spool job queue API (SigV4/IAM-authorized)',
      defaultAuthorizer: new HttpIamAuthorizer(),
      // The stage is created below with access logs and throttling.
      createDefaultStage: false,
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: config.logRetentionDays as logs.RetentionDays,
    });
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: config.apiThrottleRate, burstLimit: config.apiThrottleBurst },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: ACCESS_LOG_FORMAT,
      },
    });

    // One integration per function, shared by its routes.
    const integrations = new Map<FunctionName, HttpLambdaIntegration>();
    const integrationOf = (fn: FunctionName): HttpLambdaIntegration => {
      let i = integrations.get(fn);
      if (!i) {
        i = new HttpLambdaIntegration(`${constructIdOf(fn)}Integration`, props.functions[fn]);
        integrations.set(fn, i);
      }
      return i;
    };

    for (const route of ROUTES) {
      this.api.addRoutes({
        path: route.path,
        methods: [apigw.HttpMethod[route.method]],
        integration: integrationOf(route.fn),
      });
    }
    this.api.addRoutes({
      path: FALLBACK_ROUTE.path,
      methods: [apigw.HttpMethod.ANY],
      integration: integrationOf(FALLBACK_ROUTE.fn),
    });
  }
}

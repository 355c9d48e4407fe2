import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** An API Gateway HTTP API event (payload format 2.0). */
export function isHttpEvent(e: unknown): e is APIGatewayProxyEventV2 {
  const x = e as Partial<APIGatewayProxyEventV2> | null;
  return !!x && typeof x === 'object' && x.version === '2.0' && typeof x.requestContext?.http?.method === 'string';
}

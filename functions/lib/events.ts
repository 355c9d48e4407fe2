import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** An API Gateway HTTP API event (payload format 2.0). */
export function isHttpEvent(e: unknown): e is APIGatewayProxyEventV2 {
  const x = e as Partial<APIGatewayProxyEventV2> | null;
  return !!x && typeof x === 'object' && x.version === '2.0' && typeof x.requestContext?.http?.method === 'string';
}

/** An SQS event (a timer queue's event source mapping): records with a message id and a body. */
export const isSqsEvent = (e: unknown): e is { Records: Array<{ messageId: string; body: string }> } =>
  !!e &&
  typeof e === 'object' &&
  Array.isArray((e as { Records?: unknown }).Records) &&
  (e as { Records: Array<{ eventSource?: unknown }> }).Records.every((r) => r?.eventSource === 'aws:sqs');

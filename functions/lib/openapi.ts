/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the route contract (./contract.ts) and
 * its zod schemas with zod's own JSON Schema output (draft 2020-12, which OpenAPI 3.1 uses).
 * Served at GET /v1/openapi.json and committed as docs/openapi.json (`npm run openapi`); a test
 * checks that the two are this function's output and that the document validates.
 */
import * as z from 'zod/mini';
import { ROUTES, type RouteKey } from '../routes.js';
import { COMMON_RESPONSES, COMPONENTS, CONTRACT, type ResponseContract, type RouteContract } from './contract.js';
import { jobIdParam, queueParam, scheduleIdParam } from './schemas.js';

type Json = Record<string, unknown>;

const PATH_PARAMS: Record<string, { schema: z.ZodMiniType; description: string }> = {
  queue: { schema: queueParam, description: 'Queue name: letters, digits, "_" and "-", 1 to 64.' },
  id: { schema: jobIdParam, description: 'Job id (as returned by enqueue).' },
};
/** The path parameters of the schedule routes (their `{id}` is a schedule's). */
const SCHEDULE_PATH_PARAMS: typeof PATH_PARAMS = {
  id: { schema: scheduleIdParam, description: 'Schedule id: letters, digits, "_", ".", ":" and "-", 1 to 128.' },
};

/** JSON Schema without the keys that only make sense at a document's root. */
function clean(schema: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

export function buildOpenApi(): Json {
  const registry = z.registry<{ id: string }>();
  const ids = new Map<z.ZodMiniType, string>();
  for (const [id, schema] of COMPONENTS) {
    registry.add(schema, { id });
    ids.set(schema, id);
  }
  const uri = (id: string) => `#/components/schemas/${id}`;
  const generated = z.toJSONSchema(registry, { uri, io: 'input' }) as { schemas: Record<string, Json> };
  const schemas = Object.fromEntries(Object.entries(generated.schemas).map(([id, sc]) => [id, clean(sc)]));
  const ref = (schema: z.ZodMiniType): Json => {
    const id = ids.get(schema);
    return id ? { $ref: uri(id) } : clean(z.toJSONSchema(schema, { io: 'input' }) as Json);
  };

  const response = (r: ResponseContract): Json => {
    const out: Json = { description: r.description };
    if (r.headers) {
      out.headers = Object.fromEntries(
        Object.entries(r.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }]),
      );
    }
    if (r.schema) out.content = { 'application/json': { schema: ref(r.schema) } };
    else if (r.text) out.content = { [r.text]: { schema: { type: 'string' } } };
    return out;
  };

  const paths: Record<string, Json> = {};
  for (const route of ROUTES) {
    const c: RouteContract = CONTRACT[`${route.method} ${route.path}` as RouteKey];
    const parameters: Json[] = [];
    for (const [, name] of route.path.matchAll(/\{([A-Za-z0-9_]+)\}/g)) {
      const p = (route.path.startsWith('/v1/schedules') ? SCHEDULE_PATH_PARAMS : PATH_PARAMS)[name!];
      if (!p) throw new Error(`no schema for the path parameter {${name}} of ${route.path}`);
      parameters.push({ name, in: 'path', required: true, description: p.description, schema: ref(p.schema) });
    }
    for (const [name, field] of Object.entries(c.query?.def.shape ?? {})) {
      const optional = (field as { _zod: { optin?: string } })._zod.optin === 'optional';
      parameters.push({ name, in: 'query', required: !optional, schema: ref(field as z.ZodMiniType) });
    }
    for (const [name, description] of Object.entries(c.headers ?? {})) {
      parameters.push({ name, in: 'header', required: false, description, schema: { type: 'string' } });
    }
    const responses: Record<string, Json> = {};
    for (const [status, r] of Object.entries({ ...COMMON_RESPONSES, ...c.responses }).sort(([a], [b]) =>
      a.localeCompare(b),
    ))
      responses[status] = response(r);
    const op: Json = { operationId: c.operationId, summary: c.summary, tags: [route.fn] };
    if (c.description) op.description = c.description;
    if (parameters.length > 0) op.parameters = parameters;
    if (c.body) {
      op.requestBody = { required: c.body.required, content: { 'application/json': { schema: ref(c.body.schema) } } };
    }
    op.responses = responses;
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: op };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Spool',
      version: '1',
      summary: 'A serverless job queue for AWS with its state in Upstash Redis',
      description:
        'Every body is JSON (GET /metrics excepted) and every error is `{"error": {"code", "message", "details"}}`. ' +
        'Deployed, every route takes SigV4-signed requests only (service `execute-api`).',
    },
    servers: [
      {
        url: 'https://{apiId}.execute-api.{region}.amazonaws.com',
        description: 'Deployed (the ApiUrl output of the stack)',
        variables: { apiId: { default: 'abc123' }, region: { default: 'us-east-1' } },
      },
      { url: 'http://127.0.0.1:3000', description: 'Local (npm start)' },
    ],
    security: [{ sigv4: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          description: 'AWS Signature Version 4, service `execute-api` (API Gateway IAM authorization).',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
      },
    },
  };
}

let cached: Json | undefined;
/** The document, built once per container. */
export const openApiDocument = (): Json => {
  cached ??= buildOpenApi();
  return cached;
};

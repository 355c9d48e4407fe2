/**
 * The OpenAPI document: generated from the route contract and the zod schemas, the same as the
 * committed docs/openapi.json and as what GET /v1/openapi.json serves; a valid OpenAPI 3.1
 * document (@readme/openapi-parser); every route of ROUTES in it with its parameters, bodies and
 * error answers; one client method per operation.
 */
import { readFileSync } from 'node:fs';
import { validate } from '@readme/openapi-parser';
import { SpoolClient } from 'spool/client';
import { describe, expect, it } from 'vitest';
import { createHealthHandler } from '../../functions/health/handler.js';
import { COMMON_RESPONSES, CONTRACT } from '../../functions/lib/contract.js';
import { buildOpenApi } from '../../functions/lib/openapi.js';
import { ROUTES } from '../../functions/routes.js';
import { OPENAPI_FILE, openApiText } from '../../scripts/openapi.js';
import { apiEvent, json, lambdaContext } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

type Doc = {
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, unknown> };
};
const doc = buildOpenApi() as unknown as Doc;

describe('the OpenAPI document', () => {
  it('docs/openapi.json is the generated document (else: npm run openapi)', () => {
    expect(readFileSync(OPENAPI_FILE, 'utf8'), 'docs/openapi.json is stale: run npm run openapi').toBe(openApiText());
  });

  it('GET /v1/openapi.json serves the same document', async () => {
    const { rt } = await testRuntime('openapi');
    const r = json(await createHealthHandler(rt)(apiEvent('GET', '/v1/openapi.json'), lambdaContext()));
    expect(r.status).toBe(200);
    expect(r.body).toEqual(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')));
  });

  it('is a valid OpenAPI 3.1 document; a broken copy is not (the validator checks)', async () => {
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid, JSON.stringify(result)).toBe(true);
    expect(result.warnings).toEqual([]);
    expect((doc as { openapi?: string }).openapi).toBe('3.1.0');

    const broken = structuredClone(doc);
    delete broken.paths['/v1/health']!.get.responses;
    broken.paths['/v1/queues']!.get.parameters = [{ name: 'x', in: 'nowhere' }];
    expect((await validate(broken as never)).valid).toBe(false);
  });

  it('has every route of ROUTES, and only those, each with its path parameters and error answers', () => {
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(ops.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    for (const route of ROUTES) {
      const op = doc.paths[route.path]![route.method.toLowerCase()];
      const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? [])
        .filter((p: { in: string }) => p.in === 'path')
        .map((p: { name: string }) => p.name);
      expect(declared, route.path).toEqual(names);
      for (const status of Object.keys(COMMON_RESPONSES))
        expect(op.responses[status], `${route.path} ${status}`).toBeDefined();
      expect(
        Object.keys(op.responses).some((s) => s.startsWith('2')),
        `${route.path} has a 2xx`,
      ).toBe(true);
    }
  });

  it('every JSON body, request or answer, refers to a component schema that exists', () => {
    const refs: string[] = [];
    for (const methods of Object.values(doc.paths))
      for (const op of Object.values(methods)) {
        const contents = [op.requestBody?.content, ...Object.values(op.responses).map((r: any) => r.content)];
        for (const c of contents) if (c?.['application/json']) refs.push(c['application/json'].schema.$ref);
      }
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.split('/').pop()!], ref).toBeDefined();
    }
    // The POST routes with a body.
    for (const key of [
      'POST /v1/queues/{queue}/jobs',
      'POST /v1/queues/{queue}/dlq/replay',
      'POST /v1/queues/{queue}/purge',
    ]) {
      const [m, p] = key.split(' ') as [string, string];
      expect(doc.paths[p]![m.toLowerCase()].requestBody, key).toBeDefined();
    }
  });

  it('the job input schema is the one the engine validates with (limits as enforced)', () => {
    const input = doc.components.schemas.JobInput as any;
    expect(input.additionalProperties).toBe(false);
    expect(input.properties.priority).toMatchObject({ type: 'integer', minimum: -1000, maximum: 1000 });
    expect(input.properties.target.properties.url).toMatchObject({ type: 'string', format: 'uri' });
    expect((doc.components.schemas.EnqueueBatch as any).properties.jobs).toMatchObject({ maxItems: 100, minItems: 1 });
  });

  it("the schedule schemas are the engine's, without the job fields each fire sets", () => {
    const job = doc.components.schemas.ScheduleJob as any;
    expect(job.additionalProperties).toBe(false);
    expect(Object.keys(job.properties).sort()).toEqual(
      Object.keys((doc.components.schemas.JobInput as any).properties)
        .filter((k) => !['idempotencyKey', 'runAt', 'expiresAt'].includes(k))
        .sort(),
    );
    expect((doc.components.schemas.ScheduleInput as any).properties.everyMs).toMatchObject({ minimum: 1000 });
    expect((doc.components.schemas.ScheduleCreate as any).required).toContain('id');
  });

  it('the producer client has a method for every operation', () => {
    const ids = Object.values(CONTRACT).map((c) => c.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids)
      expect(typeof (SpoolClient.prototype as unknown as Record<string, unknown>)[id], id).toBe('function');
  });
});

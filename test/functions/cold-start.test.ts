/**
 * What a function loads at cold start: esbuild bundles each handler (AWS SDK external, as the CDK
 * app does) and its metafile says how every external module is imported. An `@aws-sdk/*` module
 * imported statically is loaded before the first invocation; one imported with `import()` only when
 * the code path that needs it runs (the health function publishes metrics and alerts on its
 * schedule, never on an HTTP request).
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { FUNCTION_NAMES, functionEntry } from '../../functions/routes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function externalImports(entry: string): Promise<Array<{ path: string; kind: string }>> {
  const out = await build({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    metafile: true,
    external: ['@aws-sdk/*'],
    logLevel: 'silent',
  });
  return Object.values(out.metafile.outputs).flatMap((o) =>
    o.imports.filter((i) => i.external).map((i) => ({ path: i.path, kind: i.kind })),
  );
}

describe('cold start: AWS SDK clients are loaded on use', () => {
  for (const fn of FUNCTION_NAMES) {
    it(`${fn}: every @aws-sdk module is a dynamic import()`, async () => {
      const sdk = (await externalImports(functionEntry(fn))).filter((i) => i.path.startsWith('@aws-sdk/'));
      expect(sdk.filter((i) => i.kind !== 'dynamic-import')).toEqual([]);
      // Each function that talks to AWS at all still reaches its clients (the check sees them).
      if (fn === 'health')
        expect(sdk.map((i) => i.path)).toEqual(
          expect.arrayContaining(['@aws-sdk/client-cloudwatch', '@aws-sdk/client-sns']),
        );
    }, 60_000);
  }
});

/**
 * Really bundles every function with the local esbuild (as `cdk synth` does) and checks each bundle:
 * at most 250 KB minified, ESM exporting `handler`, AWS SDK v3 left external, and nothing from
 * local/ (or any folder but functions/ and shared/) or from a package only devDependencies need.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_NAMES } from '../../functions/routes.js';
import { REPO_ROOT } from '../../infra/stack.js';
import { bundleOrigins, bundleViolations, devOnlyPackages } from '../helpers/bundle.js';
import { PAGED, type Synthesized, synthSpool } from '../helpers/synth.js';

const MAX_BUNDLE_BYTES = 250 * 1000;
const devOnly = devOnlyPackages(path.join(REPO_ROOT, 'package-lock.json'));

describe('function bundles (real esbuild)', () => {
  let s: Synthesized;
  const sizes: Record<string, number> = {};
  beforeAll(() => {
    s = synthSpool(PAGED, { bundle: true });
  }, 180_000);
  afterAll(() => {
    if (Object.keys(sizes).length > 0) console.info('bundle sizes (bytes):', JSON.stringify(sizes));
    s?.cleanup();
  });

  for (const fn of FUNCTION_NAMES) {
    it(`${fn}: bundle <= 250 KB, ESM exporting handler, @aws-sdk external`, () => {
      const cfn = s.stack.spool.functions[fn].node.defaultChild as import('aws-cdk-lib').CfnResource;
      const props = s.template.toJSON().Resources[s.stack.getLogicalId(cfn)].Properties as {
        Code: { S3Key: string };
        Handler: string;
      };
      const hash = props.Code.S3Key.replace(/\.zip$/, '');
      const dir = path.join(s.outdir, `asset.${hash}`);
      const files = fs.readdirSync(dir).sort();
      expect(files).toEqual(['index.mjs', 'index.mjs.map']);
      expect(props.Handler).toBe('index.handler');

      const code = fs.readFileSync(path.join(dir, 'index.mjs'), 'utf8');
      const bytes = Buffer.byteLength(code);
      sizes[fn] = bytes;
      expect(bytes, `${fn} bundle is ${bytes} bytes`).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
      // Minified: the code is a few very long lines (the only short lines are the Lua scripts' text),
      // and no JSDoc survives.
      expect(Math.max(...code.split('\n').map((l) => l.length))).toBeGreaterThan(20_000);
      expect(code).not.toContain('/**');
      // ESM with the createRequire banner, exporting `handler`.
      expect(code.startsWith('import{createRequire as __spoolCreateRequire}')).toBe(true);
      expect(code).toMatch(/export\s*\{[^}]*\bas handler\b[^}]*\}|export\s*\{[^}]*\bhandler\b[^}]*\}/);
      // AWS SDK v3 stays external (the runtime provides it): only import specifiers, no SDK code.
      for (const m of code.matchAll(/["'`]@aws-sdk\/[a-z0-9-]+["'`]/g)) {
        const before = code.slice(Math.max(0, (m.index ?? 0) - 12), m.index);
        expect(before, `${fn}: ${m[0]} must be an import`).toMatch(/(from|import\(?)\s*$/);
      }
      expect(code, `${fn}: AWS SDK middleware bundled`).not.toContain('x-amz-user-agent');
      // Built from functions/ and shared/ and production packages only (ioredis is a devDependency).
      const origins = bundleOrigins(path.join(dir, 'index.mjs.map'), REPO_ROOT);
      expect(origins.files).toContain(`functions/${fn}/handler.ts`);
      expect(origins.packages).toContain('@upstash/redis');
      expect(bundleViolations(origins, devOnly), `${fn} bundle`).toEqual([]);
    });
  }
});

describe('bundleViolations', () => {
  it('names local/ code, other folders, ioredis and dev-only packages; passes functions/, shared/, deps', () => {
    const origins = {
      files: ['functions/worker/run.ts', 'shared/queue/core.ts', 'local/aws.ts', 'infra/stack.ts'],
      packages: ['@upstash/redis', 'zod', 'ioredis', 'vitest'],
    };
    expect(bundleViolations(origins, new Set(['vitest']))).toEqual([
      'local/aws.ts: outside functions/ and shared/',
      'infra/stack.ts: outside functions/ and shared/',
      'ioredis: never bundled',
      'vitest: needed by devDependencies only',
    ]);
  });

  it('the lockfile marks ioredis and its own dependencies dev-only, and @upstash/redis not', () => {
    expect(devOnly.has('ioredis')).toBe(true);
    expect(devOnly.has('redis-parser')).toBe(true);
    expect(devOnly.has('@upstash/redis')).toBe(false);
    expect(devOnly.has('zod')).toBe(false);
  });
});

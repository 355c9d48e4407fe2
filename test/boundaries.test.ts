/**
 * The layout holds: each layer imports only what it may (test/helpers/imports.ts says what), every
 * function folder has the one shape, and the test tree mirrors the source tree.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTION_NAMES } from '../functions/routes.js';
import { REPO_ROOT } from '../infra/stack.js';
import { boundaryViolations, FORBIDDEN, importsOf, sourceFiles } from './helpers/imports.js';

const files = sourceFiles(REPO_ROOT);

describe('layer boundaries', () => {
  it('reads the source of every layer', () => {
    const layers = new Set(files.map((f) => f.path.split('/')[0]));
    for (const layer of ['shared', 'functions', 'infra', 'local', 'cli']) expect(layers).toContain(layer);
    expect(files.find((f) => f.path === 'shared/queue/core.ts')).toBeDefined();
    expect(files.length).toBeGreaterThan(80);
  });

  it('shared/ imports nothing from functions/, infra/, local/ or cli/; functions/ nothing from infra/ or local/', () => {
    expect(boundaryViolations(files)).toEqual([]);
  });

  it('finds every kind of import statement', () => {
    const source = [
      "import { a } from '../functions/lib/http.js';",
      "import type { B } from '../../local/aws.js';",
      "export * from './keys.js';",
      "export { c } from '../infra/stack.js';",
      "import '../cli/main.js';",
      "const d = await import('../local/defaults.js');",
      "import { z } from 'zod';",
    ].join('\n');
    expect(importsOf(source)).toEqual([
      '../functions/lib/http.js',
      '../../local/aws.js',
      './keys.js',
      '../infra/stack.js',
      '../cli/main.js',
      '../local/defaults.js',
    ]);
  });

  it('fails on a file that crosses a boundary, and passes one that does not', () => {
    const violations = boundaryViolations([
      { path: 'shared/queue/x.ts', source: "import { httpApi } from '../../functions/lib/http.js';" },
      { path: 'shared/log/y.ts', source: "export const z = () => import('../../local/aws.js');" },
      { path: 'functions/worker/z.ts', source: "import type { SpoolStack } from '../../infra/stack.js';" },
      { path: 'functions/worker/ok.ts', source: "import { lease } from '../../shared/queue/ops/lease.js';" },
      { path: 'local/ok.ts', source: "import { ROUTES } from '../functions/routes.js';" },
    ]);
    expect(violations).toEqual([
      'shared/queue/x.ts -> functions/lib/http.js (shared/ may not import functions/)',
      'shared/log/y.ts -> local/aws.js (shared/ may not import local/)',
      'functions/worker/z.ts -> infra/stack.js (functions/ may not import infra/)',
    ]);
  });
});

describe('function folders', () => {
  const fnDirs = fs
    .readdirSync(path.join(REPO_ROOT, 'functions'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'lib')
    .map((e) => e.name)
    .sort();

  it('one folder per function of routes.ts, besides lib/', () => {
    expect(fnDirs).toEqual([...FUNCTION_NAMES].sort());
  });

  it('each is handler.ts (the entry, a few lines) plus routes.ts and/or run.ts', () => {
    for (const fn of fnDirs) {
      const names = fs.readdirSync(path.join(REPO_ROOT, 'functions', fn)).sort();
      expect(names, fn).toContain('handler.ts');
      expect(
        names.filter((n) => !['handler.ts', 'routes.ts', 'run.ts'].includes(n)),
        fn,
      ).toEqual([]);
      const handler = fs.readFileSync(path.join(REPO_ROOT, 'functions', fn, 'handler.ts'), 'utf8');
      const code = handler
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith('import '));
      expect(code.length, `functions/${fn}/handler.ts: ${code.length} lines of code`).toBeLessThanOrEqual(10);
      expect(handler, fn).not.toMatch(/RouteImpls|z\.object|strictObject/);
    }
  });
});

it('the test tree mirrors the source tree: test/<layer>/... and test/helpers/ only', () => {
  const dirs = fs
    .readdirSync(path.join(REPO_ROOT, 'test'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'artifacts')
    .map((e) => e.name);
  expect(dirs.filter((d) => d !== 'helpers' && !(d in FORBIDDEN) && !fs.existsSync(path.join(REPO_ROOT, d)))).toEqual(
    [],
  );
  const stray = (dir: string): string[] =>
    fs
      .readdirSync(path.join(REPO_ROOT, 'test', dir), { withFileTypes: true })
      .flatMap((e) =>
        e.isDirectory() ? stray(`${dir}/${e.name}`) : e.name.endsWith('.test.ts') ? [] : [`test/${dir}/${e.name}`],
      );
  expect(dirs.filter((d) => d !== 'helpers').flatMap(stray), 'helpers belong in test/helpers/').toEqual([]);
});

it('tsc checks every top-level folder that holds code (tsconfig include)', () => {
  const tsconfig = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] };
  const ignored = ['node_modules', 'cdk.out', 'coverage', '.git'];
  const holdsCode = (dir: string): boolean =>
    fs
      .readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })
      .some((e) => (e.isDirectory() ? holdsCode(`${dir}/${e.name}`) : /\.(ts|mts|mjs|js)$/.test(e.name)));
  const folders = fs
    .readdirSync(REPO_ROOT, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !ignored.includes(e.name) && holdsCode(e.name))
    .map((e) => e.name);
  expect(folders).toContain('cli');
  expect(folders.filter((f) => !tsconfig.include.includes(f))).toEqual([]);
});

describe('the docs name the tree as it is', () => {
  const read = (p: string) => fs.readFileSync(path.join(REPO_ROOT, p), 'utf8');
  const docs = ['README.md', 'CONTRIBUTING.md', ...fs.readdirSync(path.join(REPO_ROOT, 'docs')).map((f) => `docs/${f}`)]
    .filter((p) => p.endsWith('.md'))
    .map((p) => ({ path: p, text: read(p) }));

  it("the README's code map names every top-level folder", () => {
    const readme = read('README.md');
    const map = readme.slice(readme.indexOf('## Code map'), readme.indexOf('\n## ', readme.indexOf('## Code map') + 1));
    const ignored = ['node_modules', 'cdk.out', 'coverage', '.git'];
    const folders = fs
      .readdirSync(REPO_ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !ignored.includes(e.name))
      .map((e) => e.name);
    expect(folders).toContain('.ci');
    expect(folders.filter((f) => !map.includes(`- \`${f}/\``))).toEqual([]);
  });

  it('every repository path the docs name in backticks exists (or is an artifact git ignores)', () => {
    const stale: string[] = [];
    for (const d of docs)
      for (const p of repoPathsIn(d.text))
        if (!fs.existsSync(path.join(REPO_ROOT, p)) && !gitIgnores(p)) stale.push(`${d.path}: ${p}`);
    expect(stale).toEqual([]);
  });

  it('finds the paths in backticks, and passes over placeholders', () => {
    expect(
      repoPathsIn(
        'see `shared/dev/upstash-local`, `npx vitest run test/infra.test.ts` and `functions/<fn>/handler.ts`, `docs/x.{md,json}`',
      ),
    ).toEqual(['shared/dev/upstash-local', 'test/infra.test.ts']);
  });
});

/**
 * Whether git ignores `p`: a test's artifact (`test/artifacts/dashboard.png`) is named by the docs but
 * exists only once the test that writes it has run, which a fresh clone's suite may run later.
 */
function gitIgnores(p: string): boolean {
  try {
    execFileSync('git', ['check-ignore', '-q', p], { cwd: REPO_ROOT, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Top-level folders of the repository (what a doc's path may start with). */
const ROOTS = fs
  .readdirSync(REPO_ROOT, { withFileTypes: true })
  .filter((e) => e.isDirectory() && !['node_modules', 'cdk.out', 'coverage', '.git'].includes(e.name))
  .map((e) => e.name);

/**
 * Repository paths in backticks (`shared/...`, `npx vitest run test/...`), each word of a span on
 * its own; placeholders (`<fn>`, `{a,b}`, `*`, `$VAR`) are left out.
 */
function repoPathsIn(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/`([^`\n]+)`/g))
    for (const word of m[1]!.split(/\s+/)) {
      const p = word.replace(/^\(/, '').replace(/[.,:;)]+$/, '');
      if (!p.includes('/') || !ROOTS.includes(p.split('/')[0]!) || /[<>{}*$]/.test(p)) continue;
      out.push(p);
    }
  return out;
}

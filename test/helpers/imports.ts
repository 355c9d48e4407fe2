/**
 * Test helper: the layers of the tree and the imports each may not make, checked on the import
 * statements of every source file (static, type-only, re-exports and dynamic `import()` alike).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

/** The top-level source folders and the folders each must not import from. */
export const FORBIDDEN: Readonly<Record<string, readonly string[]>> = {
  // The production core: knows nothing of how it is run, deployed or driven.
  shared: ['functions', 'infra', 'local', 'cli', 'client', 'bench', 'test'],
  // What ships to Lambda: the core and itself, nothing local or of the deployment.
  functions: ['infra', 'local', 'cli', 'client', 'bench', 'test'],
  // The CDK app: describes the functions, never runs local or test code.
  infra: ['local', 'cli', 'client', 'bench', 'test'],
  // The producer's client: talks HTTP; nothing of the deployment or the local stack.
  client: ['infra', 'local', 'cli', 'bench', 'test'],
  // Local stack and CLI: may use everything but tests and the benchmark.
  local: ['cli', 'client', 'bench', 'test'],
  cli: ['bench', 'test'],
  bin: ['bench', 'test'],
};

export interface SourceFile {
  /** Repository-relative path with forward slashes. */
  path: string;
  source: string;
}

/** Every relative import specifier of a file (static, type-only, re-export, dynamic, side effect). */
export function importsOf(source: string): string[] {
  return ts
    .preProcessFile(source, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((s) => s.startsWith('.'));
}

/** Each import that crosses a forbidden boundary, as `file -> target (layer may not import folder/)`. */
export function boundaryViolations(files: readonly SourceFile[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    const layer = f.path.split('/')[0]!;
    const forbidden = FORBIDDEN[layer] ?? [];
    for (const spec of importsOf(f.source)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(f.path), spec));
      const folder = target.split('/')[0]!;
      if (forbidden.includes(folder)) out.push(`${f.path} -> ${target} (${layer}/ may not import ${folder}/)`);
    }
  }
  return out;
}

/** The source files of the layers in FORBIDDEN, read from `root`. */
export function sourceFiles(root: string): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mts|mjs|js)$/.test(e.name) && !e.name.endsWith('.d.ts'))
        out.push({ path: p, source: fs.readFileSync(path.join(root, p), 'utf8') });
    }
  };
  for (const layer of Object.keys(FORBIDDEN)) if (fs.existsSync(path.join(root, layer))) walk(layer);
  return out;
}

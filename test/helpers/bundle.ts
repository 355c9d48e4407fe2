/**
 * Test helper: what a Lambda bundle was built from, read from its source map, and what it must not
 * hold. A bundle is functions/ and shared/ code plus the npm packages production needs; local/,
 * infra/, cli/, test/ and bench/ code, and packages only devDependencies need (ioredis among them),
 * stay out.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface BundleOrigins {
  /** Repository files, relative to the repository root (`functions/worker/run.ts`). */
  files: string[];
  /** npm packages by name (`@upstash/redis`, `zod`). */
  packages: string[];
}

/** Reads `<bundle>.map`'s sources (paths relative to the map's folder) into repository files and packages. */
export function bundleOrigins(mapFile: string, root: string): BundleOrigins {
  const map = JSON.parse(fs.readFileSync(mapFile, 'utf8')) as { sources: string[] };
  const files = new Set<string>();
  const packages = new Set<string>();
  for (const source of map.sources) {
    const abs = path.resolve(path.dirname(mapFile), source);
    const inModules = abs.split(`${path.sep}node_modules${path.sep}`);
    if (inModules.length > 1) {
      const parts = inModules.at(-1)!.split(path.sep);
      packages.add(parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
    } else files.add(path.relative(root, abs).split(path.sep).join('/'));
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}

/** Packages the lockfile marks `dev` (needed by devDependencies only), from package-lock.json. */
export function devOnlyPackages(lockFile: string): Set<string> {
  const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const out = new Set<string>();
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!entry.dev) continue;
    const name = key.split('node_modules/').at(-1);
    if (name) out.add(name);
  }
  return out;
}

const BUNDLED_FOLDERS = ['functions/', 'shared/'];
/** Named here as well as by the lockfile: the issue that made it a devDependency says no bundle holds it. */
const NEVER_BUNDLED = ['ioredis'];

/** Every origin a Lambda bundle must not have, as a sentence; empty when the bundle is clean. */
export function bundleViolations(origins: BundleOrigins, devOnly: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const f of origins.files)
    if (!BUNDLED_FOLDERS.some((d) => f.startsWith(d))) out.push(`${f}: outside ${BUNDLED_FOLDERS.join(' and ')}`);
  for (const p of origins.packages) {
    if (NEVER_BUNDLED.includes(p)) out.push(`${p}: never bundled`);
    else if (devOnly.has(p)) out.push(`${p}: needed by devDependencies only`);
  }
  return out;
}

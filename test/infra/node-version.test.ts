/** `.nvmrc` names the Node major the Lambdas run on, so a local shell runs what production runs. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { RUNTIME } from '../../infra/constructs/functions.js';
import { REPO_ROOT } from '../../infra/stack.js';

it(".nvmrc holds the Lambda runtime's Node major", () => {
  const nvmrc = fs.readFileSync(path.join(REPO_ROOT, '.nvmrc'), 'utf8');
  const major = /^nodejs(\d+)\.x$/.exec(RUNTIME.name)?.[1];
  expect(major, RUNTIME.name).toBeDefined();
  expect(nvmrc).toBe(`${major}\n`);
});

/**
 * Test helper: synthesizes SpoolStack in a throwaway App/outdir.
 * `SPOOL_INFRA_PROJECT_ROOT` points the function entries at another tree (e.g. stubs under /tmp);
 * by default they are the real functions/<fn>/handler.ts of this repository.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addNagChecks } from '../../infra/nag.js';
import { REPO_ROOT, SpoolStack } from '../../infra/stack.js';

export interface SynthOptions {
  /** Really bundle with esbuild (slow); default false. */
  readonly bundle?: boolean;
  /** Built-in CloudFormation validation; default false. */
  readonly validation?: boolean;
  /** Register the cdk-nag AwsSolutions checks; default false. */
  readonly nag?: boolean;
  /** Called after the stack is built, before synth (e.g. to add a deliberate violation). */
  readonly extend?: (stack: SpoolStack) => void;
}

export interface Synthesized {
  readonly app: App;
  readonly stack: SpoolStack;
  readonly template: Template;
  readonly outdir: string;
  cleanup(): void;
}

export const projectRootForTests = (): string => process.env.SPOOL_INFRA_PROJECT_ROOT ?? REPO_ROOT;

/** The context of cdk.json (new App() does not read it): tests run with the documented defaults. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export function synthSpool(context: Record<string, unknown> = {}, opts: SynthOptions = {}): Synthesized {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-infra-'));
  const cleanup = (): void => fs.rmSync(outdir, { recursive: true, force: true });
  try {
    const app = new App({
      outdir,
      builtinCloudFormationValidation: opts.validation ?? false,
      context: {
        ...cdkJsonContext(),
        ...(opts.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
        ...context,
      },
    });
    const stack = new SpoolStack(app, 'Spool', { projectRoot: projectRootForTests() });
    opts.extend?.(stack);
    if (opts.nag) addNagChecks(app);
    app.synth();
    const template = Template.fromStack(stack);
    return { app, stack, template, outdir, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

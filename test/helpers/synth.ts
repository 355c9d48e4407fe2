/**
 * Test helper: synthesizes SpoolStack (or a stack of your own around the Spool construct) in a
 * throwaway App/outdir.
 * `SPOOL_INFRA_PROJECT_ROOT` points the function entries at another tree (e.g. stubs under /tmp);
 * by default they are the real functions/<fn>/handler.ts of this repository.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
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

export interface Synthesized<S extends Stack = SpoolStack> {
  readonly app: App;
  readonly stack: S;
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

/**
 * Synthesizes whatever `build` puts in a throwaway App (context: cdk.json's, then `context`), and
 * returns the template of the stack it returns.
 */
export function synthWith<S extends Stack>(
  context: Record<string, unknown>,
  opts: Omit<SynthOptions, 'extend'> & { readonly extend?: (stack: S) => void },
  build: (app: App) => S,
): Synthesized<S> {
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
    const stack = build(app);
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

/** The `Spool` stack of infra/app.ts, configured by context. */
export const synthSpool = (context: Record<string, unknown> = {}, opts: SynthOptions = {}): Synthesized =>
  synthWith(context, opts, (app) => new SpoolStack(app, 'Spool', { projectRoot: projectRootForTests() }));

/** The least context that synthesizes: a page destination (synth refuses a deployment that pages nobody). */
export const PAGED = { alarmEmail: 'oncall@example.com' } as const;

/** Pseudo parameters as a deployment in one account and region would resolve them. */
export const RENDER_ENV = { 'AWS::AccountId': '123456789012', 'AWS::Region': 'eu-west-1', 'AWS::Partition': 'aws' };

/**
 * A CloudFormation value as it reads once deployed: Fn::Join joined, pseudo parameters filled from
 * RENDER_ENV, other references shown as `<LogicalId>` / `<LogicalId.Attr>`.
 */
export function renderCfn(v: unknown): string {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(renderCfn).join(sep);
    }
    if ('Ref' in o) {
      const ref = o.Ref as string;
      return ref in RENDER_ENV ? RENDER_ENV[ref as keyof typeof RENDER_ENV] : `<${ref}>`;
    }
    if ('Fn::GetAtt' in o) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
  }
  throw new Error(`cannot render ${JSON.stringify(v)}`);
}

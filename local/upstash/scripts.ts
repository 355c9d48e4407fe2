/**
 * Upstash's script flags on a Redis 7 that refuses one of them.
 *
 * Upstash runs a script that starts with `#!lua flags=allow-key-locking` (optionally with other
 * flags, `no-writes,allow-key-locking`) under a lock on its KEYS only. Redis 7 answers such a body
 * `ERR Unexpected flag in script shebang: allow-key-locking`. The endpoint therefore hands Redis the
 * body without that flag (the other flags kept: Redis enforces `no-writes` itself; a shebang left
 * with no flag is blanked, so the script runs as it would without one, line numbers unchanged), and
 * maps the digest the client computed (SHA-1 of the body it sent) to the digest Redis knows, for
 * EVALSHA, EVALSHA_RO, SCRIPT EXISTS and SCRIPT LOAD's answer. A digest the endpoint has not seen
 * (it restarted) goes to Redis as is and is answered NOSCRIPT, so the client resends the body.
 */
import { createHash } from 'node:crypto';

const FLAG = 'allow-key-locking';
/** Digests remembered at most (distinct script bodies; the engine has about a dozen). */
const MAX_DIGESTS = 10_000;

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

/** The body Redis can run, or the same string when it carries no Upstash-only flag. */
export function forRedis(body: string): string {
  if (!body.startsWith('#!')) return body;
  const nl = body.indexOf('\n');
  const line = nl === -1 ? body : body.slice(0, nl);
  const m = /^#!(\S+)(.*)$/.exec(line);
  if (!m) return body;
  const params = (m[2] ?? '').trim().split(/\s+/).filter(Boolean);
  let changed = false;
  const kept: string[] = [];
  for (const p of params) {
    if (!p.startsWith('flags=')) {
      kept.push(p);
      continue;
    }
    const flags = p.slice('flags='.length).split(',');
    const rest = flags.filter((f) => f !== FLAG);
    if (rest.length !== flags.length) changed = true;
    if (rest.length > 0) kept.push(`flags=${rest.join(',')}`);
  }
  if (!changed) return body;
  const first = kept.length > 0 ? `#!${m[1]} ${kept.join(' ')}` : '';
  return nl === -1 ? first : first + body.slice(nl);
}

export class ScriptFlags {
  /** Client digest -> Redis digest, for bodies that were rewritten. */
  private readonly digests = new Map<string, string>();

  /** Body for Redis; remembers the digest pair when the body had to change. */
  body(clientBody: string): string {
    const redisBody = forRedis(clientBody);
    if (redisBody !== clientBody) {
      const client = sha1(clientBody);
      if (!this.digests.has(client)) {
        if (this.digests.size >= MAX_DIGESTS) this.digests.delete(this.digests.keys().next().value as string);
        this.digests.set(client, sha1(redisBody));
      }
    }
    return redisBody;
  }

  /** The digest Redis knows for a digest a client sent. */
  digest(client: string): string {
    return this.digests.get(client.toLowerCase()) ?? client;
  }

  /**
   * A command as Redis must see it, and how to turn Redis's reply into the one the client expects
   * (SCRIPT LOAD answers the client's digest). Commands that carry no script pass unchanged.
   */
  translate(cmd: [string, ...string[]]): { cmd: [string, ...string[]]; reply?: (v: unknown) => unknown } {
    const name = cmd[0];
    if ((name === 'EVAL' || name === 'EVAL_RO') && cmd.length > 1) {
      return { cmd: [name, this.body(cmd[1] as string), ...cmd.slice(2)] };
    }
    if ((name === 'EVALSHA' || name === 'EVALSHA_RO') && cmd.length > 1) {
      return { cmd: [name, this.digest(cmd[1] as string), ...cmd.slice(2)] };
    }
    if (name === 'SCRIPT' && cmd.length > 2) {
      const sub = (cmd[1] as string).toUpperCase();
      if (sub === 'LOAD') {
        const clientBody = cmd[2] as string;
        const redisBody = this.body(clientBody);
        if (redisBody === clientBody) return { cmd };
        const client = sha1(clientBody);
        return { cmd: ['SCRIPT', 'LOAD', redisBody, ...cmd.slice(3)], reply: () => client };
      }
      if (sub === 'EXISTS') return { cmd: ['SCRIPT', 'EXISTS', ...cmd.slice(2).map((d) => this.digest(d))] };
    }
    return { cmd };
  }
}

import { createHash } from 'node:crypto';
import type { QueueKeyName } from '../keys.js';

/**
 * A Lua script of the engine: its name, the keys it touches (all passed in KEYS, in this order,
 * and bound to `K.<name>` in Lua), and its body. Shared fragments are concatenated in, not copied.
 */
export interface ScriptDef {
  name: string;
  keys: readonly QueueKeyName[];
  source: string;
  /** SHA-1 of the source, computed here so the first EVALSHA can share an HTTP request with other calls. */
  sha1: string;
}

export function defineScript(name: string, keys: readonly QueueKeyName[], ...parts: string[]): ScriptDef {
  const bind = keys.map((k, i) => `${k} = KEYS[${i + 1}]`).join(', ');
  const source = `-- spool:${name} (${keys.length} keys)\nlocal K = { ${bind} }\n${parts.join('\n')}`;
  return { name, keys, source, sha1: createHash('sha1').update(source).digest('hex') };
}

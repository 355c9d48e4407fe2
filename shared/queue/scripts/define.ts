import type { QueueKeyName } from '../keys.js';

/**
 * A Lua script of the engine: its name, the keys it touches (all passed in KEYS, in this order,
 * and bound to `K.<name>` in Lua), and its body. Shared fragments are concatenated in, not copied.
 */
export interface ScriptDef {
  name: string;
  keys: readonly QueueKeyName[];
  source: string;
}

export function defineScript(name: string, keys: readonly QueueKeyName[], ...parts: string[]): ScriptDef {
  const bind = keys.map((k, i) => `${k} = KEYS[${i + 1}]`).join(', ');
  const source = `-- spool:${name} (${keys.length} keys)\nlocal K = { ${bind} }\n${parts.join('\n')}`;
  return { name, keys, source };
}

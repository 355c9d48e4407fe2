/**
 * The operator audit of a queue: `<prefix>:{<queue>}:audit:dlq-replay` (keys.ts auditDlqReplay), a
 * LIST of JSON records, newest first, capped at AUDIT_CAP, written by the script that does the work
 * (replay, clear), so nothing moves or goes without its record. Every record has the same head: at,
 * actor, requestId, queue; a clear's says `action: "clear"`.
 */
import { iso } from './present.js';

export const AUDIT_CAP = 1000;

/** Who asked: the IAM caller (or the CLI's user, or `auto-replay`) and the request id. */
export interface Actor {
  actor: string;
  requestId: string;
}

/** An audit record's head, at `now` (epoch ms), with the record's own fields. */
export const auditRecord = (now: number, who: Actor, queue: string, fields: Record<string, unknown>) => ({
  record: { at: iso(now), actor: who.actor, requestId: who.requestId, queue, ...fields },
  cap: AUDIT_CAP,
});

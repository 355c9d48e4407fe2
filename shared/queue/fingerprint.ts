import { createHash } from 'node:crypto';

/**
 * A stable fingerprint of an error: its class and its message with the variable parts (ids, numbers,
 * hex, quoted values, URLs' query strings) masked, hashed to 12 hex characters. Failures that differ only
 * by a job id or a timestamp share a fingerprint, so the DLQ groups them.
 */
export function normalizeMessage(message: string): string {
  return message
    .toLowerCase()
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
    .replace(/\?[^\s"']*/g, '?<query>')
    .replace(/"[^"]*"|'[^']*'/g, '<str>')
    .replace(/\b0x[0-9a-f]+\b|\b[0-9a-f]{16,}\b/g, '<hex>')
    .replace(/\d+(\.\d+)?/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
}

export function fingerprint(errorClass: string, message: string): string {
  return createHash('sha1')
    .update(`${errorClass}\n${normalizeMessage(message)}`)
    .digest('hex')
    .slice(0, 12);
}

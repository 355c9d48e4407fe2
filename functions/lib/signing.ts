/**
 * The worker's delivery signing secrets: SPOOL_SIGNING_SECRET (local runs), else the Secrets
 * Manager secret SPOOL_SIGNING_SECRET_ARN names (the stack creates it). The value is one secret,
 * or two separated by a comma during a rotation (`new,old`: deliveries carry both signatures).
 * The Secrets Manager value is read on first use and again every SIGNING_SECRET_REFRESH_MS, so a
 * rotation reaches running containers; a failed refresh keeps the last value. Neither set: no
 * signing (a warning once), so a misconfigured worker still delivers.
 */
import type { SpoolConfig } from '../../shared/config/index.js';
import { parseSigningSecrets } from '../../shared/jobs/signature.js';
import type { Logger } from '../../shared/log/logger.js';
import { SpoolError } from '../../shared/queue/errors.js';

export const SIGNING_SECRET_REFRESH_MS = 5 * 60 * 1000;

/** The current signing secrets, or undefined when none is configured. Throws only before any value was read. */
export type SigningSecrets = () => Promise<readonly string[] | undefined>;

export function signingSecrets(
  config: Pick<SpoolConfig, 'SPOOL_SIGNING_SECRET' | 'SPOOL_SIGNING_SECRET_ARN'>,
  readSecret: (arn: string) => Promise<string>,
  logger: Pick<Logger, 'warn'>,
  clock: () => number = Date.now,
): SigningSecrets {
  if (config.SPOOL_SIGNING_SECRET) {
    const fixed = parseSigningSecrets(config.SPOOL_SIGNING_SECRET);
    return async () => fixed;
  }
  const arn = config.SPOOL_SIGNING_SECRET_ARN;
  if (!arn) {
    let warned = false;
    return async () => {
      if (!warned) logger.warn('no SPOOL_SIGNING_SECRET or SPOOL_SIGNING_SECRET_ARN: deliveries are not signed');
      warned = true;
      return undefined;
    };
  }
  let value: readonly string[] | undefined;
  let readAt = 0;
  let pending: Promise<readonly string[]> | undefined;
  const read = async () => {
    try {
      return parseSigningSecrets(await readSecret(arn));
    } catch (err) {
      throw new SpoolError(
        `the signing secret could not be read: ${err instanceof Error ? err.message : String(err)}`,
        'config_error',
        500,
      );
    }
  };
  return async () => {
    if (value && clock() - readAt < SIGNING_SECRET_REFRESH_MS) return value;
    pending ??= read().finally(() => {
      pending = undefined;
    });
    try {
      value = await pending;
      readAt = clock();
    } catch (err) {
      if (!value) throw err;
      logger.warn('signing secret refresh failed; signing with the last value', {
        error: err instanceof Error ? err.message : String(err),
      });
      readAt = clock();
    }
    return value;
  };
}

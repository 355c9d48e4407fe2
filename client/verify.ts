/**
 * `spool/verify`: for targets, to check that a request came from Spool.
 *
 *   import { verifySignature } from 'spool/verify';
 *   const r = verifySignature({ secret: process.env.SPOOL_SIGNING_SECRET!, headers: req.headers, body: rawBody });
 *   if (!r.ok) return res.writeHead(401).end(r.message);
 *
 * `body` must be the exact bytes received (read the raw body; a parsed and re-serialised JSON differs).
 * `secret` may be two secrets during a rotation. The comparison is constant-time; a timestamp more
 * than `toleranceMs` (default 5 minutes) from now is refused, so a captured request cannot be replayed later.
 */
export {
  DEFAULT_TOLERANCE_MS,
  type HeaderSource,
  JOB_ID_HEADER,
  SIGNATURE_HEADER,
  signDelivery,
  TIMESTAMP_HEADER,
  type VerifyInput,
  type VerifyReason,
  type VerifyResult,
  verifySignatures as verifySignature,
} from '../shared/jobs/signature.js';

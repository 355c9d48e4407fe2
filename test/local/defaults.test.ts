/** The local defaults are stated once (local/defaults.ts); the README's settings table and the CLI say the same. */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { USAGE } from '../../cli/commands.js';
import {
  LOCAL_API_PORT,
  LOCAL_REDIS_URL,
  LOCAL_REST_TOKEN,
  LOCAL_REST_URL,
  localSettings,
} from '../../local/defaults.js';

const README = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
/** The README table row of an environment variable. */
const readmeRow = (name: string): string => README.split('\n').find((l) => l.startsWith(`| \`${name}\``)) ?? '';

describe('local defaults', () => {
  it('unset or empty variables take the defaults; set ones win', () => {
    for (const env of [{}, { REDIS_URL: '', UPSTASH_REDIS_REST_URL: '', UPSTASH_REDIS_REST_TOKEN: '' }]) {
      const s = localSettings(env);
      expect({ redisUrl: s.redisUrl, restUrl: s.restUrl.href, token: s.token }).toEqual({
        redisUrl: LOCAL_REDIS_URL,
        restUrl: new URL(LOCAL_REST_URL).href,
        token: LOCAL_REST_TOKEN,
      });
    }
    const s = localSettings({
      REDIS_URL: 'redis://127.0.0.1:6390',
      UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9000',
      UPSTASH_REDIS_REST_TOKEN: 't',
    });
    expect([s.redisUrl, s.restUrl.port, s.token]).toEqual(['redis://127.0.0.1:6390', '9000', 't']);
  });

  it("the README's settings table and the CLI's usage state the same defaults", () => {
    expect(readmeRow('UPSTASH_REDIS_REST_URL')).toContain(LOCAL_REST_URL);
    expect(readmeRow('UPSTASH_REDIS_REST_TOKEN')).toContain(LOCAL_REST_TOKEN);
    expect(readmeRow('REDIS_URL')).toContain(LOCAL_REDIS_URL);
    expect(readmeRow('PORT')).toMatch(new RegExp(`\\|\\s*${LOCAL_API_PORT}\\s*\\|`));
    expect(USAGE).toContain(`default ${LOCAL_REST_URL}`);
    expect(USAGE).toContain(`default ${LOCAL_REST_TOKEN}`);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../errors.js';
import { backoffDelay, isConnectionFailure, isRetryableError, isRetryableStatus, onRetry, retryPolicyFromEnv, retryReason, waitToRetry, type RetryEvent, type RetryPolicy } from './retry.js';

const policy: RetryPolicy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 10_000 };

describe('isRetryableStatus', () => {
  const cases: [number, boolean][] = [
    [429, true],
    [408, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [416, false],
    [501, false],
    [505, false],
    [200, false],
  ];
  it.each(cases)('%i -> %s', (status, want) => {
    expect(isRetryableStatus(status)).toBe(want);
  });
});

describe('isRetryableError', () => {
  const withCode = (code: string): Error => Object.assign(new Error(code), { code });
  const cases: [label: string, err: unknown, want: boolean][] = [
    ['ECONNRESET', withCode('ECONNRESET'), true],
    ['ECONNREFUSED', withCode('ECONNREFUSED'), true],
    ['ETIMEDOUT', withCode('ETIMEDOUT'), true],
    ['EAI_AGAIN', withCode('EAI_AGAIN'), true],
    ['EPIPE', withCode('EPIPE'), true],
    ['UND_ERR_SOCKET', withCode('UND_ERR_SOCKET'), true],
    ['UND_ERR_CONNECT_TIMEOUT', withCode('UND_ERR_CONNECT_TIMEOUT'), true],
    ['ENOENT', withCode('ENOENT'), false],
    ['EACCES', withCode('EACCES'), false],
    ['plain Error', new Error('boom'), false],
    ['undefined', undefined, false],
    ['null', null, false],
    ['a string', 'ECONNRESET', false],
  ];
  it.each(cases)('%s -> %s', (_label, err, want) => {
    expect(isRetryableError(err)).toBe(want);
  });
});

describe('isConnectionFailure', () => {
  const withCode = (code: string, cause?: unknown): Error => Object.assign(new Error(code, cause ? { cause } : undefined), { code });
  const cases: [label: string, err: unknown, want: boolean][] = [
    ['ECONNREFUSED', withCode('ECONNREFUSED'), true],
    ['ENOTFOUND', withCode('ENOTFOUND'), true],
    ['EAI_AGAIN', withCode('EAI_AGAIN'), true],
    ['UND_ERR_CONNECT_TIMEOUT', withCode('UND_ERR_CONNECT_TIMEOUT'), true],
    ['a self-signed certificate', withCode('DEPTH_ZERO_SELF_SIGNED_CERT'), true],
    ['a wrong host name in the certificate', withCode('ERR_TLS_CERT_ALTNAME_INVALID'), true],
    ['an unknown CA', withCode('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), true],
    ['plain HTTP answering TLS', withCode('ERR_SSL_WRONG_VERSION_NUMBER'), true],
    ['ECONNREFUSED as the cause of a wrapper', new Error('pushing', { cause: withCode('ECONNREFUSED') }), true],
    ['ENOENT (a local file)', withCode('ENOENT'), false],
    ['EACCES', withCode('EACCES'), false],
    ['plain Error', new Error('boom'), false],
  ];
  it.each(cases)('%s -> %s', (_label, err, want) => {
    expect(isConnectionFailure(err)).toBe(want);
  });
});

describe('backoffDelay', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('honours Retry-After in seconds', () => {
    expect(backoffDelay(policy, 1, '3')).toBe(3000);
    expect(backoffDelay(policy, 4, '0')).toBe(0);
    expect(backoffDelay(policy, 1, ['2'])).toBe(2000);
  });

  it('honours Retry-After as an HTTP date', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2025-01-01T00:00:00Z'));
    expect(backoffDelay(policy, 1, 'Wed, 01 Jan 2025 00:00:07 GMT')).toBe(7000);
  });

  it('caps a long Retry-After at twice the maximum delay', () => {
    expect(backoffDelay(policy, 1, '3600')).toBe(2 * policy.maxDelayMs);
  });

  it('falls back to exponential backoff for a Retry-After date in the past or junk', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2025-01-01T00:00:00Z'));
    for (const ra of ['Tue, 31 Dec 2024 23:59:00 GMT', 'soon']) {
      const d = backoffDelay(policy, 1, ra);
      expect(d).toBeGreaterThanOrEqual(75);
      expect(d).toBeLessThanOrEqual(125);
    }
  });

  it('grows exponentially with jitter and is capped', () => {
    const cases: [n: number, nominal: number][] = [
      [1, 100],
      [2, 200],
      [3, 400],
      [8, 10_000], // 100 * 2^7 = 12800, capped at 10000
    ];
    for (const [n, nominal] of cases) {
      for (let i = 0; i < 20; i++) {
        const d = backoffDelay(policy, n);
        expect(d).toBeGreaterThanOrEqual(nominal * 0.75);
        expect(d).toBeLessThanOrEqual(nominal * 1.25);
      }
    }
  });
});

describe('retryReason', () => {
  const withCode = (code: string, cause?: unknown): Error => Object.assign(new Error(`x ${code}`), { code, cause });
  const cases: [label: string, failure: unknown, want: string][] = [
    ['a status', 503, 'HTTP 503'],
    ['a reset', withCode('ECONNRESET'), 'connection reset'],
    ['undici socket closed, wrapped', new Error('fetch failed', { cause: withCode('UND_ERR_SOCKET') }), 'connection closed by the other side'],
    ['an unknown error', new Error('something odd'), 'something odd'],
  ];
  it.each(cases)('%s -> %s', (_label, failure, want) => {
    expect(retryReason(failure)).toBe(want);
  });
});

describe('waitToRetry', () => {
  it('tells every listener which attempt comes next, of how many, after how long and why; unsubscribing stops it', async () => {
    const seen: RetryEvent[] = [];
    const off = onRetry((e) => seen.push(e));
    await waitToRetry({ attempts: 5, baseDelayMs: 1, maxDelayMs: 1 }, 1, 'fetching x', Object.assign(new Error('r'), { code: 'ECONNRESET' }));
    await waitToRetry({ attempts: 5, baseDelayMs: 1, maxDelayMs: 1 }, 2, 'fetching x', 429, '0');
    off();
    await waitToRetry({ attempts: 5, baseDelayMs: 1, maxDelayMs: 1 }, 3, 'fetching x', 500);
    expect(seen).toEqual([
      { what: 'fetching x', attempt: 2, attempts: 5, delayMs: expect.any(Number) as number, reason: 'connection reset' },
      { what: 'fetching x', attempt: 3, attempts: 5, delayMs: 0, reason: 'HTTP 429' },
    ]);
  });
});

describe('retryPolicyFromEnv (FERRY_RETRY_ATTEMPTS, FERRY_RETRY_BASE_MS)', () => {
  it('defaults when unset or empty, reads whole numbers in range', () => {
    expect(retryPolicyFromEnv({})).toEqual({ attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 });
    expect(retryPolicyFromEnv({ FERRY_RETRY_ATTEMPTS: '', FERRY_RETRY_BASE_MS: ' ' })).toEqual({ attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 });
    expect(retryPolicyFromEnv({ FERRY_RETRY_ATTEMPTS: '1', FERRY_RETRY_BASE_MS: '0' })).toEqual({ attempts: 1, baseDelayMs: 0, maxDelayMs: 30_000 });
    expect(retryPolicyFromEnv({ FERRY_RETRY_ATTEMPTS: '100', FERRY_RETRY_BASE_MS: '60000' })).toEqual({ attempts: 100, baseDelayMs: 60_000, maxDelayMs: 30_000 });
  });

  const bad: [env: NodeJS.ProcessEnv, msg: string][] = [
    [{ FERRY_RETRY_ATTEMPTS: 'abc' }, 'FERRY_RETRY_ATTEMPTS must be a whole number from 1 to 100 (attempts per request, the first included), got "abc"'],
    [{ FERRY_RETRY_ATTEMPTS: '0' }, 'FERRY_RETRY_ATTEMPTS must be a whole number from 1 to 100 (attempts per request, the first included), got "0"'],
    [{ FERRY_RETRY_ATTEMPTS: '2.5' }, 'got "2.5"'],
    [{ FERRY_RETRY_BASE_MS: '-5' }, 'FERRY_RETRY_BASE_MS must be a whole number from 0 to 60000 (milliseconds before the first retry, doubling after), got "-5"'],
    [{ FERRY_RETRY_BASE_MS: '1e3' }, 'FERRY_RETRY_BASE_MS must be a whole number from 0 to 60000'],
  ];
  it.each(bad)('rejects %j with a UsageError (exit 2)', (env, msg) => {
    let caught: unknown;
    try {
      retryPolicyFromEnv(env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).exitCode).toBe(2);
    expect((caught as UsageError).message).toContain(msg);
  });
});

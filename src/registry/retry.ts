/**
 * Retry policy for registry requests: connection errors, resets, 5xx and 429 are retried with
 * exponential backoff; a Retry-After header (seconds or HTTP date) is honoured.
 */
import { UsageError } from '../errors.js';

export interface RetryPolicy {
  /** Total attempts, including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The environment variables that tune retries: name, default, and the allowed whole-number range. */
export const RETRY_ENV = {
  FERRY_RETRY_ATTEMPTS: { fallback: 5, min: 1, max: 100, what: 'attempts per request, the first included' },
  FERRY_RETRY_BASE_MS: { fallback: 500, min: 0, max: 60_000, what: 'milliseconds before the first retry, doubling after' },
} as const;

/** One variable's value, or why it is not valid. Empty or unset is the default. */
function readEnvNumber(env: NodeJS.ProcessEnv, name: keyof typeof RETRY_ENV): { value: number; problem?: string } {
  const spec = RETRY_ENV[name];
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return { value: spec.fallback };
  const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (Number.isInteger(n) && n >= spec.min && n <= spec.max) return { value: n };
  return { value: spec.fallback, problem: `${name} must be a whole number from ${spec.min} to ${spec.max} (${spec.what}), got "${raw}"` };
}

/**
 * The retry policy the environment asks for. Throws a UsageError (exit 2) naming the variable,
 * what it got and what is allowed, when FERRY_RETRY_ATTEMPTS or FERRY_RETRY_BASE_MS is not valid.
 */
export function retryPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): RetryPolicy {
  const attempts = readEnvNumber(env, 'FERRY_RETRY_ATTEMPTS');
  const base = readEnvNumber(env, 'FERRY_RETRY_BASE_MS');
  const problem = attempts.problem ?? base.problem;
  if (problem) throw new UsageError(problem, 'fix or unset the environment variable');
  return { attempts: attempts.value, baseDelayMs: base.value, maxDelayMs: 30_000 };
}

/**
 * The policy every request uses unless given another: the environment's, with the defaults for
 * an invalid value (never a throw at import). Commands call retryPolicyFromEnv() up front, so an
 * invalid value stops a run before it starts.
 */
export const DEFAULT_RETRY: RetryPolicy = (() => {
  try {
    return retryPolicyFromEnv();
  } catch {
    return { attempts: RETRY_ENV.FERRY_RETRY_ATTEMPTS.fallback, baseDelayMs: RETRY_ENV.FERRY_RETRY_BASE_MS.fallback, maxDelayMs: 30_000 };
  }
})();

/** Whether an HTTP status is worth another try. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

/** Whether a thrown error is a transient network failure. */
export function isRetryableError(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const code = e.code ?? '';
    if (/^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|ECONNABORTED|ERR_STREAM_PREMATURE_CLOSE)$/.test(code)) return true;
    if (/^UND_ERR_(SOCKET|CONNECT_TIMEOUT|HEADERS_TIMEOUT|BODY_TIMEOUT|CLOSED)$/.test(code)) return true;
  }
  return false;
}

/**
 * Whether an error (anywhere in its cause chain) says the host cannot be reached or talked to:
 * refused, unknown or unreachable host, a connect or response timeout, a TLS failure, or a
 * connection that kept breaking. One such failure stands for every request to that host, so a
 * push stops instead of retrying each image against a registry that is not there.
 */
export function isConnectionFailure(err: unknown): boolean {
  if (isRetryableError(err)) return true;
  for (let e = err as { code?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const code = e.code ?? '';
    if (/^(ENOTFOUND|EPROTO|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_\w+|UNABLE_TO_\w+|ERR_TLS_\w+|ERR_SSL_\w+)$/.test(code)) return true;
  }
  return false;
}

/** Delay before attempt `n` (1-based retry count), honouring Retry-After when given. */
export function backoffDelay(policy: RetryPolicy, n: number, retryAfter?: string | string[]): number {
  const ra = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
  if (ra) {
    const secs = Number(ra);
    const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(ra) - Date.now();
    if (Number.isFinite(ms) && ms >= 0) return Math.min(ms, policy.maxDelayMs * 2);
  }
  const exp = policy.baseDelayMs * 2 ** (n - 1) * (0.75 + Math.random() * 0.5);
  return Math.min(exp, policy.maxDelayMs);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A retry about to happen: `attempt` of `attempts` starts after `delayMs`. `what` names the
 * request or blob ("fetching sha256:... from host/repo"), `reason` says briefly why the last
 * attempt failed ("connection reset", "HTTP 503").
 */
export interface RetryEvent {
  what: string;
  attempt: number;
  attempts: number;
  delayMs: number;
  reason: string;
}

const retryListeners = new Set<(e: RetryEvent) => void>();

/** Calls `listener` before every retry wait; returns the function that unsubscribes it. */
export function onRetry(listener: (e: RetryEvent) => void): () => void {
  retryListeners.add(listener);
  return () => retryListeners.delete(listener);
}

const REASONS: Record<string, string> = {
  ECONNRESET: 'connection reset',
  ECONNREFUSED: 'connection refused',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection broken',
  ETIMEDOUT: 'timed out',
  EAI_AGAIN: 'name lookup failed',
  ENETUNREACH: 'network unreachable',
  EHOSTUNREACH: 'host unreachable',
  ERR_STREAM_PREMATURE_CLOSE: 'connection closed early',
  UND_ERR_SOCKET: 'connection closed by the other side',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no response in time',
  UND_ERR_BODY_TIMEOUT: 'download stalled',
};

/** A few words for why an attempt failed: an HTTP status or a network error. */
export function retryReason(failure: number | unknown): string {
  if (typeof failure === 'number') return `HTTP ${failure}`;
  for (let e = failure as { code?: string; message?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const r = REASONS[e.code ?? ''];
    if (r) return r;
  }
  return (failure as { message?: string } | undefined)?.message ?? String(failure);
}

/**
 * Waits before retry number `failed` (the count of attempts made so far), after telling the
 * onRetry listeners. `failure` is the HTTP status or error of the last attempt.
 */
export async function waitToRetry(policy: RetryPolicy, failed: number, what: string, failure: number | unknown, retryAfter?: string | string[]): Promise<void> {
  const delayMs = backoffDelay(policy, failed, retryAfter);
  const e: RetryEvent = { what, attempt: failed + 1, attempts: policy.attempts, delayMs, reason: retryReason(failure) };
  for (const l of retryListeners) l(e);
  await sleep(delayMs);
}

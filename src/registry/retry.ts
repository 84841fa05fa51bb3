/**
 * Retry policy for registry requests: connection errors, resets, 5xx and 429 are retried with
 * exponential backoff; a Retry-After header (seconds or HTTP date) is honoured.
 */
export interface RetryPolicy {
  /** Total attempts, including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: Number(process.env.FERRY_RETRY_ATTEMPTS ?? 5),
  baseDelayMs: Number(process.env.FERRY_RETRY_BASE_MS ?? 500),
  maxDelayMs: 30_000,
};

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

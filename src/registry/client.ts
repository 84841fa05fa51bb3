/**
 * A client for one registry (OCI distribution spec): scheme discovery and the /v2/ ping,
 * authentication on 401, redirects (never carrying Authorization to another host), and retries
 * on connection errors, 5xx and 429. Higher-level calls (manifests, blobs, uploads) are in
 * manifests.ts, blobs.ts and upload.ts; they all go through `send`.
 */
import { Readable } from 'node:stream';
import { request, type Dispatcher } from './undici-lean.js';
import { FerryError, describe, type ErrorCode } from '../errors.js';
import { Authenticator } from './auth.js';
import { parseChallenge } from './challenge.js';
import { lookupCredential, type Credential } from './credentials.js';
import { redactUrl } from './redact.js';
import { DEFAULT_RETRY, isRetryableError, isRetryableStatus, waitToRetry, type RetryPolicy } from './retry.js';
import type { Transport } from './transport.js';
import { VERSION } from '../version.js';
import { headerValue } from '../util/headers.js';

export const USER_AGENT = `ferry/${VERSION}`;
const MAX_REDIRECTS = 5;

export interface SendOptions {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** A path under the registry (`/v2/...`) or an absolute URL (upload locations). */
  path: string;
  /** Token scopes, e.g. `repository:library/nginx:pull`. */
  scopes: readonly string[];
  headers?: Record<string, string>;
  /** The body; a function is called once per attempt so streams can be retried. */
  body?: Buffer | string | (() => Readable);
  /** Statuses returned to the caller; anything else becomes an error (after retries). */
  accept: readonly number[];
  /** What is being done, for messages: "pulling manifest of X". */
  what: string;
  /**
   * Attempts for this request (default: the client's retry policy). 1 for a request the caller
   * retries itself: an upload PUT or PATCH that broke mid-body must go to a new session, since
   * the registry may have kept part of the body in the old one (upload.ts).
   */
  attempts?: number;
}

/** A registry answer with a status `accept` did not list; `status` lets callers decide on retries. */
export class RegistryStatusError extends FerryError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly status: number,
    options: { hint?: string } = {},
  ) {
    super(code, message, options);
    this.name = 'RegistryStatusError';
  }
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  url: URL;
}

/** The registry's own error text from a JSON errors body (`{"errors":[{code,message}]}`). */
function registryErrorText(text: string): string {
  try {
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    if (Array.isArray(doc.errors) && doc.errors.length) {
      return doc.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    }
  } catch {
    /* not JSON */
  }
  return text.trim().slice(0, 200);
}

/** Whether a connection error says the server answered something that is not TLS. */
function notTls(err: unknown): boolean {
  for (let e = err as { code?: string; message?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (/^ERR_SSL_(WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST)$/.test(e.code ?? '') || /wrong version number|packet length too long/.test(e.message ?? '')) return true;
  }
  return false;
}

export class RegistryClient {
  readonly host: string;
  private base: Promise<string> | undefined;
  private readonly auth: Authenticator;
  private credential: Promise<Credential | undefined> | undefined;

  constructor(
    host: string,
    private readonly transport: Transport,
    readonly retry: RetryPolicy = DEFAULT_RETRY,
    credential?: () => Promise<Credential | undefined>,
  ) {
    this.host = host;
    const cred = credential ?? (() => (this.credential ??= lookupCredential(host)));
    this.auth = new Authenticator(host, cred, (h) => transport.dispatcher(h), USER_AGENT);
  }

  /** The host requests are sent to: Docker Hub's API lives on registry-1.docker.io. */
  private get apiHost(): string {
    return this.host === 'docker.io' ? 'registry-1.docker.io' : this.host;
  }

  /**
   * Resolves the base URL once: HTTPS, or for loopback and --insecure-registry hosts HTTPS with
   * a fall-back to plain HTTP. The /v2/ ping also records the auth challenge.
   */
  baseUrl(): Promise<string> {
    this.base ??= this.ping();
    return this.base;
  }

  private async ping(): Promise<string> {
    const schemes = this.transport.allowsInsecure(this.host) ? ['https', 'http'] : ['https'];
    let lastErr: unknown;
    for (const scheme of schemes) {
      const url = `${scheme}://${this.apiHost}/v2/`;
      for (let attempt = 1; attempt <= this.retry.attempts; attempt++) {
        try {
          const res = await request(url, { method: 'GET', headers: { 'user-agent': USER_AGENT }, dispatcher: this.transport.dispatcher(this.host) });
          await res.body.dump();
          if (res.statusCode === 401) this.auth.setChallenge(parseChallenge(res.headers['www-authenticate']));
          if (isRetryableStatus(res.statusCode) && attempt < this.retry.attempts) {
            await waitToRetry(this.retry, attempt, `connecting to ${this.host}`, res.statusCode, res.headers['retry-after']);
            continue;
          }
          return `${scheme}://${this.apiHost}`;
        } catch (err) {
          lastErr = err;
          // A TLS failure on an insecure host means "try plain HTTP", not "retry".
          const code = (err as { code?: string }).code ?? '';
          if (scheme === 'https' && schemes.length > 1 && !/ECONNREFUSED/.test(code)) break;
          if (!isRetryableError(err) || attempt === this.retry.attempts) break;
          await waitToRetry(this.retry, attempt, `connecting to ${this.host}`, err);
        }
      }
      // Refused over HTTPS after every retry: the port is closed, plain HTTP would only be
      // refused the same number of times again.
      if (/ECONNREFUSED/.test((lastErr as { code?: string } | undefined)?.code ?? '')) break;
    }
    const viaProxy = /Proxy response|HTTP Tunneling/i.test(describe(lastErr));
    // A name that does not resolve is not a TLS question: do not suggest turning TLS off.
    const unresolved = /ENOTFOUND|EAI_AGAIN/.test(describe(lastErr));
    const tlsHint = viaProxy
      ? 'the proxy refused the connection: check HTTPS_PROXY / HTTP_PROXY and the proxy credentials, or list the registry in NO_PROXY'
      : unresolved
      ? `the host name ${this.host.replace(/:\d+$/, '')} does not resolve: check its spelling, this machine's DNS, or HTTPS_PROXY when registries are reached through a proxy`
      : this.transport.allowsInsecure(this.host)
      ? 'check that the registry is running and reachable'
      : `check that the registry is reachable; for a registry without TLS pass --insecure-registry ${this.host}, for a private CA --ca-file`;
    this.base = undefined;
    if (!viaProxy && notTls(lastErr)) {
      // OpenSSL's own text ("error:0A00010B:SSL routines:ssl3_get_record:wrong version number:...") says nothing to a user.
      throw new FerryError('NETWORK', `connecting to registry ${this.host}: the TLS handshake failed: the server did not answer in TLS (it may serve plain HTTP)`, {
        cause: lastErr,
        hint: `for a registry without TLS pass --insecure-registry ${this.host} (or set insecure: true for it in the manifest file's registries)`,
      });
    }
    throw new FerryError('NETWORK', `connecting to registry ${this.host}: ${describe(lastErr)}`, { cause: lastErr, hint: tlsHint });
  }

  /**
   * Sends a request with auth, redirects and retries. Returns the response when its status is in
   * `accept`; throws a FerryError (AUTH, NOT_FOUND, REGISTRY, NETWORK) otherwise. The caller must
   * consume or dump the body.
   */
  async send(opts: SendOptions): Promise<Response> {
    const base = await this.baseUrl();
    const registryHost = new URL(base).host;
    let authRetried = false;
    let lastErr: unknown;
    const attempts = opts.attempts ?? this.retry.attempts;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let url = new URL(opts.path, base);
      let method = opts.method;
      let sendAuth = true;
      try {
        for (let hop = 0; ; hop++) {
          const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...opts.headers };
          if (sendAuth) {
            const authz = await this.auth.header(opts.scopes);
            if (authz) headers.authorization = authz;
          }
          const body = typeof opts.body === 'function' ? opts.body() : opts.body;
          // undici closes the connection after every HEAD (for servers that send a body with one,
          // undici#258); registries do not, and a re-export is forty HEADs: keep the connection.
          const res = await request(url, { method, headers, body: hop === 0 || method !== 'GET' ? body : undefined, dispatcher: this.transport.dispatcher(url.host), ...(method === 'HEAD' ? { reset: false } : {}) });
          const r: Response = { status: res.statusCode, headers: res.headers, body: res.body, url };
          if ([301, 302, 303, 307, 308].includes(res.statusCode) && hop < MAX_REDIRECTS) {
            const loc = headerValue(res.headers, 'location');
            await res.body.dump();
            if (!loc) throw new FerryError('REGISTRY', `${opts.what}: ${opts.method} ${redactUrl(url)}: redirect without a Location`);
            const next = new URL(loc, url);
            // Never send the registry's credentials to another host (blob storage, CDNs).
            if (next.host !== registryHost) sendAuth = false;
            if (res.statusCode === 303) method = 'GET';
            url = next;
            continue;
          }
          if (res.statusCode === 401 && sendAuth && !authRetried) {
            const text = await res.body.text();
            const challenge = parseChallenge(res.headers['www-authenticate']);
            if (challenge) {
              authRetried = true;
              this.auth.setChallenge(challenge);
              this.auth.invalidate(opts.scopes);
              attempt--;
              break;
            }
            throw this.statusError(opts, r, text, registryHost);
          }
          if (opts.accept.includes(res.statusCode)) return r;
          const text = method === 'HEAD' ? '' : await res.body.text().catch(() => '');
          if (method === 'HEAD') await res.body.dump().catch(() => undefined);
          if (isRetryableStatus(res.statusCode) && attempt < attempts) {
            lastErr = this.statusError(opts, r, text, registryHost);
            await waitToRetry(this.retry, attempt, opts.what, res.statusCode, res.headers['retry-after']);
            break;
          }
          throw this.statusError(opts, r, text, registryHost);
        }
      } catch (err) {
        if (err instanceof FerryError) throw err;
        lastErr = err;
        if (!isRetryableError(err) || attempt === attempts) {
          throw new FerryError('NETWORK', `${opts.what}: ${opts.method} ${redactUrl(url)}: ${describe(err)}`, { cause: err });
        }
        await waitToRetry(this.retry, attempt, opts.what, err);
      }
    }
    if (lastErr instanceof FerryError) throw lastErr;
    throw new FerryError('NETWORK', `${opts.what}: giving up after ${attempts} attempts: ${describe(lastErr)}`, { cause: lastErr });
  }

  /**
   * The error for an answer `accept` did not list: a RegistryStatusError carrying the status, so
   * callers such as upload.ts can tell a broken session (5xx, 429) from a refusal.
   */
  private statusError(opts: SendOptions, r: Response, text: string, registryHost: string): RegistryStatusError {
    const detail = registryErrorText(text);
    const msg = `${opts.what}: ${opts.method} ${redactUrl(r.url)}: HTTP ${r.status}${detail ? ` ${detail}` : ''}`;
    if ((r.status === 401 || r.status === 403) && r.url.host !== registryHost) {
      // Blob storage the registry redirected to (never sent the registry's credentials): a login
      // would not help; its signed URL has expired or the storage is misconfigured.
      return new RegistryStatusError('REGISTRY', msg, r.status, {
        hint: `${this.host} redirected to ${r.url.host}, which refused the request (an expired signed URL or misconfigured storage); try again, and if it persists tell the registry's operator`,
      });
    }
    if (r.status === 401 || r.status === 403) {
      const config = `${process.env.DOCKER_CONFIG ? '$DOCKER_CONFIG' : '~/.docker'}/config.json`;
      const hint = this.auth.usedCredential
        ? r.status === 403
          ? `the credentials for ${this.host} were accepted but do not allow this; ask for access to the repository`
          : `the registry refused the credentials${this.auth.credentialUser ? ` for ${this.auth.credentialUser}` : ''} stored for ${this.host} (${config} or its credential helper); check them, and if the password changed log in again with \`ferry login ${this.host} -u ${this.auth.credentialUser || 'USER'}\``
        : `add credentials with \`ferry login ${this.host}\` or in the Docker config (${config})`;
      return new RegistryStatusError('AUTH', msg, r.status, { hint });
    }
    if (r.status === 404) return new RegistryStatusError('NOT_FOUND', msg, r.status, { hint: 'check the repository name and tag or digest' });
    if (r.status === 429) return new RegistryStatusError('REGISTRY', msg, r.status, { hint: 'the registry is rate limiting; try again later or authenticate for a higher limit' });
    return new RegistryStatusError('REGISTRY', msg, r.status);
  }
}

/** Token scope for a repository (`repository:<name>:pull[,push]`). */
export function repoScope(repository: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${repository}:${actions}`;
}

/**
 * Registry authentication (Docker token auth spec, distribution docs/spec/auth/token.md):
 * Basic from the credential; Bearer tokens fetched from the challenge's realm, anonymously or
 * with the credential (GET with Basic, or POST grant_type=refresh_token for an identity token),
 * cached per scope set until `expires_in` (at least 60 s) runs out.
 */
import { request, type Dispatcher } from './undici-lean.js';
import { FerryError, describe } from '../errors.js';
import type { Challenge } from './challenge.js';
import type { Credential } from './credentials.js';
import { redactUrl } from './redact.js';

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Thrown when the token server refuses the credential it was given (401/403). Exit 1. */
export class CredentialsRefusedError extends FerryError {
  constructor(message: string, hint: string) {
    super('AUTH', message, { hint });
    this.name = 'CredentialsRefusedError';
  }
}

export class Authenticator {
  private challenge: Challenge | undefined;
  /** Whether a credential from the Docker config (or login) was used for this registry. */
  usedCredential = false;
  /** The user name of that credential, for messages (never the password). */
  credentialUser: string | undefined;
  private readonly tokens = new Map<string, Promise<CachedToken>>();

  constructor(
    private readonly host: string,
    private readonly credential: () => Promise<Credential | undefined>,
    private readonly dispatcher: (host: string) => Dispatcher,
    private readonly userAgent: string,
  ) {}

  /** Records the challenge of a 401 answer (from the /v2/ ping or any request). */
  setChallenge(c: Challenge | undefined): void {
    if (c) this.challenge = c;
  }

  get hasChallenge(): boolean {
    return this.challenge !== undefined;
  }

  /** Drops cached tokens for a scope, after a 401 that says the token no longer works. */
  invalidate(scopes: readonly string[]): void {
    this.tokens.delete(scopes.join(' '));
  }

  /** The Authorization header for a request needing `scopes`, or undefined for none. */
  async header(scopes: readonly string[]): Promise<string | undefined> {
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') {
      const cred = await this.credential();
      if (!cred?.username) return undefined;
      this.usedCredential = true;
      this.credentialUser = cred.username;
      return `Basic ${Buffer.from(`${cred.username}:${cred.password ?? ''}`).toString('base64')}`;
    }
    if (c.scheme !== 'bearer') return undefined;
    const key = scopes.join(' ');
    let pending = this.tokens.get(key);
    if (pending) {
      const cached = await pending.catch(() => undefined);
      if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
      if (this.tokens.get(key) !== pending) return this.header(scopes);
    }
    // One fetch per scope set at a time: concurrent requests share it.
    pending = this.fetchToken(c, scopes);
    this.tokens.set(key, pending);
    try {
      return `Bearer ${(await pending).token}`;
    } catch (err) {
      if (this.tokens.get(key) === pending) this.tokens.delete(key);
      throw err;
    }
  }

  private async fetchToken(c: Challenge, scopes: readonly string[]): Promise<CachedToken> {
    const realm = c.params.realm;
    if (!realm) throw new FerryError('AUTH', `${this.host}: the Bearer challenge has no realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch (err) {
      throw new FerryError('AUTH', `${this.host}: the Bearer realm "${realm}" is not a URL`, { cause: err });
    }
    const cred = await this.credential();
    if (cred) {
      this.usedCredential = true;
      this.credentialUser = cred.username;
    }
    const service = c.params.service;
    const headers: Record<string, string> = { 'user-agent': this.userAgent };
    let res: Dispatcher.ResponseData;
    try {
      if (cred?.identityToken) {
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: 'ferry' });
        if (service) form.set('service', service);
        if (scopes.length) form.set('scope', scopes.join(' '));
        res = await request(url, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
          dispatcher: this.dispatcher(url.host),
        });
      } else {
        if (service) url.searchParams.set('service', service);
        for (const s of scopes) url.searchParams.append('scope', s);
        if (cred?.username) headers.authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password ?? ''}`).toString('base64')}`;
        res = await request(url, { method: 'GET', headers, dispatcher: this.dispatcher(url.host) });
      }
    } catch (err) {
      throw new FerryError('NETWORK', `fetching a token from ${redactUrl(url)}: ${describe(err)}`, { cause: err });
    }
    const text = await res.body.text();
    if (res.statusCode === 401 || res.statusCode === 403) {
      const where = `fetching a token from ${redactUrl(url)}: HTTP ${res.statusCode}`;
      if (cred?.identityToken) {
        throw new CredentialsRefusedError(`${where}: the registry refused the stored identity token for ${this.host}`, `the token has expired or was revoked; log in again with \`ferry login ${this.host} -u USER\``);
      }
      if (cred) {
        const user = cred.username ?? '';
        throw new CredentialsRefusedError(`${where}: the registry refused the credentials for ${user}`, `check the user name and password stored for ${this.host} (Docker config or credential helper); if the password changed, log in again with \`ferry login ${this.host} -u ${user}\``);
      }
      throw new FerryError('AUTH', `${where}: anonymous access was refused`, {
        hint: `add credentials with \`ferry login ${this.host} -u USER\` or in the Docker config`,
      });
    }
    if (res.statusCode !== 200) {
      throw new FerryError('AUTH', `fetching a token from ${redactUrl(url)}: HTTP ${res.statusCode}`);
    }
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (err) {
      throw new FerryError('AUTH', `fetching a token from ${redactUrl(url)}: the answer is not JSON`, { cause: err });
    }
    const token = body.access_token || body.token;
    if (!token) throw new FerryError('AUTH', `fetching a token from ${redactUrl(url)}: the answer holds no token`);
    const ttl = Math.max(60, Number(body.expires_in) || 60);
    // Refresh a little early so a token never expires mid-request.
    return { token, expiresAt: Date.now() + (ttl - 10) * 1000 };
  }
}

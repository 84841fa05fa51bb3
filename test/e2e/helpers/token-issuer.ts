/**
 * A Docker token-auth issuer (the `realm` of a `Bearer` challenge) on 127.0.0.1, in-process,
 * for the registry's `auth.token` mode (distribution docs "Token Authentication
 * Specification" and "Token Authentication Implementation").
 *
 * GET /token?service=..&scope=..(&scope=..) with optional Basic credentials answers
 * {"token", "access_token", "expires_in"}. The token is an RS256 JWT whose header carries the
 * issuer's self-signed certificate in `x5c`; distribution 2.8 verifies that chain against its
 * `rootcertbundle`, which is the same certificate.
 *
 * Grants: a known user gets every action it asks for; anonymous callers get `pull` only when
 * `anonymousPull` is set and otherwise a token with no access (as Docker Hub does, so the
 * registry answers 401 insufficient_scope); wrong credentials get a 401 from the issuer.
 * POST (the OAuth2 form flow) answers 404, like a minimal issuer, so clients fall back to GET.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { X509Certificate, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOk } from './processes.js';
import { listenEphemeral } from './ports.js';

export interface Credentials {
  user: string;
  password: string;
}

export interface TokenIssuerOptions {
  /** Directory for the key and certificate. */
  dir: string;
  users: Credentials[];
  anonymousPull?: boolean;
  /** Must equal the registry's `auth.token.service`. */
  service: string;
  /** Must equal the registry's `auth.token.issuer`. */
  issuer: string;
}

/** One request the issuer answered. */
export interface TokenRequest {
  method: string;
  /** The Basic user, or null when anonymous. */
  user: string | null;
  scopes: string[];
  status: number;
}

export interface TokenIssuer {
  /** http://127.0.0.1:PORT/token */
  readonly realm: string;
  /** PEM of the signing certificate, for the registry's `rootcertbundle`. */
  readonly certFile: string;
  readonly requests: TokenRequest[];
  stop(): Promise<void>;
}

/** Starts the issuer; throws when openssl cannot make a key or the port cannot be bound. */
export async function startTokenIssuer(opts: TokenIssuerOptions): Promise<TokenIssuer> {
  const keyFile = join(opts.dir, 'issuer-key.pem');
  const certFile = join(opts.dir, 'issuer-cert.pem');
  await runOk('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
    '-subj', `/CN=${opts.issuer}`, '-keyout', keyFile, '-out', certFile,
  ]);
  const key = readFileSync(keyFile, 'utf8');
  const x5c = new X509Certificate(readFileSync(certFile)).raw.toString('base64');
  const requests: TokenRequest[] = [];

  const server = createServer((req, res) => {
    const status = answer(req, res, { ...opts, key, x5c });
    requests.push({ method: req.method ?? '', user: basicUser(req)?.user ?? null, scopes: scopesOf(req), status });
  });
  const addr = { port: await listenEphemeral(server, '127.0.0.1', 'token issuer') };
  return {
    realm: `http://127.0.0.1:${addr.port}/token`,
    certFile,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answer(
  req: IncomingMessage,
  res: ServerResponse,
  o: TokenIssuerOptions & { key: string; x5c: string },
): number {
  const url = new URL(req.url ?? '/', 'http://issuer');
  if (req.method !== 'GET' || url.pathname !== '/token') return send(res, 404, { details: 'not found' });
  if (url.searchParams.get('service') !== o.service) return send(res, 400, { details: 'unknown service' });
  const creds = basicUser(req);
  if (creds && !o.users.some((u) => u.user === creds.user && u.password === creds.password)) {
    return send(res, 401, { details: 'incorrect username or password' });
  }
  const access = scopesOf(req).flatMap((s) => grant(s, creds !== null, o.anonymousPull ?? false));
  const token = jwt(o, creds?.user ?? '', access);
  return send(res, 200, { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() });
}

interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** Parses `type:name:actions` (the name may contain ':' for a port-qualified path). */
function grant(scope: string, authenticated: boolean, anonymousPull: boolean): Access[] {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return [];
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const asked = scope.slice(last + 1).split(',').filter(Boolean);
  const actions = authenticated ? asked : anonymousPull ? asked.filter((a) => a === 'pull') : [];
  return actions.length ? [{ type, name, actions }] : [];
}

function jwt(o: TokenIssuerOptions & { key: string; x5c: string }, sub: string, access: Access[]): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: 'RS256', x5c: [o.x5c] };
  const claims = {
    iss: o.issuer, sub, aud: o.service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access,
  };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign('sha256', Buffer.from(input), o.key))}`;
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

function basicUser(req: IncomingMessage): Credentials | null {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m?.[1]) return null;
  const plain = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = plain.indexOf(':');
  return colon < 0 ? null : { user: plain.slice(0, colon), password: plain.slice(colon + 1) };
}

function scopesOf(req: IncomingMessage): string[] {
  return new URL(req.url ?? '/', 'http://issuer').searchParams.getAll('scope').flatMap((s) => s.split(' '));
}

function send(res: ServerResponse, status: number, body: unknown): number {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return status;
}

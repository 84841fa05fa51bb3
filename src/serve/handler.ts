/**
 * The request handler of `ferry serve`: the read-only pull side of the OCI distribution spec
 * (distribution-spec "Pull", "Content Discovery"), over a ServedContent checked by the
 * Verifier. Manifests are answered with their stored bytes and their own media type whatever the
 * Accept header asks (as the CNCF registry does for OCI and schema2 content): nothing is
 * converted. Every other method than GET and HEAD is 405 UNSUPPORTED.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MediaType } from '../oci/media-types.js';
import { parseRange, contentRange } from './range.js';
import { paginate } from './paginate.js';
import { parseRoute, type Route } from './routes.js';
import { RegistryError, blobUnknown, manifestUnknown, nameUnknown, readOnly } from './registry-errors.js';
import type { Repositories, Repository } from './repositories.js';
import type { ServedContent } from './content.js';
import { DamagedContentError, type Verifier } from './verifier.js';
import { sendBody } from './send-body.js';
import type { Htpasswd } from './htpasswd.js';

export interface ServeContext {
  content: ServedContent;
  verifier: Verifier;
  repositories: Repositories;
  auth: Htpasswd | undefined;
}

/** What the access log records of one request. */
export interface RequestRecord {
  status: number;
  bytes: number;
  user: string | undefined;
  /** Why the answer was cut short or failed, when it was. */
  error: string | undefined;
}

const API_VERSION = { 'docker-distribution-api-version': 'registry/2.0' };

/** Handles one request; resolves with what the access log needs once the answer is complete (or cut). */
export async function handle(ctx: ServeContext, req: IncomingMessage, res: ServerResponse): Promise<RequestRecord> {
  const rec: RequestRecord = { status: 0, bytes: 0, user: undefined, error: undefined };
  try {
    const url = new URL(req.url ?? '/', 'http://ferry.invalid');
    if (ctx.auth) {
      rec.user = await ctx.auth.check(req.headers.authorization);
      if (!rec.user) throw new RegistryError(401, 'UNAUTHORIZED', 'authentication required', undefined, { 'www-authenticate': 'Basic realm="ferry serve"' });
    }
    const route = parseRoute(url.pathname);
    if (req.method !== 'GET' && req.method !== 'HEAD') throw readOnly(req.method ?? '?');
    if (!route) throw new RegistryError(404, 'UNSUPPORTED', 'no such endpoint in the distribution API', { path: url.pathname });
    await answer(ctx, route, url, req, res, rec);
  } catch (err) {
    if (res.headersSent) {
      rec.error = err instanceof Error ? err.message : String(err);
      res.destroy();
    } else {
      const e = asRegistryError(err);
      if (e.status >= 500) rec.error = e.message;
      sendJson(req, res, e.status, e.body(), { ...e.headers, 'content-type': 'application/json' }, rec);
    }
  }
  rec.status = res.statusCode;
  return rec;
}

function asRegistryError(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  if (err instanceof DamagedContentError) return new RegistryError(500, 'UNKNOWN', err.message, { digest: err.digest });
  return new RegistryError(500, 'UNKNOWN', `reading the content failed: ${err instanceof Error ? err.message : String(err)}`);
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: Buffer, headers: Record<string, string>, rec: RequestRecord): void {
  res.writeHead(status, { ...API_VERSION, ...headers, 'content-length': String(body.length) });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  rec.bytes += body.length;
  res.end(body);
}

function repositoryOf(ctx: ServeContext, name: string, url: URL): Repository {
  const repo = ctx.repositories.find(name, url.searchParams.get('ns') ?? undefined);
  if (!repo) throw nameUnknown(name);
  return repo;
}

async function answer(ctx: ServeContext, route: Route, url: URL, req: IncomingMessage, res: ServerResponse, rec: RequestRecord): Promise<void> {
  switch (route.kind) {
    case 'base':
      return sendJson(req, res, 200, Buffer.from('{}'), { 'content-type': 'application/json' }, rec);
    case 'upload':
      throw readOnly(req.method ?? 'GET');
    case 'catalog': {
      const page = paginate(ctx.repositories.paths(), url.searchParams, url.pathname);
      return sendJson(req, res, 200, Buffer.from(JSON.stringify({ repositories: page.entries })), { 'content-type': 'application/json', ...(page.link ? { link: page.link } : {}) }, rec);
    }
    case 'tags': {
      const repo = repositoryOf(ctx, route.name, url);
      const page = paginate([...repo.tags.keys()], url.searchParams, url.pathname);
      return sendJson(req, res, 200, Buffer.from(JSON.stringify({ name: route.name, tags: page.entries })), { 'content-type': 'application/json', ...(page.link ? { link: page.link } : {}) }, rec);
    }
    case 'manifest': {
      const repo = repositoryOf(ctx, route.name, url);
      const digest = route.reference.includes(':') ? route.reference : repo.tags.get(route.reference)?.digest;
      const m = digest ? await ctx.verifier.manifest(digest) : undefined;
      if (!digest || !m) throw manifestUnknown(route.name, route.reference);
      return sendJson(req, res, 200, m.bytes, { 'content-type': m.mediaType, 'docker-content-digest': digest, etag: `"${digest}"` }, rec);
    }
    case 'referrers': {
      repositoryOf(ctx, route.name, url);
      const type = url.searchParams.get('artifactType');
      const all = ctx.content.referrers(route.digest);
      const manifests = type ? all.filter((d) => d.artifactType === type) : all;
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
      return sendJson(req, res, 200, body, { 'content-type': MediaType.ociIndex, ...(type ? { 'oci-filters-applied': 'artifactType' } : {}) }, rec);
    }
    case 'blob':
      repositoryOf(ctx, route.name, url);
      return sendBlob(ctx, route.digest, req, res, rec);
  }
}

async function sendBlob(ctx: ServeContext, digest: string, req: IncomingMessage, res: ServerResponse, rec: RequestRecord): Promise<void> {
  const blob = await ctx.verifier.blob(digest);
  if (!blob) throw blobUnknown(digest);
  const base = { ...API_VERSION, 'content-type': 'application/octet-stream', 'docker-content-digest': digest, 'accept-ranges': 'bytes', etag: `"${digest}"` };
  const range = parseRange(req.headers.range, blob.size);
  if (range === 'unsatisfiable') {
    throw new RegistryError(416, 'RANGE_INVALID', 'the range is outside the blob', { size: blob.size }, { 'content-range': `bytes */${blob.size}` });
  }
  if (req.method === 'HEAD') {
    res.writeHead(200, { ...base, 'content-length': String(blob.size) });
    res.end();
    return;
  }
  if (range) {
    await ctx.verifier.ensure(digest, blob);
    res.writeHead(206, { ...base, 'content-length': String(range.end - range.start + 1), 'content-range': contentRange(range, blob.size) });
    return sendBody(blob.open(range.start, range.end), res, undefined, (n) => (rec.bytes += n));
  }
  const tap = ctx.verifier.tap(digest, blob);
  res.writeHead(200, { ...base, 'content-length': String(blob.size) });
  if (blob.size === 0) {
    res.end();
    return;
  }
  return sendBody(blob.open(0, blob.size - 1), res, tap, (n) => (rec.bytes += n));
}

/**
 * A minimal Docker Engine API client (docs.docker.com/engine/api): DOCKER_HOST as
 * `unix:///path` (default /var/run/docker.sock) or `tcp://host:port`; ping, image ID, the
 * images and their layers, tag, and image load. Errors say which engine could not be reached and how to point at another.
 */
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { FerryError, describe } from '../errors.js';
import { headerValue } from '../util/headers.js';

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

export class DockerEngine {
  private readonly dispatcher: Dispatcher;
  private readonly origin: string;

  constructor(readonly dockerHost: string = process.env.DOCKER_HOST || DEFAULT_DOCKER_HOST) {
    if (dockerHost.startsWith('unix://')) {
      this.dispatcher = new Agent({ connect: { socketPath: dockerHost.slice('unix://'.length) }, bodyTimeout: 0, headersTimeout: 0 });
      this.origin = 'http://docker';
    } else if (dockerHost.startsWith('tcp://') || dockerHost.startsWith('http://')) {
      this.dispatcher = new Agent({ bodyTimeout: 0, headersTimeout: 0 });
      this.origin = dockerHost.replace(/^tcp:/, 'http:');
    } else {
      throw new FerryError('USAGE', `DOCKER_HOST "${dockerHost}" is not supported`, { hint: 'use unix:///path/to/docker.sock or tcp://host:port' });
    }
  }

  private async send(method: 'GET' | 'POST' | 'HEAD', path: string, body?: Readable, headers: Record<string, string> = {}): Promise<Dispatcher.ResponseData> {
    try {
      return await request(`${this.origin}${path}`, { method, dispatcher: this.dispatcher, headers, ...(body ? { body } : {}) });
    } catch (err) {
      throw new FerryError('ENGINE', `connecting to the Docker engine at ${this.dockerHost}: ${describe(err)}`, {
        cause: err,
        hint: 'start dockerd, or point DOCKER_HOST at its socket (unix:///path/docker.sock or tcp://host:port)',
      });
    }
  }

  private async fail(res: Dispatcher.ResponseData, what: string): Promise<never> {
    const text = await res.body.text().catch(() => '');
    let msg = text.trim();
    try {
      msg = (JSON.parse(text) as { message?: string }).message ?? msg;
    } catch {
      /* plain text */
    }
    throw new FerryError('ENGINE', `${what}: the Docker engine answered HTTP ${res.statusCode}: ${msg}`);
  }

  /** Checks the engine answers; resolves its API version. */
  async ping(): Promise<string> {
    const res = await this.send('GET', '/_ping');
    await res.body.dump();
    if (res.statusCode !== 200) return this.fail(res, 'pinging the Docker engine');
    return headerValue(res.headers, 'api-version') ?? 'unknown';
  }

  /** The ID of an image the engine has (by ID or by name), or null when it has none by that name. */
  async imageId(idOrName: string): Promise<string | null> {
    const res = await this.send('GET', `/images/${encodeURIComponent(idOrName)}/json`);
    if (res.statusCode === 404) {
      await res.body.dump();
      return null;
    }
    if (res.statusCode !== 200) return this.fail(res, `inspecting image ${idOrName}`);
    const doc = (await res.body.json()) as { Id?: string };
    return doc.Id ?? null;
  }

  /** The IDs of the engine's images (GET /images/json: tagged and dangling, not intermediate ones). */
  async imageIds(): Promise<string[]> {
    const res = await this.send('GET', '/images/json');
    if (res.statusCode !== 200) return this.fail(res, 'listing images');
    const doc = (await res.body.json()) as { Id?: unknown }[];
    return Array.isArray(doc) ? doc.map((i) => i.Id).filter((id): id is string => typeof id === 'string') : [];
  }

  /** The diff_ids of an image's layers (its RootFS), or null when the engine has no such image. */
  async imageLayers(id: string): Promise<string[] | null> {
    const res = await this.send('GET', `/images/${encodeURIComponent(id)}/json`);
    if (res.statusCode === 404) {
      await res.body.dump();
      return null;
    }
    if (res.statusCode !== 200) return this.fail(res, `inspecting image ${id}`);
    const layers = ((await res.body.json()) as { RootFS?: { Layers?: unknown } }).RootFS?.Layers;
    return Array.isArray(layers) ? layers.filter((l): l is string => typeof l === 'string') : [];
  }

  /** Tags an image the engine has (`repo:tag`), moving the tag if it named another image. */
  async tag(id: string, name: string): Promise<void> {
    const i = name.lastIndexOf(':');
    const q = new URLSearchParams({ repo: name.slice(0, i), tag: name.slice(i + 1) });
    const res = await this.send('POST', `/images/${encodeURIComponent(id)}/tag?${q}`);
    if (res.statusCode !== 201 && res.statusCode !== 200) return this.fail(res, `tagging ${id} as ${name}`);
    await res.body.dump();
  }

  /**
   * POSTs an archive to /images/load and resolves the JSON-lines answer. A failed load still
   * answers HTTP 200, so every `error` line is collected by the caller (load-stream.ts).
   */
  async load(body: Readable): Promise<Dispatcher.ResponseData> {
    const res = await this.send('POST', '/images/load?quiet=1', body, { 'content-type': 'application/x-tar' });
    if (res.statusCode !== 200) return this.fail(res, 'loading images');
    return res;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

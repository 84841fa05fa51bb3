/**
 * The parts of undici that ferry's registry client uses (Agent, EnvHttpProxyAgent, request),
 * loaded without the rest of undici's index: fetch, WebSocket, EventSource, the caches and the
 * mocks, which cost about 60 ms of start-up (two thirds of undici's load time) in every command
 * that talks to a registry, and an unchanged re-export is little more than start-up
 * (bench/scenarios/reexport.ts). The modules are the ones undici's own index.js requires, so
 * they are the same instances whoever loads undici whole (the Docker engine client does).
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

const DispatcherBase = require('undici/lib/dispatcher/dispatcher') as { prototype: object };
// As undici's index.js does: request, stream, pipeline, connect and upgrade on every dispatcher.
Object.assign(DispatcherBase.prototype, require('undici/lib/api') as object);

export const Agent = require('undici/lib/dispatcher/agent') as typeof Undici.Agent;
export const EnvHttpProxyAgent = require('undici/lib/dispatcher/env-http-proxy-agent') as typeof Undici.EnvHttpProxyAgent;
export type { Dispatcher } from 'undici';

type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method?: Undici.Dispatcher.HttpMethod; dispatcher: Undici.Dispatcher };

/** undici's `request(url, options)`, with the dispatcher always given; resolves the response or rejects with undici's error. */
export function request(url: string | URL, opts: RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  const u = typeof url === 'string' ? new URL(url) : url;
  const { dispatcher, ...rest } = opts;
  return dispatcher.request({ ...rest, origin: u.origin, path: u.search ? `${u.pathname}${u.search}` : u.pathname, method: opts.method ?? (opts.body ? 'PUT' : 'GET') });
}

/**
 * The parts of undici that ferry's registry client uses (Agent, EnvHttpProxyAgent, request),
 * loaded without the rest of undici's index: fetch, WebSocket, EventSource, the caches and the
 * mocks, which cost about 60 ms of start-up (two thirds of undici's load time) in every command
 * that talks to a registry, and an unchanged re-export is little more than start-up
 * (bench/scenarios/reexport.ts). The modules are the ones undici's own index.js requires, so
 * they are the same instances whoever loads undici whole (the Docker engine client does).
 */
import type * as Undici from 'undici';
// Static imports of undici's own CommonJS modules (their default is module.exports), so that the
// release bundle (scripts/release.mjs, esbuild) holds them as it holds the rest of undici.
import DispatcherBase from 'undici/lib/dispatcher/dispatcher.js';
import api from 'undici/lib/api/index.js';
import AgentClass from 'undici/lib/dispatcher/agent.js';
import EnvHttpProxyAgentClass from 'undici/lib/dispatcher/env-http-proxy-agent.js';

// As undici's index.js does: request, stream, pipeline, connect and upgrade on every dispatcher.
Object.assign(DispatcherBase.prototype, api);

export const Agent = AgentClass;
export const EnvHttpProxyAgent = EnvHttpProxyAgentClass;
export type { Dispatcher } from 'undici';

type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method?: Undici.Dispatcher.HttpMethod; dispatcher: Undici.Dispatcher };

/** undici's `request(url, options)`, with the dispatcher always given; resolves the response or rejects with undici's error. */
export function request(url: string | URL, opts: RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  const u = typeof url === 'string' ? new URL(url) : url;
  const { dispatcher, ...rest } = opts;
  return dispatcher.request({ ...rest, origin: u.origin, path: u.search ? `${u.pathname}${u.search}` : u.pathname, method: opts.method ?? (opts.body ? 'PUT' : 'GET') });
}

/**
 * HTTP transport for registries: undici dispatchers (proxy from HTTPS_PROXY/HTTP_PROXY/NO_PROXY,
 * an extra CA from --ca-file, unverified TLS only for hosts named insecure), and the rule for
 * plain HTTP: only loopback registries and those named with --insecure-registry may use it.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici';
import { FerryError, describe } from '../errors.js';

export interface TransportOptions {
  /** Hosts (host or host:port) that may be reached over plain HTTP or unverified TLS. */
  insecureRegistries?: readonly string[];
  /** A PEM file with extra CA certificates, trusted in addition to the system ones. */
  caFile?: string;
  /** Per-host CA files, from the manifest file's registries section. */
  caFiles?: Readonly<Record<string, string>>;
}

/** Whether a host[:port] names the loopback interface. */
export function isLoopback(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new FerryError('USAGE', `reading CA file ${file}: ${describe(err)}`, { hint: 'pass a readable PEM file to --ca-file' });
  }
}

/**
 * NO_PROXY as undici should see it: IPv6 addresses are written without brackets in NO_PROXY
 * (curl, Go, wget), but undici compares them with the brackets of the URL host, so each one is
 * listed both ways.
 */
export function normaliseNoProxy(value: string): string {
  const out: string[] = [];
  for (const raw of value.split(/[,\s]+/).filter(Boolean)) {
    out.push(raw);
    if (!raw.startsWith('[') && (raw.match(/:/g) ?? []).length >= 2) out.push(`[${raw}]`);
  }
  return out.join(',');
}

function proxyOptions(): { noProxy?: string } {
  const np = process.env.no_proxy ?? process.env.NO_PROXY;
  return np ? { noProxy: normaliseNoProxy(np) } : {};
}

/** Owns the dispatchers and answers, per host, which one to use and whether HTTP is allowed. */
export class Transport {
  private readonly verified = new Map<string, Dispatcher>();
  private insecureAgent: Dispatcher | undefined;
  private loopbackAgent: Dispatcher | undefined;
  private readonly insecure: Set<string>;

  constructor(private readonly opts: TransportOptions = {}) {
    this.insecure = new Set(opts.insecureRegistries ?? []);
  }

  /** Whether plain HTTP (and unverified TLS) is allowed for this host. */
  allowsInsecure(host: string): boolean {
    return isLoopback(host) || this.insecure.has(host) || this.insecure.has(host.replace(/:\d+$/, ''));
  }

  /**
   * The dispatcher for requests to `host`. Loopback hosts are never proxied (as in Go's
   * net/http, which skopeo and crane use); others follow HTTPS_PROXY, HTTP_PROXY and NO_PROXY.
   */
  dispatcher(host: string): Dispatcher {
    if (isLoopback(host)) {
      this.loopbackAgent ??= new Agent({ connect: { rejectUnauthorized: false } });
      return this.loopbackAgent;
    }
    if (this.allowsInsecure(host)) {
      this.insecureAgent ??= new EnvHttpProxyAgent({ ...proxyOptions(), connect: { rejectUnauthorized: false }, requestTls: { rejectUnauthorized: false } });
      return this.insecureAgent;
    }
    const caFile = this.opts.caFiles?.[host] ?? this.opts.caFile;
    const key = caFile ?? '';
    let d = this.verified.get(key);
    if (!d) {
      const tls = caFile ? { ca: [...rootCertificates, readCa(caFile)] } : {};
      d = new EnvHttpProxyAgent({ ...proxyOptions(), connect: tls, requestTls: tls });
      this.verified.set(key, d);
    }
    return d;
  }

  async close(): Promise<void> {
    const all = [...this.verified.values(), ...[this.insecureAgent, this.loopbackAgent].filter((d): d is Dispatcher => d !== undefined)];
    await Promise.allSettled(all.map((d) => d.close()));
  }
}

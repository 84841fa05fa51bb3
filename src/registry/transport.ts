/**
 * HTTP transport for registries: undici dispatchers (proxy from HTTPS_PROXY/HTTP_PROXY/NO_PROXY,
 * an extra CA from --ca-file, unverified TLS only for hosts named insecure), and the rule for
 * plain HTTP: only loopback registries and those named with --insecure-registry may use it.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, type Dispatcher } from './undici-lean.js';
import { UsageError, describe } from '../errors.js';

export interface TransportOptions {
  /** Hosts (host or host:port) that may be reached over plain HTTP or unverified TLS. */
  insecureRegistries?: readonly string[];
  /** A PEM file with extra CA certificates, trusted in addition to the system ones. */
  caFile?: string;
  /** Per-host CA files, from the manifest file's registries section. */
  caFiles?: Readonly<Record<string, string>>;
}

/** Whether a host[:port] names the loopback interface (host names compare case-insensitively). */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  const name = h.startsWith('[') ? h.slice(1, h.indexOf(']')) : h.replace(/:\d+$/, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/**
 * Reads a CA file and checks that it holds at least one PEM certificate. Throws a UsageError
 * (exit 2) naming the file, where it was given (`--ca-file`), and what is wrong with it.
 */
export function readCaFile(file: string, given = '--ca-file'): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'it is not readable (permission denied)' : describe(err);
    throw new UsageError(`CA file ${file} (${given}): ${why}`, `${given} needs a readable PEM file with CA certificates`);
  }
  if (!PEM_CERT.test(text)) {
    throw new UsageError(`CA file ${file} (${given}): it holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`, `${given} needs a PEM file with CA certificates; convert a DER file with \`openssl x509 -inform der -in FILE -out FILE.pem\``);
  }
  return text;
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
  /** CA file contents by path, read and checked when the transport is made (up front). */
  private readonly cas = new Map<string, string>();
  /** Per-host CA files, by lowercase host. */
  private readonly caFiles = new Map<string, string>();

  /** Throws a UsageError (exit 2) when a CA file is missing or holds no PEM certificate. */
  constructor(private readonly opts: TransportOptions = {}) {
    this.insecure = new Set((opts.insecureRegistries ?? []).map((h) => h.toLowerCase()));
    if (opts.caFile) this.cas.set(opts.caFile, readCaFile(opts.caFile));
    for (const [host, file] of Object.entries(opts.caFiles ?? {})) {
      this.caFiles.set(host.toLowerCase(), file);
      if (!this.cas.has(file)) this.cas.set(file, readCaFile(file, `ca-file of registry ${host} in the manifest file`));
    }
  }

  /** Whether plain HTTP (and unverified TLS) is allowed for this host (compared case-insensitively). */
  allowsInsecure(host: string): boolean {
    const h = host.toLowerCase();
    return isLoopback(h) || this.insecure.has(h) || this.insecure.has(h.replace(/:\d+$/, ''));
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
    const caFile = this.caFiles.get(host.toLowerCase()) ?? this.opts.caFile;
    const key = caFile ?? '';
    let d = this.verified.get(key);
    if (!d) {
      const tls = caFile ? { ca: [...rootCertificates, this.cas.get(caFile) ?? readCaFile(caFile)] } : {};
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

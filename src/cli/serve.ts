/**
 * `ferry serve BUNDLE...`: the bundles as one read-only registry (src/serve/). Start-up opens
 * each bundle: a seekable one (format 2, a plain OCI-layout tar) is served from the file, its
 * manifests and configs checked now and each blob as it first streams; any other archive is
 * read into the cache, verified (a damaged one is refused before the server listens). A
 * differential bundle is served only with bundles that carry every layer it builds on. Then it listens and logs each request on stderr. SIGINT/SIGTERM stop it gracefully: no new
 * connections, the pulls in flight finish, exit 0. `--print-mirror-config` only prints.
 */
import { readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, resolve } from 'node:path';
import { FerryError, UsageError } from '../errors.js';
import { interpret, type Interpretation } from '../bundle/contents.js';
import { readBundleHead } from '../bundle/head.js';
import { parseReference } from '../reference/parse-reference.js';
import type { Descriptor } from '../oci/manifest.js';
import { osReason } from '../fs/io-error.js';
import { takeOverSignals, setInterruptMessage } from '../process/interrupt.js';
import { PlanContent } from '../serve/plan-content.js';
import { MergedContent } from '../serve/merged-content.js';
import { unservedExpectedLayers } from '../serve/expected-layers.js';
import { Repositories } from '../serve/repositories.js';
import { Verifier } from '../serve/verifier.js';
import { Htpasswd } from '../serve/htpasswd.js';
import { startServer } from '../serve/server.js';
import { formatAccess } from '../serve/access-log.js';
import { authority, parseListen, type ListenAddress } from '../serve/listen-address.js';
import { mirrorConfig, type MirrorFlavour } from '../serve/mirror-config.js';
import { openBundle } from './open-bundle.js';
import { reportState } from './report-state.js';
import { makeOutput, openStore } from './common.js';
import type { ServeArgs } from './commands.js';
import { bundleSize } from '../bundle/volume-set.js';

const PREFIX = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

function prefixOption(p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  const v = p.replace(/^\/+|\/+$/g, '');
  if (!PREFIX.test(v)) throw new UsageError(`--prefix "${p}" is not a repository path`, 'use lowercase path components such as mirror or lab/mirror');
  return v;
}

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    const b = await readFile(file);
    if (!b.includes('-----BEGIN ')) throw new Error('it holds no PEM block (-----BEGIN ...)');
    return b;
  } catch (err) {
    throw new UsageError(`reading ${what} ${file}: ${err instanceof Error && !(err as NodeJS.ErrnoException).code ? err.message : osReason(err)}`, 'give PEM files, e.g. made with `openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem`');
  }
}

async function tlsOption(a: ServeArgs): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (!a['tls-cert'] && !a['tls-key']) return undefined;
  if (!a['tls-cert'] || !a['tls-key']) throw new UsageError('--tls-cert and --tls-key go together', 'give both, or neither for plain HTTP');
  return { cert: await readPem(a['tls-cert'], 'the certificate'), key: await readPem(a['tls-key'], 'the key') };
}

/** The upstream registries the bundles' images come from, read from their heads only. */
async function upstreamRegistries(bundles: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const b of bundles) {
    const { metadata, contents } = await readBundleHead(b);
    const names = metadata ? metadata.images.map((m) => m.name) : interpret(contents).images.map((i) => i.name);
    for (const n of names) {
      if (!n) continue;
      try {
        out.add(parseReference(n).registry);
      } catch {
        // not a name a client could pull
      }
    }
  }
  return [...out];
}

async function printMirrorConfig(a: ServeArgs, flavour: MirrorFlavour, listen: ListenAddress, tls: boolean, prefix: string | undefined): Promise<number> {
  if (listen.port === 0) throw new UsageError('--print-mirror-config needs the port the server will listen on, not 0', 'give it with --listen HOST:PORT');
  let host = listen.host;
  if (host === '0.0.0.0' || host === '::') {
    host = hostname();
    process.stderr.write(`note: --listen ${authority(listen.host, listen.port)} is every interface; the configuration names this machine as ${host}: change it if the nodes reach it by another name\n`);
  }
  const registries = await upstreamRegistries(a.bundles);
  if (!registries.length) throw new UsageError(`${a.bundles.join(', ')} hold${a.bundles.length === 1 ? 's' : ''} no named images`, 'serve bundles made by ferry save or export, or docker save archives with tags');
  process.stdout.write(mirrorConfig(flavour, registries, { authority: authority(host, listen.port), tls, prefix, caFile: tls && a['tls-cert'] ? resolve(a['tls-cert']) : undefined }));
  return 0;
}

export async function runServe(a: ServeArgs): Promise<number> {
  const listen = parseListen(a.listen);
  const prefix = prefixOption(a.prefix);
  const tls = await tlsOption(a);
  const auth = a.htpasswd !== undefined ? await Htpasswd.load(a.htpasswd) : undefined;
  if (a['print-mirror-config']) return printMirrorConfig(a, a['print-mirror-config'] as MirrorFlavour, listen, !!tls, prefix);
  const out = makeOutput(a);
  const store = await openStore(a);
  const parts: PlanContent[] = [];
  const interpretations: Interpretation[] = [];
  const compressed = new Map<string, Promise<Descriptor>>();
  setInterruptMessage(() => 'interrupted: stopped while reading the bundles; nothing was served');
  for (const b of a.bundles) {
    const size = await bundleSize(b);
    // A seekable bundle is served from the file (only its table of contents and manifests are
    // read now); any other archive is read through into the cache once, verified.
    let reading = false;
    const opened = await openBundle(b, store, () => {
      if (size === undefined) return undefined;
      reading = true;
      out.info(`reading ${b} into the cache (an older or foreign archive: it has no table of contents)`);
      out.start(`read:${b}`, `reading ${basename(b)}`, size);
      return (n) => out.progress(`read:${b}`, n);
    }, 'nothing was served');
    if (reading) out.done(`read:${b}`);
    const part = new PlanContent(opened.rawBlobs, opened.cached ? store : undefined);
    await part.add(opened.interpretation, basename(b), compressed);
    parts.push(part);
    interpretations.push(opened.interpretation);
  }
  out.stop();
  const content = new MergedContent(parts);
  for (const [i, it] of interpretations.entries()) {
    const missing = await unservedExpectedLayers(it, content);
    if (missing.length) {
      throw new FerryError('NOT_FOUND', `${a.bundles[i]} is a differential bundle, and ${missing.length} layer${missing.length === 1 ? '' : 's'} it builds on ${missing.length === 1 ? 'is' : 'are'} in none of the bundles served, so nothing was served:\n  - ${missing.join('\n  - ')}`, {
        hint: 'serve it together with the full bundle it was made against: `ferry serve DIFF-BUNDLE FULL-BUNDLE`',
      });
    }
  }
  const repositories = new Repositories(content.names(), prefix);
  for (const w of repositories.warnings) out.warn(w);
  const images = content.names().filter((n) => !n.referrer).length;
  if (images === 0) throw new UsageError(`${a.bundles.join(', ')} hold${a.bundles.length === 1 ? 's' : ''} no named images to serve`, 'serve bundles made by ferry save or export, or docker save archives with tags');
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const verifier = new Verifier(content, (digest, reason) => log(`error: ${digest} is damaged in the bundle (${reason}): it is not served; copy the bundle again and check it with \`ferry verify\``));
  const server = await startServer({
    listen,
    tls,
    context: { content, verifier, repositories, auth },
    onRequest: (e) => {
      if (!a.quiet) log(formatAccess(e, a.json));
    },
  });
  const bundles = `${a.bundles.length} bundle${a.bundles.length === 1 ? '' : 's'}`;
  const started = { images, bundles: a.bundles.length, url: prefix ? `${server.url}/${prefix}` : server.url };
  log(a.json ? JSON.stringify({ event: 'listening', ...started }) : `serving ${images} image${images === 1 ? '' : 's'} from ${bundles} on ${started.url}`);
  const signal = await new Promise<string>((resolveStop) => takeOverSignals((sig) => resolveStop(sig)));
  setInterruptMessage(() => 'interrupted: stopped before the pulls in flight had finished');
  log(a.json ? JSON.stringify({ event: 'stopping', signal, inFlight: server.inFlight() }) : `${signal}: stopping; ${server.inFlight()} request${server.inFlight() === 1 ? '' : 's'} in flight finish first (a second signal stops at once)`);
  await server.stop();
  log(a.json ? JSON.stringify({ event: 'stopped' }) : 'stopped');
  if (a.json) {
    process.stdout.write(`${JSON.stringify({ command: 'serve', status: 'stopped', exitCode: 0, ...started }, null, 2)}\n`);
    reportState.printed = true;
  }
  return 0;
}

/**
 * A registry client for the serve scenario: N clients at once each pull one image by tag over
 * the distribution API (manifest, then config and layers, one blob at a time per client, every
 * blob checked against its digest), as `docker pull` would minus unpacking. Exits 1 on any
 * wrong byte or status. Prints {"clients","bytes","seconds"} as JSON.
 *
 *   node bench/.build/bench/pull-clients.js http://HOST:PORT REPO TAG CLIENTS
 */
import { createHash } from 'node:crypto';

const [base, repo, tag, n] = process.argv.slice(2);
if (!base || !repo || !tag) {
  process.stderr.write('usage: pull-clients BASE_URL REPO TAG [CLIENTS]\n');
  process.exit(2);
}
const clients = Number(n ?? '1');
const ACCEPT = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');

interface Desc {
  digest: string;
  size: number;
}

async function blob(d: Desc): Promise<number> {
  const res = await fetch(`${base}/v2/${repo}/blobs/${d.digest}`);
  if (res.status !== 200 || !res.body) throw new Error(`GET blob ${d.digest}: ${res.status}`);
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
    h.update(c);
    bytes += c.length;
  }
  if (`sha256:${h.digest('hex')}` !== d.digest || bytes !== d.size) throw new Error(`blob ${d.digest}: wrong bytes`);
  return bytes;
}

async function pull(): Promise<number> {
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { headers: { accept: ACCEPT } });
  if (res.status !== 200) throw new Error(`GET manifest ${repo}:${tag}: ${res.status}`);
  const m = (await res.json()) as { config: Desc; layers: Desc[] };
  let bytes = await blob(m.config);
  for (const l of m.layers) bytes += await blob(l);
  return bytes;
}

const t0 = process.hrtime.bigint();
try {
  const got = await Promise.all(Array.from({ length: clients }, () => pull()));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`${JSON.stringify({ clients, bytes: got.reduce((a, b) => a + b, 0), seconds })}\n`);
} catch (err) {
  process.stderr.write(`pull-clients: ${(err as Error).message}\n`);
  process.exit(1);
}

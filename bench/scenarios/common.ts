/** Checks and commands several scenarios share. */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dockerd } from '../../test/e2e/helpers/dockerd.js';
import { accessMark, accessSince, type AccessEntry } from '../../test/e2e/helpers/export-access-log.js';
import { runOk } from '../../test/e2e/helpers/processes.js';
import { startRegistry, type Registry } from '../../test/e2e/helpers/registry.js';
import { registryDigest } from '../../test/e2e/helpers/skopeo.js';
import { indentTail } from '../log.js';
import type { Step } from '../timing.js';

/** sha256 of the manifest bytes a registry serves for `ref` (skopeo inspect --raw). */
export const manifestDigest = (ref: string): Promise<string> => registryDigest(ref);

/** Counts of requests by "METHOD kind" (kind: manifests, blobs, uploads, base, other). */
export function requestSummary(requests: readonly AccessEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const q of requests) {
    const kind = /\/blobs\/uploads\//.test(q.path) ? 'uploads' : /\/manifests\//.test(q.path) ? 'manifests' : /\/blobs\//.test(q.path) ? 'blobs' : q.path.replace(/\?.*/, '') === '/v2/' ? 'base' : 'other';
    const k = `${q.method} ${kind}`;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

export const fmtCounts = (c: unknown): string =>
  Object.entries((c ?? {}) as Record<string, number>)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${n} ${k}`)
    .join(', ') || 'none';

/** A ferry --json report, loosely typed: the bench reads only a few fields. */
export interface FerryReport {
  status: string;
  images?: Array<{ status?: string; target?: string; digest?: string }>;
  loaded?: unknown[];
  summary?: { downloadedBytes?: number };
  [key: string]: unknown;
}

/** The ferry --json report a step wrote; throws unless its status is one of `ok`. */
export async function ferryReport(file: string, ok: readonly string[] = ['ok']): Promise<FerryReport> {
  const report = JSON.parse(await readFile(file, 'utf8')) as FerryReport;
  if (!ok.includes(report.status)) throw new Error(`ferry reported status ${report.status}: ${JSON.stringify(report).slice(0, 2000)}`);
  return report;
}

/** A new registry with empty storage, and the access-log offset after its start-up probe. */
export async function emptyRegistry(): Promise<{ registry: Registry; offset: number }> {
  const registry = await startRegistry({ logLevel: 'warn' });
  await accessSince(registry, 0, 100);
  return { registry, offset: accessMark(registry) };
}

/** The requests `registry` logged after `offset`. */
export const requestsSince = (registry: Registry, offset: number): Promise<AccessEntry[]> => accessSince(registry, offset);

/** Removes every image from the private engine (untimed, between load runs), then flushes writes. */
export async function clearEngine(engine: Dockerd, ref: string): Promise<void> {
  await engine.docker(['rmi', '-f', ref]);
  const r = await engine.docker(['image', 'prune', '-af']);
  if (r.code !== 0) throw new Error(`docker image prune failed:\n${indentTail(r.stderr)}`);
  const left = await engine.docker(['images', '-aq']);
  if (left.stdout.trim()) throw new Error(`the private engine still has images after prune: ${left.stdout.trim().split('\n').join(' ')}`);
  await runOk('sync', []);
}

/** Throws unless the engine has `ref` with ID `imageId`. */
export async function checkLoaded(engine: Dockerd, ref: string, imageId: string): Promise<void> {
  const r = await engine.docker(['image', 'inspect', '--format', '{{.Id}}', ref]);
  if (r.code !== 0) throw new Error(`after the load, the engine has no ${ref}:\n${indentTail(r.stderr)}`);
  if (r.stdout.trim() !== imageId) throw new Error(`after the load, ${ref} has ID ${r.stdout.trim()}, expected ${imageId}`);
}

/** `ferry export <dir>/<file>.yaml -o <dir>/<file>.tar.gz --cache-dir <dir>/cache --json`. */
export const ferryExportSteps = (ferry: string, dir: string, file = 'forty'): Step[] => [
  { cmd: process.execPath, args: [ferry, 'export', join(dir, `${file}.yaml`), '-o', join(dir, `${file}.tar.gz`), '--cache-dir', join(dir, 'cache'), '--json'], stdout: join(dir, 'report.json') },
];

/** `skopeo sync --src yaml --dest dir <dir>/forty-sync.yaml <dir>/out`. */
export const skopeoSyncSteps = (dir: string): Step[] => [{ cmd: 'skopeo', args: ['--insecure-policy', 'sync', '--src', 'yaml', '--dest', 'dir', '--src-tls-verify=false', join(dir, 'forty-sync.yaml'), join(dir, 'out')] }];

/** Checks skopeo sync's dir destination: one directory with a manifest.json per image. */
export function checkSynced(dir: string, count: number): Promise<{ images: number }> {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name === 'manifest.json') found.push(d);
    }
  };
  walk(join(dir, 'out'));
  if (found.length !== count) throw new Error(`skopeo sync wrote ${found.length} images, expected ${count}`);
  return Promise.resolve({ images: found.length });
}

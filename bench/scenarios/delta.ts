/**
 * delta: a nightly export after a one-layer change, full bundle against differential bundle.
 * Setup (untimed, once) plays the first night and the way back: the big image is tagged
 * `bench/delta:nightly`, exported (full), pushed into a second registry (the receiving side),
 * inventoried there (`ferry inventory --registry`, timed once for the record); then the next
 * build (fixtures/delta-image.ts: its small last layer changed) moves the tag. The timed runs
 * export the moved tag again with a cold cache: in full, and with `--have` (only the new
 * layer, the config and the manifest travel). Sizes are the point; times are reported.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runOk } from '../../test/e2e/helpers/processes.js';
import { startRegistry } from '../../test/e2e/helpers/registry.js';
import { deltaImage } from '../fixtures/delta-image.js';
import { fmtMB, log } from '../log.js';
import { defineScenario, nums, pick, ratio } from '../scenario.js';
import type { Step } from '../timing.js';
import { ferryReport, manifestDigest } from './common.js';
import { bigInfo } from './fixture-info.js';

interface Data {
  bytes: number;
  what: string;
  fixtureInfo: Record<string, unknown>;
  ferry: string;
  manifestYaml: string;
  have: string;
  ref: string;
  digest: string;
  changedBytes: number;
  inventorySeconds: number;
}

const node = process.execPath;

/** `ferry export nightly.yaml -o <dir>/nightly.tar.gz` with a fresh cache, plus `extra`. */
const exportSteps = (ferry: string, dir: string, extra: string[] = []): Step[] => [
  { cmd: node, args: [ferry, 'export', join(dir, 'nightly.yaml'), '-o', join(dir, 'nightly.tar.gz'), '--cache-dir', join(dir, 'cache'), '--json', ...extra], stdout: join(dir, 'report.json') },
];

/** The bundle's size and the layers its ferry.json says the receiving side holds. */
async function bundleFacts(dir: string, digest: string): Promise<{ bundleBytes: number; expectedLayers: number }> {
  const report = await ferryReport(join(dir, 'report.json'));
  const got = report.images?.[0]?.digest;
  if (got !== undefined && got !== digest) throw new Error(`ferry export reported ${got}, the registry serves ${digest}`);
  const meta = JSON.parse(await runOk('tar', ['-xzOf', join(dir, 'nightly.tar.gz'), 'ferry.json'])) as { images: { digest: string; expectedLayers?: string[] }[] };
  if (meta.images[0]?.digest !== digest) throw new Error(`the bundle holds ${meta.images[0]?.digest}, the registry serves ${digest}`);
  return { bundleBytes: (await stat(join(dir, 'nightly.tar.gz'))).size, expectedLayers: meta.images[0]?.expectedLayers?.length ?? 0 };
}

export default defineScenario<Data>({
  name: 'delta',
  title: 'nightly export after a one-layer change: full bundle vs differential bundle (--have)',
  baseline: 'ferry export (full)',
  async setup(ctx) {
    const fixture = await ctx.fixture();
    const registry = await ctx.registry();
    const work = join(ctx.tmp, 'shared', 'delta');
    await mkdir(work, { recursive: true });
    const ref = `${registry.host}/bench/delta:nightly`;
    const copy = (layout: string, tag: string): Promise<string> => runOk('skopeo', ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${ref}`], { timeoutMs: 3600_000 });
    await copy(fixture.layout, fixture.tag);
    const manifestYaml = ['bundle: nightly', 'images:', `  - ${ref}`, 'registries:', `  ${JSON.stringify(registry.host)}: { insecure: true }`, ''].join('\n');
    await writeFile(join(work, 'nightly.yaml'), manifestYaml);
    // The first night and the way back, on a receiving-side registry of its own.
    const target = await startRegistry({ logLevel: 'warn' });
    let inventorySeconds: number;
    const have = join(work, 'have.json');
    try {
      const opts = { cwd: work, timeoutMs: 3600_000 };
      await runOk(node, [ctx.ferry, 'export', join(work, 'nightly.yaml'), '-o', join(work, 'night-1.tar.gz'), '--cache-dir', join(work, 'cache'), '-q'], opts);
      await runOk(node, [ctx.ferry, 'push', join(work, 'night-1.tar.gz'), '--to', `${target.host}/mirror`, '--cache-dir', join(work, 'cache'), '--mapping-file', join(work, 'mapping.json'), '-q'], opts);
      const t0 = Date.now();
      await runOk(node, [ctx.ferry, 'inventory', '--registry', `${target.host}/mirror`, '-o', have, '-q'], opts);
      inventorySeconds = (Date.now() - t0) / 1000;
    } finally {
      await target.stop();
    }
    // The next build moves the tag.
    const next = await deltaImage(fixture, join(work, 'nightly'));
    await copy(next.layout, next.tag);
    const digest = await manifestDigest(ref);
    if (digest !== next.manifest.digest) throw new Error(`skopeo rewrote the nightly manifest: ${digest}, written ${next.manifest.digest}`);
    log(`bench: delta: night 1 exported, pushed and inventoried (inventory ${inventorySeconds.toFixed(2)} s, ${(await readFile(have)).length} bytes); the tag moved to ${digest.slice(0, 19)} (changed layer ${next.changed.size} bytes)`);
    return {
      bytes: fixture.compressedBytes,
      what: 'image (one layer changed)',
      fixtureInfo: { ...bigInfo(fixture), changedLayer: next.changed, haveBytes: (await readFile(have)).length },
      ferry: ctx.ferry,
      manifestYaml,
      have,
      ref,
      digest,
      changedBytes: next.changed.size,
      inventorySeconds,
    };
  },
  variants: [
    {
      name: 'ferry export (full)',
      note: 'ferry export nightly.yaml (the moved tag), cold cache: every layer',
      prepare: ({ manifestYaml }, dir) => writeFile(join(dir, 'nightly.yaml'), manifestYaml),
      steps: ({ ferry }, dir) => exportSteps(ferry, dir),
      inspect: (dir, _t, { digest }) => bundleFacts(dir, digest),
    },
    {
      name: 'ferry export --have (delta)',
      note: 'the same with --have have.json (the receiving side\'s inventory after night 1)',
      prepare: ({ manifestYaml }, dir) => writeFile(join(dir, 'nightly.yaml'), manifestYaml),
      steps: ({ ferry, have }, dir) => exportSteps(ferry, dir, ['--have', have]),
      inspect: (dir, _t, { digest }) => bundleFacts(dir, digest),
    },
  ],
  targets(m, { changedBytes, inventorySeconds }) {
    const full = pick(m, 'ferry export (full)');
    const delta = pick(m, 'ferry export --have (delta)');
    const fullBytes = Math.max(...nums(full.runs, 'bundleBytes'));
    const deltaBytes = Math.max(...nums(delta.runs, 'bundleBytes'));
    const expected = Math.min(...nums(delta.runs, 'expectedLayers'));
    // The new layer, its config and manifest, the bundle's documents and table of contents.
    const budget = changedBytes + 64 * 1024;
    return [
      { what: 'the differential bundle holds only the changed layer, config, manifest and documents', value: `${deltaBytes} bytes (changed layer ${changedBytes} bytes; ${expected} layers expected on the target)`, ok: deltaBytes <= budget && expected > 0 },
      { what: 'bundle size, full vs differential', value: `${fmtMB(fullBytes)} MB vs ${(deltaBytes / 1000).toFixed(1)} kB (${(fullBytes / deltaBytes).toFixed(0)}x smaller)`, info: true },
      { what: 'export time, differential vs full (cold cache)', value: `${delta.seconds.toFixed(2)} s vs ${full.seconds.toFixed(2)} s (${ratio(delta.seconds, full.seconds)})`, info: true },
      { what: 'ferry inventory --registry of the receiving side (once, in setup)', value: `${inventorySeconds.toFixed(2)} s`, info: true },
    ];
  },
});

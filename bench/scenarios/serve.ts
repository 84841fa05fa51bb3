/**
 * serve: clients pulling the big image from `ferry serve BUNDLE` against the same clients
 * pulling it from the CNCF registry that holds the pushed copy, at 1 and at 16 clients at once
 * (bench/pull-clients.ts: manifest, config, layers, each blob checked). Also ferry serve's
 * start-up time on the bundle (spawn to its "serving" line, median of 3) and its peak RSS over
 * the whole scenario (VmHWM), as issue 10 asks.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../../test/e2e/helpers/processes.js';
import { waitFor } from '../../test/e2e/helpers/wait.js';
import { log } from '../log.js';
import { PULL_SCRIPT } from '../paths.js';
import { defineScenario, pick, ratio, type Scenario } from '../scenario.js';
import { median } from '../timing.js';
import { bigInfo } from './fixture-info.js';

interface Data {
  bytes: number;
  what: string;
  fixtureInfo: Record<string, unknown>;
  serveUrl: string;
  registryUrl: string;
  repo: string;
  tag: string;
  startup: number[];
  daemon: Daemon;
}

/** Starts `ferry serve BUNDLE` on a free port; resolves it with its URL and the seconds to its start-up line. */
async function startFerryServe(ferry: string, bundle: string, dir: string, n: number): Promise<{ daemon: Daemon; url: string; seconds: number }> {
  const t0 = process.hrtime.bigint();
  const daemon = startDaemon(process.execPath, [ferry, 'serve', bundle, '--listen', '127.0.0.1:0', '--quiet', '--cache-dir', join(dir, `cache-${n}`)], { logFile: join(dir, `serve-${n}.log`) });
  let url: string | undefined;
  await waitFor(() => (url = /serving \d+ images? from \d+ bundles? on (http:\/\/\S+)/.exec(daemon.log())?.[1]) !== undefined, {
    what: 'ferry serve',
    timeoutMs: 600_000,
    intervalMs: 5,
    abort: () => (daemon.running() ? null : 'exited before it was ready'),
    describe: () => daemon.log(),
  });
  return { daemon, url: url!, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** Peak resident memory of a process so far (kB), from /proc. */
function peakRssKB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : undefined;
}

function serveScenario(clients: number): Scenario {
  const ferryName = `ferry serve x${clients}`;
  const regName = `registry x${clients}`;
  return defineScenario<Data>({
    name: clients === 1 ? 'serve' : `serve${clients}`,
    title: `${clients} client${clients === 1 ? '' : 's'} pulling the big image: ferry serve BUNDLE vs the CNCF registry`,
    baseline: regName,
    async setup(ctx) {
      const fixture = await ctx.fixture();
      const ref = await ctx.pushed(fixture, 'bench/big');
      const bundle = await ctx.bundle(ref);
      const registry = await ctx.registry();
      const dir = join(ctx.tmp, 'shared', `serve-${clients}`);
      await mkdir(dir, { recursive: true });
      const startup: number[] = [];
      let kept: { daemon: Daemon; url: string } | undefined;
      for (let i = 0; i < 3; i++) {
        const s = await startFerryServe(ctx.ferry, bundle, dir, i);
        startup.push(s.seconds);
        if (i < 2) await s.daemon.stop();
        else kept = s;
      }
      ctx.atClose(() => kept!.daemon.stop());
      log(`bench: ferry serve up at ${kept!.url} (start-up ${startup.map((x) => x.toFixed(3)).join(', ')} s)`);
      const clientsBytes = fixture.compressedBytes * clients;
      return { bytes: clientsBytes, what: `${clients} pull${clients === 1 ? '' : 's'} of the image`, fixtureInfo: bigInfo(fixture), serveUrl: kept!.url, registryUrl: registry.url, repo: 'bench/big', tag: ref.slice(ref.lastIndexOf(':') + 1), startup, daemon: kept!.daemon };
    },
    variants: [
      {
        name: ferryName,
        note: `${clients} x pull-clients from ferry serve big.tar.gz (every blob checked by the client)`,
        steps: ({ serveUrl, repo, tag }, dir) => [{ cmd: process.execPath, args: [PULL_SCRIPT, serveUrl, repo, tag, String(clients)], stdout: join(dir, 'pull.json') }],
      },
      {
        name: regName,
        note: `${clients} x pull-clients from the CNCF registry holding the pushed copy`,
        steps: ({ registryUrl, repo, tag }, dir) => [{ cmd: process.execPath, args: [PULL_SCRIPT, registryUrl, repo, tag, String(clients)], stdout: join(dir, 'pull.json') }],
      },
    ],
    targets(m, { startup, daemon }) {
      const f = pick(m, ferryName);
      const r = pick(m, regName);
      const rss = peakRssKB(daemon.child.pid);
      const up = median(startup);
      return [
        { what: `ferry serve at least as fast as the registry, ${clients} client${clients === 1 ? '' : 's'} (issue 10)`, value: ratio(f.seconds, r.seconds), ok: f.seconds <= r.seconds },
        ...(clients === 1 ? [{ what: 'ferry serve start-up on the bundle < 1 s (issue 10)', value: `${up.toFixed(3)} s (median of 3)`, ok: up < 1 }] : []),
        { what: 'ferry serve peak RSS over the scenario (flat: < 200 MB)', value: rss === undefined ? 'unknown' : `${(rss / 1024).toFixed(0)} MB`, ok: rss !== undefined && rss < 200 * 1024 },
      ];
    },
  });
}

export const serve = serveScenario(1);
export const serve16 = serveScenario(16);

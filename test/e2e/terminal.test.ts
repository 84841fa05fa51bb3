/**
 * What a person sees: the built CLI in a real terminal (tmux, helpers/terminal.ts) against a
 * real registry and dockerd. On a terminal every result line and warning stays on screen, bars
 * end at 100%, a cached image says "cached", retries are shown. Piped and --json output keep
 * their shape, --quiet prints nothing on success, and a reader that closes the pipe early
 * (`ferry ls B | head -1`) gets no stack trace.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { refOn } from './helpers/fixtures.js';
import { startServers, type Servers } from './helpers/internal-suite.js';
import { run } from './helpers/processes.js';
import { startProxy, type FaultProxy } from './helpers/proxy.js';
import type { Credentials } from './helpers/registry.js';
import { barLines, ferryCommand, inTerminal, shQuote, type TerminalRun } from './helpers/terminal.js';
import { suiteTempDir } from './helpers/tmp.js';

const USER: Credentials = { user: 'ferry-e2e', password: 'pw-Tm4x-never-print-me' };

const tmp = suiteTempDir('terminal');
let servers: Servers;
let proxy: FaultProxy;
let homes = 0;

beforeAll(async () => {
  servers = await startServers(tmp.join('servers'), [{}, { auth: 'htpasswd', users: [USER] }]);
  proxy = await startProxy(servers.source.host);
});

afterAll(async () => {
  await proxy?.stop();
  await servers?.stop();
});

/** A fresh ferry home (cache, docker config) and its env. */
function home(): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = tmp.join(`home-${++homes}`);
  mkdirSync(dir, { recursive: true });
  return { dir, env: ferryEnv(dir) };
}

/** `ferry args` in a terminal; the run's screen for assertion messages. */
async function term(args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<TerminalRun & { report: string }> {
  const r = await inTerminal(ferryCommand(args), env, cwd ? { cwd } : {});
  return { ...r, report: `--- screen\n${r.screen}` };
}

/** Every bar on the screen is at 100% (none left behind mid-way). */
function expectBarsComplete(r: TerminalRun & { report: string }, atLeast: number): void {
  const bars = barLines(r.screen);
  expect(bars.length, r.report).toBeGreaterThanOrEqual(atLeast);
  for (const b of bars) expect(b, r.report).toMatch(/ 100% \|/);
}

describe('ferry save in a terminal', () => {
  let h: { dir: string; env: NodeJS.ProcessEnv };
  let first: TerminalRun & { report: string };
  let out: string;

  beforeAll(async () => {
    h = home();
    out = join(h.dir, 'two.tar.gz');
    first = await term(['save', servers.fx.busybox.ref, servers.fx.app.ref, '-o', out], h.env);
  });

  it('shows one saved line per image and the wrote line, with every bar at 100%', () => {
    expect(first.code, first.report).toBe(0);
    expect(first.screen).toMatch(new RegExp(`^saved ${servers.fx.busybox.ref} ${servers.fx.busybox.digest}$`, 'm'));
    expect(first.screen).toMatch(new RegExp(`^saved ${servers.fx.app.ref} ${servers.fx.app.digest}$`, 'm'));
    expect(first.screen).toMatch(new RegExp(`^wrote ${out} \\(\\d+(\\.\\d)? [KM]B, 2 images, \\d+\\.\\d s\\)$`, 'm'));
    // Two image bars and the bundle-writing bar, each drawn once at its end.
    expectBarsComplete(first, 3);
    const names = barLines(first.screen).map((l) => l.split(' | ').at(-1));
    expect(names.sort(), first.report).toEqual([servers.fx.app.ref, servers.fx.busybox.ref, `writing ${out}`].sort());
    // Sizes and rates are formatted: "4.2 MB", "12.3 MB/s".
    const app = barLines(first.screen).find((l) => l.endsWith(servers.fx.app.ref))!;
    expect(app).toMatch(/\| +\d+\.\d MB \/ +\d+\.\d MB \| +\d+(\.\d)? [KMG]?B\/s \|/);
  });

  it('a second run from the same cache shows the images as "cached", not as a speed', async () => {
    const again = await term(['save', servers.fx.busybox.ref, servers.fx.app.ref, '-o', join(h.dir, 'again.tar.gz')], h.env);
    expect(again.code, again.report).toBe(0);
    expectBarsComplete(again, 3);
    for (const ref of [servers.fx.busybox.ref, servers.fx.app.ref]) {
      const bar = barLines(again.screen).find((l) => l.endsWith(` | ${ref}`));
      expect(bar, again.report).toMatch(/\| +cached \|/);
    }
    expect(again.screen).toContain(`saved ${servers.fx.app.ref} ${servers.fx.app.digest}`);
  });

  it('a connection reset mid-download is shown as a retry, and the run still succeeds', async () => {
    const viaProxy = refOn(proxy.host, servers.fx.app);
    proxy.resetBlobOnce(servers.fx.app.bigLayer, 1024 * 1024);
    try {
      const h = home();
      const r = await term(['save', viaProxy, '-o', join(h.dir, 'retry.tar.gz')], h.env);
      expect(r.code, r.report).toBe(0);
      expect(r.screen, r.report).toMatch(new RegExp(`${servers.fx.app.bigLayer}.*: retrying in \\d+ (ms|s) \\(2/5\\): connection`));
      expect(r.screen).toContain(`saved ${viaProxy} ${servers.fx.app.digest}`);
      expectBarsComplete(r, 2);
    } finally {
      proxy.clearFaults();
    }
  });

  it('the platform warning stays on screen, before the result line', async () => {
    const h = home();
    const r = await term(['save', servers.fx.multi.ref, '-o', join(h.dir, 'multi.tar.gz')], h.env);
    expect(r.code, r.report).toBe(0);
    const warning = `warning: ${servers.fx.multi.ref}: kept linux/amd64 manifest ${servers.fx.multi.amd64} of 2-platform index ${servers.fx.multi.digest}`;
    expect(r.screen, r.report).toContain(warning);
    expect(r.screen.indexOf(warning)).toBeLessThan(r.screen.indexOf(`saved ${servers.fx.multi.ref} ${servers.fx.multi.amd64}`));
    expectBarsComplete(r, 2);
  });

  it('--quiet prints nothing on success, on a terminal or piped', async () => {
    const h2 = home();
    const r = await term(['save', servers.fx.busybox.ref, '-o', join(h2.dir, 'q.tar.gz'), '--quiet'], h2.env);
    expect(r.code, r.report).toBe(0);
    expect(r.output, r.report).toBe('');
    const piped = await runFerry(['save', servers.fx.busybox.ref, '-o', join(h2.dir, 'q2.tar.gz'), '--quiet'], { env: h2.env });
    expect(piped.code, describeRun(piped)).toBe(0);
    expect(piped.stdout + piped.stderr).toBe('');
  });

  it('piped, stderr has the same plain lines and no bars or escape codes; --json stdout is one JSON document', async () => {
    const h2 = home();
    const target = join(h2.dir, 'p.tar.gz');
    const r = await runFerry(['save', servers.fx.busybox.ref, '-o', target, '--json'], { env: h2.env });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stderr.split('\n').filter(Boolean).map((l) => l.replace(/\(.*\)$/, '(...)'))).toEqual([`saved ${servers.fx.busybox.ref} ${servers.fx.busybox.digest}`, `wrote ${target} (...)`]);
    expect(r.stderr).not.toMatch(/\x1b|%/);
    const doc = JSON.parse(r.stdout) as { command: string; status: string };
    expect(doc).toMatchObject({ command: 'save', status: 'ok' });
  });
});

describe('ferry export --keep-going in a terminal', () => {
  it('shows the bundled images, a warning for the missing one, and the error that points to it', async () => {
    const h = home();
    mkdirSync(join(h.dir, 'manifests'), { recursive: true });
    const missing = `${servers.source.host}/test/missing:1`;
    writeFileSync(join(h.dir, 'manifests', 'partly.yaml'), ['bundle: partly', 'images:', `  - ${servers.fx.busybox.ref}`, `  - ${missing}`, ''].join('\n'));
    const r = await term(['export', 'manifests/partly.yaml', '--keep-going'], h.env, h.dir);
    expect(r.code, r.report).toBe(3);
    expect(r.screen).toContain(`exported ${servers.fx.busybox.ref} ${servers.fx.busybox.digest}`);
    expect(r.screen).toMatch(/^wrote bundles\/partly\.tar\.gz \(/m);
    expect(r.screen).toMatch(new RegExp(`^warning: not bundled: pulling ${missing} \\(manifests/partly\\.yaml:4[:)]`, 'm'));
    expect(r.screen).toMatch(/^error: 1 of 2 images failed; the bundle holds the other 1$/m);
    expect(r.screen).toContain('hint: see the warnings above');
    // The warning comes before the error that refers to it.
    expect(r.screen.indexOf('warning: not bundled')).toBeLessThan(r.screen.indexOf('error: 1 of 2'));
    expectBarsComplete(r, 2);
  });
});

describe('the internal side in a terminal: verify, push, load, ls', () => {
  let bundle: string;

  beforeAll(async () => {
    const h = home();
    bundle = join(h.dir, 'two.tar.gz');
    const r = await runFerry(['save', servers.fx.busybox.ref, servers.fx.app.ref, '-o', bundle], { env: h.env });
    if (r.code !== 0) throw new Error(`ferry save for the internal-side bundle failed:\n${describeRun(r)}`);
  });

  it('verify shows its result line and a bar at 100%; --deep too', async () => {
    for (const deep of [false, true]) {
      const r = await term(['verify', bundle, ...(deep ? ['--deep'] : [])], home().env);
      expect(r.code, r.report).toBe(0);
      expect(r.screen).toMatch(new RegExp(`^${bundle}: ok \\(ferry, 2 images, .*${deep ? ', \\d+ layers decompressed' : ''}, sidecar ok\\)$`, 'm'));
      expectBarsComplete(r, 1);
      expect(barLines(r.screen)[0]).toMatch(deep ? /verifying .* \(decompressing every layer\)$/ : new RegExp(`verifying ${bundle}$`));
    }
  });

  it('push shows one bar and one pushed line per image (the bundle is read in place: no reading bar), and "present" on a second push', async () => {
    const h = home();
    const target = servers.targets[0]!.host;
    const r = await term(['push', bundle, '--to', target], h.env, h.dir);
    expect(r.code, r.report).toBe(0);
    expect(r.screen).toMatch(new RegExp(`^pushed ${servers.fx.busybox.ref} -> ${target}/test/busybox:1@${servers.fx.busybox.digest} \\(`, 'm'));
    expect(r.screen).toMatch(new RegExp(`^pushed ${servers.fx.app.ref} -> ${target}/test/app:1@${servers.fx.app.digest} \\(`, 'm'));
    expectBarsComplete(r, 2);
    expect(barLines(r.screen).some((l) => l.includes(`reading ${bundle}`)), r.report).toBe(false);

    const again = await term(['push', bundle, '--to', target], h.env, h.dir);
    expect(again.code, again.report).toBe(0);
    for (const ref of [servers.fx.busybox.ref, servers.fx.app.ref]) {
      expect(barLines(again.screen).find((l) => l.endsWith(` | ${ref}`)), again.report).toMatch(/\| +present \|/);
    }
  });

  it('load shows what it loads and each loaded image', async () => {
    const r = await term(['load', bundle, '--force'], { ...home().env, DOCKER_HOST: servers.dockerd.env.DOCKER_HOST });
    expect(r.code, r.report).toBe(0);
    expect(r.screen).toMatch(new RegExp(`^loading ${bundle} into the Docker engine at `, 'm'));
    expect(r.screen).toMatch(new RegExp(`^loaded ${servers.fx.busybox.ref}$`, 'm'));
    expect(r.screen).toMatch(new RegExp(`^loaded ${servers.fx.app.ref}$`, 'm'));
    expectBarsComplete(r, 1);
    expect(barLines(r.screen)[0]).toMatch(new RegExp(`sending ${bundle} to the engine$`));
  });

  it('commands without bars print their line too: cache prune, login', async () => {
    const h = home();
    const prune = await term(['cache', 'prune', '--older-than', '1d'], h.env);
    expect(prune.code, prune.report).toBe(0);
    expect(prune.output).toMatch(/^removed 0 blobs \(0 B\) from .*ferry/);
    const host = servers.targets[1]!.host;
    const login = await inTerminal(`printf %s ${shQuote(USER.password)} | ${ferryCommand(['login', host, '-u', USER.user, '--password-stdin'])}`, h.env);
    expect(login.code, login.screen).toBe(0);
    expect(login.output).toBe(`login succeeded for ${USER.user} at ${host} (stored in ${join(h.env.DOCKER_CONFIG!, 'config.json')})`);
    expect(login.screen, 'the password is never shown').not.toContain(USER.password);
  });

  it('`ferry ls BUNDLE | head -1` and a reader that closes at once: exit 0, stderr empty', async () => {
    for (const reader of ['head -1', 'true']) {
      const errFile = tmp.join(`ls-stderr-${reader.replace(/\W/g, '')}`);
      const sh = `${shQuote(process.execPath)} ${shQuote(FERRY_BIN)} ls ${shQuote(bundle)} 2>${shQuote(errFile)} | ${reader}; echo "ferry=\${PIPESTATUS[0]}"; cat ${shQuote(errFile)}`;
      const r = await run('bash', ['-c', sh], { env: { ...home().env, PATH: process.env.PATH ?? '/usr/bin:/bin' } });
      const lines = r.stdout.split('\n');
      expect(r.stdout, `${reader}: ${describeRun(r)}`).toMatch(/^ferry=0$/m);
      if (reader === 'head -1') expect(lines[0]).toMatch(/^NAME +DIGEST +PLATFORMS +SIZE +LAYERS$/);
      expect(r.stdout.slice(r.stdout.indexOf('ferry=0') + 'ferry=0'.length).trim(), `${reader}: ferry's stderr`).toBe('');
    }
  });
});

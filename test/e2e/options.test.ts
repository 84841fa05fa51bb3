/**
 * Options that are checked up front and hints that are true (issue 7): the built CLI against
 * real registries on loopback (open, htpasswd, token auth) with fixtures built by docker
 * (helpers/fixtures.ts). Every case asserts the exit code and the one paragraph ferry prints.
 * The login prompt runs in a real terminal (tmux, on a private server socket).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDockerConfig } from './helpers/docker-config.js';
import { FERRY_BIN, describeRun } from './helpers/ferry.js';
import type { Fixtures } from './helpers/fixtures.js';
import { accessLog, logMark, showLines } from './helpers/internal-registry-log.js';
import { ferryIn, freshHome, saveBundle, startServers, type Servers } from './helpers/internal-suite.js';
import { run, runOk } from './helpers/processes.js';
import type { Credentials, Registry } from './helpers/registry.js';
import { rawManifest, sha256 } from './helpers/skopeo.js';
import { suiteTempDir } from './helpers/tmp.js';
import { checkPrivateHosts, runFerryWithHosts, writeHostsFile } from './helpers/transport-hosts.js';

const USER: Credentials = { user: 'ferry-opts', password: 'pw-Opts-4hT9-never-print-me' };
const WRONG = 'wrong-Pw-2mQ-never-print-me';

const tmp = suiteTempDir('options');
let servers: Servers;
let fx: Fixtures;
let open: Registry;
let basic: Registry;
let token: Registry;

beforeAll(async () => {
  servers = await startServers(tmp.path, [{ auth: 'htpasswd', users: [USER] }, { auth: 'token', users: [USER] }]);
  fx = servers.fx;
  open = servers.source;
  [basic, token] = servers.targets as [Registry, Registry];
});

afterAll(async () => {
  await servers?.stop();
});

/** The port of a loopback registry (its host is 127.0.0.1:PORT). */
const portOf = (r: Registry): string => r.host.split(':')[1]!;

/** Every line ferry printed on stderr, for exact comparisons. */
const lines = (s: string): string[] => s.trimEnd().split('\n');

describe('platforms: as strict on the command line as in the manifest file', () => {
  it('save --platform linux/amd65 is exit 2 naming the architecture and the known ones, before any request', async () => {
    const r = await ferryIn(tmp.path, ['save', fx.busybox.ref, '-o', 'out.tar.gz', '--platform', 'linux/amd65']);
    expect(r.code, r.report).toBe(2);
    expect(lines(r.stderr)[0]).toMatch(/^error: invalid platform "linux\/amd65": unknown architecture "amd65" \(known: amd64, arm64, .*\)$/);
    expect(existsSync(join(r.home, 'out.tar.gz'))).toBe(false);
  });

  it('load --platform linux/amd65 is exit 2 before the engine is asked anything', async () => {
    const r = await ferryIn(tmp.path, ['load', 'no-such-bundle.tar.gz', '--platform', 'linux/amd65'], { env: { DOCKER_HOST: 'unix:///nonexistent.sock' } });
    expect(r.code, r.report).toBe(2);
    expect(r.stderr).toMatch(/^error: invalid platform "linux\/amd65": unknown architecture "amd65"/);
  });

  it('save --platform linux/arm64 of a single-platform amd64 image is exit 1 naming the image\'s platform, downloads no layer and writes nothing', async () => {
    const mark = logMark(open);
    const r = await ferryIn(tmp.path, ['save', fx.busybox.ref, '-o', 'out.tar.gz', '--platform', 'linux/arm64']);
    const log = accessLog(open, mark);
    expect(log.filter((l) => l.method === 'GET' && fx.busybox.layers.some((d) => l.url.endsWith(`/blobs/${d}`))), showLines(log)).toEqual([]);
    expect(log.some((l) => l.method === 'GET' && l.url.includes('/blobs/sha256:')), `the config was read\n${showLines(log)}`).toBe(true);
    expect(r.code, r.report).toBe(1);
    expect(lines(r.stderr)).toEqual([
      `error: pulling ${fx.busybox.ref}: the image is linux/amd64 only; asked for linux/arm64`,
      '  hint: it is a single-platform image, so there is no other platform to choose: ask for linux/amd64, or leave the platform out',
    ]);
    expect(existsSync(join(r.home, 'out.tar.gz'))).toBe(false);
  });

  it('save --platform linux/amd64 of that image, or with no --platform at all, works (exit 0)', async () => {
    for (const extra of [['--platform', 'linux/amd64'], ['--platform', 'linux/arm64,linux/amd64'], []]) {
      const r = await ferryIn(tmp.path, ['save', fx.busybox.ref, '-o', 'out.tar.gz', ...extra]);
      expect(r.code, `${extra.join(' ')}\n${r.report}`).toBe(0);
    }
  });

  it('export: platforms: [linux/arm64] in the manifest file for that image is the same error, with the file and line', async () => {
    const { home, env } = freshHome(tmp.path);
    const manifest = join(home, 'arm.yaml');
    writeFileSync(manifest, `images:\n  - ref: ${fx.busybox.ref}\n    platforms: [linux/arm64]\n`);
    const r = await ferryIn(tmp.path, ['export', manifest], { home, env });
    expect(r.code, r.report).toBe(1);
    expect(lines(r.stderr)[0]).toBe(`error: pulling ${fx.busybox.ref} (${manifest}:2:10): the image is linux/amd64 only; asked for linux/arm64`);
  });
});

describe('--ca-file is checked up front', () => {
  it('a missing file is exit 2 naming the file and the reason', async () => {
    const r = await ferryIn(tmp.path, ['save', fx.busybox.ref, '-o', 'out.tar.gz', '--ca-file', '/missing.pem']);
    expect(r.code, r.report).toBe(2);
    expect(lines(r.stderr)).toEqual(['error: CA file /missing.pem (--ca-file): it does not exist', '  hint: --ca-file needs a readable PEM file with CA certificates']);
  });

  it('a file that is not PEM is exit 2 naming the file, for push and login too', async () => {
    const { home, env } = freshHome(tmp.path);
    const der = join(home, 'ca.der');
    writeFileSync(der, Buffer.from([0x30, 0x82, 0x03, 0x0b, 0x30, 0x82]));
    const want = `error: CA file ${der} (--ca-file): it holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`;
    for (const args of [
      ['save', fx.busybox.ref, '-o', 'out.tar.gz', '--ca-file', der],
      ['push', 'no-such.tar.gz', '--to', `${open.host}/x`, '--ca-file', der],
      ['login', basic.host, '-u', USER.user, '--password-stdin', '--ca-file', der],
    ]) {
      const r = await ferryIn(tmp.path, args, { home, env, input: `${USER.password}\n` });
      expect(r.code, r.report).toBe(2);
      expect(lines(r.stderr)[0]).toBe(want);
    }
  });
});

describe('environment variables ferry reads are validated', () => {
  it.each([
    ['FERRY_RETRY_ATTEMPTS', 'abc', 'error: FERRY_RETRY_ATTEMPTS must be a whole number from 1 to 100 (attempts per request, the first included), got "abc"'],
    ['FERRY_RETRY_BASE_MS', '-1', 'error: FERRY_RETRY_BASE_MS must be a whole number from 0 to 60000 (milliseconds before the first retry, doubling after), got "-1"'],
  ])('%s=%s is exit 2 saying what it got and what is allowed', async (name, value, want) => {
    const r = await ferryIn(tmp.path, ['save', fx.busybox.ref, '-o', 'out.tar.gz'], { env: { [name]: value } });
    expect(r.code, r.report).toBe(2);
    expect(lines(r.stderr)).toEqual([want, '  hint: fix or unset the environment variable']);
  });
});

describe('host names are compared case-insensitively', () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = await saveBundle(tmp.path, 'busybox.tar.gz', [fx.busybox.ref]);
  });

  it('push --to LOCALHOST:PORT is loopback (plain HTTP allowed): exit 0, the target serves the same digest', async () => {
    const r = await ferryIn(tmp.path, ['push', bundle, '--to', `LOCALHOST:${portOf(open)}/upper`]);
    expect(r.code, r.report).toBe(0);
    expect(r.stderr).not.toMatch(/SSL|ssl3_|wrong version number/i);
    expect(sha256(await rawManifest(`${open.host}/upper/${fx.busybox.repo}:${fx.busybox.tag}`))).toBe(fx.busybox.digest);
  });

  it('save LOCALHOST:PORT/... pulls from the loopback registry (exit 0)', async () => {
    const r = await ferryIn(tmp.path, ['save', `LOCALHOST:${portOf(open)}/${fx.busybox.repo}:${fx.busybox.tag}`, '-o', 'out.tar.gz']);
    expect(r.code, r.report).toBe(0);
  });

  it('credentials stored under LOCALHOST:PORT (as typed to docker login) are found for localhost:PORT', async () => {
    const { home, env } = freshHome(tmp.path);
    writeDockerConfig(env.DOCKER_CONFIG!, { [`LOCALHOST:${portOf(basic)}`]: USER });
    const r = await ferryIn(tmp.path, ['push', bundle, '--to', `localhost:${portOf(basic)}/creds`], { home, env });
    expect(r.code, r.report).toBe(0);
  });

  it('--to with an uppercase prefix is exit 2: repository path must be lowercase, with what it got', async () => {
    const r = await ferryIn(tmp.path, ['push', bundle, '--to', `${open.host}/Mirror`]);
    expect(r.code, r.report).toBe(2);
    expect(lines(r.stderr)).toEqual([
      `error: --to "${open.host}/Mirror": repository path must be lowercase: got "Mirror"`,
      `  hint: registries accept only lowercase repository names; e.g. --to ${open.host}/mirror`,
    ]);
  });
});

describe('a plain-HTTP registry under a name that is not loopback', () => {
  const NAME = 'plain.options.test';
  let hosts: string;
  beforeAll(async () => {
    hosts = writeHostsFile(tmp.join('hosts'), [`127.0.0.1 ${NAME}`]);
    await checkPrivateHosts(hosts, NAME, '127.0.0.1');
  });

  it('fails once (exit 1) saying the server did not answer in TLS, with the --insecure-registry hint, no OpenSSL text', async () => {
    const { env } = freshHome(tmp.path);
    const host = `${NAME}:${portOf(open)}`;
    const r = await runFerryWithHosts(hosts, ['save', `${host}/${fx.busybox.repo}:${fx.busybox.tag}`, '-o', join(tmp.path, 'plain.tar.gz')], { env });
    expect(r.code, describeRun(r)).toBe(1);
    expect(lines(r.stderr)).toEqual([
      `error: pulling ${host}/test/busybox:1: connecting to registry ${host}: the TLS handshake failed: the server did not answer in TLS (it may serve plain HTTP)`,
      `  hint: for a registry without TLS pass --insecure-registry ${host} (or set insecure: true for it in the manifest file's registries)`,
    ]);
  });

  it('--insecure-registry given in capitals is honoured (exit 0)', async () => {
    const { env } = freshHome(tmp.path);
    const host = `${NAME}:${portOf(open)}`;
    const r = await runFerryWithHosts(hosts, ['save', `${host}/${fx.busybox.repo}:${fx.busybox.tag}`, '-o', join(tmp.path, 'plain.tar.gz'), '--insecure-registry', host.toUpperCase()], { env });
    expect(r.code, describeRun(r)).toBe(0);
  });
});

describe('--concurrency', () => {
  it.each([['save'], ['push']])('%s --concurrency abc is exit 2 saying "abc" and the allowed range', async (cmd) => {
    const args = cmd === 'save' ? ['save', fx.busybox.ref, '-o', 'out.tar.gz'] : ['push', 'b.tar.gz', '--to', `${open.host}/x`];
    const r = await ferryIn(tmp.path, [...args, '--concurrency', 'abc']);
    expect(r.code, r.report).toBe(2);
    expect(lines(r.stderr)).toEqual(['error: --concurrency must be a whole number from 1 to 64, got "abc"', '  hint: e.g. --concurrency 8']);
  });
});

describe('hints that are true', () => {
  it('a registry name that does not resolve is not told to turn TLS off', async () => {
    const r = await ferryIn(tmp.path, ['save', 'registry.does-not-exist.invalid/team/app:1', '-o', 'out-dns.tar.gz'], { env: { FERRY_RETRY_ATTEMPTS: '1' } });
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toMatch(/hint: the host name registry\.does-not-exist\.invalid does not resolve/);
    expect(r.stderr).not.toContain('--insecure-registry');
  });

  it('cache prune --lock given a manifest file says so and names its lock file; the file is left alone', async () => {
    const { home, env } = freshHome(tmp.path);
    const manifest = join(home, 'manifests', 'x.yaml');
    await runOk('mkdir', ['-p', join(home, 'manifests')]);
    const text = `images:\n  - ${fx.busybox.ref}\n`;
    writeFileSync(manifest, text);
    const r = await ferryIn(tmp.path, ['cache', 'prune', '--lock', manifest], { home, env });
    expect(r.code, r.report).toBe(2);
    expect(lines(r.stderr)).toEqual([
      `error: --lock ${manifest}: this looks like a manifest file, not a lock file`,
      `  hint: pass its lock file instead: --lock ${join(home, 'manifests', 'x.lock.json')} (ferry export writes it beside the manifest)`,
    ]);
    expect(r.stderr).not.toMatch(/delete|remove/i);
    expect(readFileSync(manifest, 'utf8')).toBe(text);
  });

  it('a wrong password at a token registry: save says the registry refused the credentials for USER, never "log in with"', async () => {
    const { home, env } = freshHome(tmp.path);
    writeDockerConfig(env.DOCKER_CONFIG!, { [token.host]: { user: USER.user, password: WRONG } });
    const r = await ferryIn(tmp.path, ['save', `${token.host}/${fx.busybox.repo}:${fx.busybox.tag}`, '-o', 'out.tar.gz'], { home, env });
    expect(r.code, r.report).toBe(1);
    const [error, hint] = lines(r.stderr);
    expect(error).toMatch(new RegExp(`^error: pulling ${token.host}/test/busybox:1: fetching a token from http://.*: HTTP 401: the registry refused the credentials for ${USER.user}$`));
    expect(hint).toBe(`  hint: check the user name and password stored for ${token.host} (Docker config or credential helper); if the password changed, log in again with \`ferry login ${token.host} -u ${USER.user}\``);
    expect(r.stdout + r.stderr).not.toContain(WRONG);
  });

  it('a wrong password at a token registry: login says the registry refused the credentials for USER (exit 1)', async () => {
    const r = await ferryIn(tmp.path, ['login', token.host, '-u', USER.user, '--password-stdin'], { input: `${WRONG}\n` });
    expect(r.code, r.report).toBe(1);
    expect(lines(r.stderr)).toEqual([`error: logging in to ${token.host}: the registry refused the credentials for ${USER.user}`, '  hint: check the user name and password']);
    expect(r.stdout + r.stderr).not.toContain(WRONG);
  });

  it('login without --password-stdin and without a terminal is exit 2 with a hint, and asks nothing', async () => {
    const r = await ferryIn(tmp.path, ['login', basic.host, '-u', USER.user], { input: `${USER.password}\n` });
    expect(r.code, r.report).toBe(2);
    expect(lines(r.stderr)).toEqual([
      'error: ferry login has no password: standard input is not a terminal to ask on, and --password-stdin was not given',
      `  hint: pipe the password in: echo "$PASSWORD" | ferry login ${basic.host} -u ${USER.user} --password-stdin`,
    ]);
    expect(existsSync(join(r.env.DOCKER_CONFIG!, 'config.json'))).toBe(false);
  });
});

describe('ferry login HOST -u USER on a terminal (tmux)', () => {
  // A private tmux server on a socket in the suite's temp dir: nobody else's sessions, nothing left behind.
  const tmux = (args: string[]) => run('tmux', ['-S', tmp.join('tmux.sock'), '-f', '/dev/null', ...args]);
  afterAll(async () => {
    await tmux(['kill-server']);
  });

  /** Polls the pane until `pattern` shows (or 30 s pass); returns the whole pane with history. */
  async function waitForPane(pattern: RegExp): Promise<string> {
    let pane = '';
    for (let i = 0; i < 300; i++) {
      pane = (await tmux(['capture-pane', '-p', '-J', '-S', '-', '-t', 'login'])).stdout;
      if (pattern.test(pane)) return pane;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the pane never showed ${pattern}:\n${pane}`);
  }

  it('prompts for the password with echo off, checks it against the registry and stores it', async () => {
    const { home, env } = freshHome(tmp.path);
    const vars = Object.entries({ PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...env }).map(([k, v]) => `${k}='${String(v)}'`);
    const cmd = `env -i ${vars.join(' ')} ${process.execPath} ${FERRY_BIN} login ${basic.host} -u ${USER.user}; echo "ferry-exit=$?"; sleep 600`;
    const started = await tmux(['new-session', '-d', '-s', 'login', '-x', '120', '-y', '30', cmd]);
    expect(started.code, started.stderr).toBe(0);
    await waitForPane(/Password: /);
    await tmux(['send-keys', '-t', 'login', '-l', USER.password]);
    await tmux(['send-keys', '-t', 'login', 'Enter']);
    const pane = await waitForPane(/ferry-exit=\d+/);
    expect(pane).toContain('ferry-exit=0');
    expect(pane).toContain(`login succeeded for ${USER.user} at ${basic.host}`);
    expect(pane).not.toContain(USER.password);
    const config = JSON.parse(readFileSync(join(env.DOCKER_CONFIG!, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
    expect(config.auths[basic.host]?.auth).toBe(Buffer.from(`${USER.user}:${USER.password}`).toString('base64'));
    expect(home).toBeTruthy();
  });
});

/**
 * Runs the built CLI with a private /etc/hosts, so a name that is not loopback to ferry
 * (`registry.test`) resolves to a loopback address, without editing the machine's files:
 * `unshare --mount` gives the child its own mount namespace (propagation private, so nothing
 * leaks out), /etc/hosts is bind-mounted over from a temp file there, and ferry is exec'd in
 * its place (one process, killed like any other run). Resolution is the real one: Node's
 * dns.lookup, glibc getaddrinfo, nsswitch `files`.
 *
 * Needs root (CAP_SYS_ADMIN) and util-linux `unshare`; `checkPrivateHosts` says why not.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { FERRY_BIN, REPO_ROOT, type FerryOptions } from './ferry.js';
import { run, type RunResult } from './processes.js';

/** Writes a hosts file: the machine's /etc/hosts plus `entries` ("127.0.0.1 registry.test"). */
export function writeHostsFile(file: string, entries: readonly string[]): string {
  writeFileSync(file, `${readFileSync('/etc/hosts', 'utf8').trimEnd()}\n${entries.join('\n')}\n`);
  return file;
}

/** Runs `cmd args` in a mount namespace where `hostsFile` is /etc/hosts. */
function runWithHosts(hostsFile: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, opts: FerryOptions): Promise<RunResult> {
  return run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hostsFile, cmd, ...args], {
    env,
    cwd: opts.cwd ?? REPO_ROOT,
    ...(opts.input === undefined ? {} : { input: opts.input }),
    timeoutMs: opts.timeoutMs ?? 150_000,
  });
}

/** Like runFerry (same clean environment), with `hostsFile` as /etc/hosts. */
export function runFerryWithHosts(hostsFile: string, args: readonly string[], opts: FerryOptions = {}): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: '/nonexistent/ferry-e2e-home',
    ...opts.env,
  };
  return runWithHosts(hostsFile, process.execPath, [FERRY_BIN, ...args], env, opts);
}

/**
 * Resolves when `name` resolves to `address` inside such a namespace; throws saying what went
 * wrong otherwise (not root, no unshare, a kernel without mount namespaces).
 */
export async function checkPrivateHosts(hostsFile: string, name: string, address: string): Promise<void> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const r = await runWithHosts(hostsFile, 'getent', ['hosts', name], env, { timeoutMs: 10_000 });
  if (r.code !== 0 || r.stdout.split(/\s+/)[0] !== address) {
    throw new Error(
      `a private /etc/hosts (unshare --mount + mount --bind) does not work here, so a non-loopback ` +
        `name cannot be pointed at loopback: exit ${r.code ?? r.signal}\n${r.stdout}${r.stderr}`,
    );
  }
}

/**
 * A network namespace with loopback only (`ip netns add`), for running ferry where there is no
 * network: nothing but 127.0.0.1 inside, so only servers started inside can be reached. Unix
 * sockets are files, not network, and work across the boundary (a dockerd's socket).
 *
 * `startRegistry()` runs the CNCF registry inside, on 127.0.0.1:5000 of the namespace (no port
 * clash with the host's). `remove()` stops it and deletes the namespace; a test process that
 * dies first deletes it on the way out.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGISTRY_BIN } from './registry.js';
import { atExit, run, runOk, startDaemon, tail, type Daemon, type RunOptions, type RunResult } from './processes.js';
import { waitFor } from './wait.js';

export const IP_BIN = '/usr/sbin/ip';

export interface Netns {
  readonly name: string;
  /** Runs `cmd args` inside the namespace (`ip netns exec`); never throws for a non-zero exit. */
  exec(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Starts a registry inside on 127.0.0.1:5000, storage under `dir`; resolves when `/v2/` answers. */
  startRegistry(dir: string): Promise<{ host: string; log(): string }>;
  /** Stops what was started inside and deletes the namespace. */
  remove(): Promise<void>;
}

/** Creates a namespace named `ferry-e2e-<label>-<pid>` with its loopback up. Throws when `ip` cannot. */
export async function createNetns(label: string): Promise<Netns> {
  const name = `ferry-e2e-${label}-${process.pid}`;
  await runOk(IP_BIN, ['netns', 'add', name]);
  const forget = atExit(() => void spawnSync(IP_BIN, ['netns', 'delete', name]));
  const daemons: Daemon[] = [];
  const exec = (cmd: string, args: readonly string[], opts?: RunOptions) => run(IP_BIN, ['netns', 'exec', name, cmd, ...args], opts);
  try {
    await runOk(IP_BIN, ['netns', 'exec', name, IP_BIN, 'link', 'set', 'lo', 'up']);
  } catch (err) {
    forget();
    await run(IP_BIN, ['netns', 'delete', name]);
    throw err;
  }
  return {
    name,
    exec,
    async startRegistry(dir) {
      mkdirSync(join(dir, 'data'), { recursive: true });
      const config = join(dir, 'config.yml');
      writeFileSync(config, ['version: 0.1', 'log:', '  level: info', '  formatter: text', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`, 'http:', '  addr: 127.0.0.1:5000', '  secret: ferry-e2e-secret', ''].join('\n'));
      // `ip netns exec` execs the command, so the daemon's pid is the registry's own.
      const d = startDaemon(IP_BIN, ['netns', 'exec', name, REGISTRY_BIN, 'serve', config], { logFile: join(dir, 'registry.log') });
      daemons.push(d);
      await waitFor(async () => (await exec('/usr/bin/curl', ['-fsS', '-o', '/dev/null', 'http://127.0.0.1:5000/v2/'])).code === 0, {
        what: `registry on 127.0.0.1:5000 in network namespace ${name}`,
        abort: () => (d.running() ? null : 'exited before it was ready'),
        describe: () => tail(d.log()),
      });
      return { host: '127.0.0.1:5000', log: () => d.log() };
    },
    async remove() {
      for (const d of daemons) await d.stop(5000);
      forget();
      await runOk(IP_BIN, ['netns', 'delete', name]);
    },
  };
}

/**
 * A private Docker Engine for e2e tests: dockerd 20.10 on its own unix socket, with its own
 * containerd, data root and exec root in a temp dir, vfs storage and no networking
 * (`--bridge=none`, no iptables), so it coexists with any other dockerd on the machine.
 *
 * Why containerd is started here and passed with `--containerd`: without that flag dockerd
 * 20.10 adopts the system containerd whenever /run/containerd/containerd.sock exists and only
 * otherwise supervises its own. Starting it ourselves makes the socket path, the process to
 * stop and the `ctr --address` target the same on every machine.
 *
 * Containers must run with `--network none`. The client env sets DOCKER_BUILDKIT=0 (the
 * classic builder; no buildx is installed) and a private DOCKER_CONFIG (credentials and
 * `docker manifest` lists stay in the temp dir).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { killProcessesMentioning, run, runOk, startDaemon, tail, type Daemon, type RunOptions, type RunResult } from './processes.js';
import { makeTempDir } from './tmp.js';
import { waitFor } from './wait.js';

export interface Dockerd {
  /** Path of the Engine API socket. */
  readonly socket: string;
  /** Environment for the docker CLI: DOCKER_HOST, DOCKER_CONFIG, DOCKER_BUILDKIT=0, PATH. */
  readonly env: NodeJS.ProcessEnv;
  /** The containerd socket dockerd uses, for `ctr --address`. */
  readonly containerdSocket: string;
  readonly dir: string;
  /** Runs the docker CLI against this daemon; never throws for a non-zero exit. */
  docker(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Like docker(), but throws unless it exits 0; returns stdout. */
  dockerOk(args: readonly string[], opts?: RunOptions): Promise<string>;
  /** Runs `ctr --address <containerd socket> args`. */
  ctr(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** dockerd's and containerd's logs so far. */
  logText(): string;
  /** Stops dockerd, then containerd, and deletes the directory. */
  stop(): Promise<void>;
}

/** Starts containerd and dockerd and waits for `GET /_ping`. Throws with the log tail. */
export async function startDockerd(): Promise<Dockerd> {
  const tmp = makeTempDir('dockerd');
  const p = (s: string) => tmp.join(s);
  const socket = p('docker.sock');
  const containerdSocket = p('containerd.sock');
  mkdirSync(p('client'));
  writeFileSync(p('daemon.json'), '{}\n');
  writeFileSync(p('containerd.toml'), containerdToml(tmp.path, containerdSocket));
  const daemons: Daemon[] = [];
  let stopped: Promise<void> | undefined;
  // dockerd first (it stops its containers), then containerd; then anything still running
  // from this directory (shims of a dockerd that had to be killed); then the files.
  const stopAll = (): Promise<void> =>
    (stopped ??= (async () => {
      for (const d of [...daemons].reverse()) await d.stop(20_000);
      killProcessesMentioning(tmp.path);
      tmp.remove();
    })());
  try {
    const containerd = startDaemon('containerd', ['--config', p('containerd.toml')], { logFile: p('containerd.log') });
    daemons.push(containerd);
    await waitFor(() => run('ctr', ['--address', containerdSocket, 'version'], { timeoutMs: 5000 }).then((r) => r.code === 0), {
      what: 'containerd',
      abort: () => (containerd.running() ? null : 'exited before it was ready'),
      describe: () => tail(containerd.log()),
    });
    const dockerd = startDaemon('dockerd', dockerdArgs(tmp.path, socket, containerdSocket), { logFile: p('dockerd.log') });
    daemons.push(dockerd);
    await waitFor(() => ping(socket), {
      what: 'dockerd',
      timeoutMs: 60_000,
      abort: () => (dockerd.running() ? null : 'exited before it was ready'),
      describe: () => tail(dockerd.log()),
    });
  } catch (err) {
    await stopAll();
    throw err;
  }
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
    HOME: tmp.path,
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_CONFIG: p('client'),
    DOCKER_BUILDKIT: '0',
    DOCKER_CLI_HINTS: 'false',
  };
  const withEnv = (o: RunOptions = {}): RunOptions => ({ ...o, env: { ...env, ...o.env } });
  return {
    socket,
    env,
    containerdSocket,
    dir: tmp.path,
    docker: (args, o) => run('docker', args, withEnv(o)),
    dockerOk: (args, o) => runOk('docker', args, withEnv(o)),
    ctr: (args, o) => run('ctr', ['--address', containerdSocket, ...args], withEnv(o)),
    logText: () => daemons.map((d) => d.log()).join('\n'),
    stop: stopAll,
  };
}

function dockerdArgs(dir: string, socket: string, containerdSocket: string): string[] {
  return [
    `--config-file=${dir}/daemon.json`,
    `--host=unix://${socket}`,
    `--data-root=${dir}/data`,
    `--exec-root=${dir}/exec`,
    `--pidfile=${dir}/docker.pid`,
    `--containerd=${containerdSocket}`,
    '--storage-driver=vfs',
    '--iptables=false',
    '--ip6tables=false',
    '--ip-masq=false',
    '--bridge=none',
  ];
}

function containerdToml(dir: string, socket: string): string {
  return [
    'version = 2',
    `root = "${dir}/containerd/root"`,
    `state = "${dir}/containerd/state"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${socket}"`,
    '[ttrpc]',
    `  address = "${socket}.ttrpc"`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
    '',
  ].join('\n');
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

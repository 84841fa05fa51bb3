/**
 * What a command prints: a live progress display on a TTY (one bar per image: bytes and rate),
 * plain lines otherwise, nothing with --quiet. Progress and messages go to stderr; with --json
 * the one report goes to stdout at the end.
 */
import cliProgress from 'cli-progress';
import { reportState } from './report-state.js';

export interface OutputOptions {
  quiet: boolean;
  json: boolean;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export class Output {
  private readonly bars: cliProgress.MultiBar | undefined;
  private readonly byKey = new Map<string, { bar?: cliProgress.SingleBar; total: number; done: number }>();

  constructor(private readonly opts: OutputOptions) {
    if (!opts.quiet && process.stderr.isTTY && !process.env.CI) {
      this.bars = new cliProgress.MultiBar(
        {
          stream: process.stderr,
          format: ' {bar} {percentage}% | {done}/{size} | {rate}/s | {name}',
          barsize: 24,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 50,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
    }
  }

  /** A message for people (stderr), unless --quiet. */
  info(line: string): void {
    if (this.opts.quiet) return;
    // MultiBar.log only buffers until the next redraw: with no bar running it would never show.
    if (this.bars?.isActive) this.bars.log(`${line}\n`);
    else process.stderr.write(`${line}\n`);
  }

  /** A warning: shown even with --quiet. */
  warn(line: string): void {
    if (this.bars?.isActive) this.bars.log(`warning: ${line}\n`);
    else process.stderr.write(`warning: ${line}\n`);
  }

  /** Starts a progress entry (a bar on a TTY). */
  start(key: string, name: string, total: number): void {
    const started = Date.now();
    const entry: { bar?: cliProgress.SingleBar; total: number; done: number; started?: number } = { total, done: 0, started };
    if (this.bars) entry.bar = this.bars.create(total, 0, { name, done: formatBytes(0), size: formatBytes(total), rate: formatBytes(0) });
    this.byKey.set(key, entry);
  }

  progress(key: string, n: number): void {
    const e = this.byKey.get(key) as { bar?: cliProgress.SingleBar; total: number; done: number; started: number } | undefined;
    if (!e) return;
    e.done += n;
    const secs = Math.max(0.001, (Date.now() - e.started) / 1000);
    e.bar?.update(e.done, { done: formatBytes(e.done), rate: formatBytes(e.done / secs) });
  }

  stop(): void {
    if (!this.bars?.isActive) return;
    this.bars.update(); // flushes lines logged since the last redraw; stop() alone drops them
    this.bars.stop();
  }

  /** Prints the --json report on stdout. */
  report(doc: unknown): void {
    if (!this.opts.json) return;
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    reportState.printed = true;
  }
}

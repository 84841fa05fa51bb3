/**
 * The registry's own access log as an oracle for what a run requested: mark the log's length
 * before the run, then read the combined-format lines written after it. The log shows method,
 * path and status (not headers: a Range request is visible only as status 206).
 */
import { readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from './registry.js';

export interface AccessEntry {
  method: string;
  path: string;
  status: number;
}

/** The current byte length of the registry's log: pass it to accessSince after a run. */
export function accessMark(reg: Registry): number {
  return statSync(reg.logFile).size;
}

/**
 * The access-log entries written since `mark`. Waits `settleMs` first: the registry writes a
 * line after the response, so the client may see the end of a request a moment before its line.
 */
export async function accessSince(reg: Registry, mark: number, settleMs = 300): Promise<AccessEntry[]> {
  await sleep(settleMs);
  const text = readFileSync(reg.logFile).subarray(mark).toString('utf8');
  const out: AccessEntry[] = [];
  for (const m of text.matchAll(/"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) /g)) {
    out.push({ method: m[1]!, path: m[2]!, status: Number(m[3]) });
  }
  return out;
}

/** Entries as "METHOD path status" lines, for assertion messages. */
export function describeAccess(entries: readonly AccessEntry[]): string {
  return entries.map((e) => `${e.method} ${e.path} ${e.status}`).join('\n') || '(no requests)';
}

/**
 * The test dockerd as an oracle for `ferry load`: which images it holds, what it reports for
 * them, and which image events (load, tag, delete) it emitted since a moment — `docker events`
 * shows whether an image was really loaded again or only re-tagged.
 */
import type { Dockerd } from './dockerd.js';

export interface ImageEvent {
  /** "load", "tag", "untag", "delete", ... */
  action: string;
  /** Image ID (sha256:...). */
  id: string;
  /** The name the event is about (a tag for "tag"). */
  name: string;
  /** Nanoseconds since the epoch, as docker reports it (a string: it exceeds 2^53). */
  timeNano: string;
}

/** A Unix time in ms as docker's "seconds.nanoseconds" timestamp. */
function dockerTime(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${s}.${String((ms - s * 1000) * 1_000_000).padStart(9, '0')}`;
}

/** Image events the daemon emitted after `sinceMs` (Date.now() before the action), up to now. */
export async function imageEvents(dockerd: Dockerd, sinceMs: number): Promise<ImageEvent[]> {
  const out = await dockerd.dockerOk([
    'events', '--since', dockerTime(sinceMs - 1000), '--until', dockerTime(Date.now()),
    '--filter', 'type=image', '--format', '{{json .}}',
  ]);
  const since = BigInt(sinceMs) * 1_000_000n;
  return out
    .split('\n')
    .filter(Boolean)
    // timeNano is read from the text: JSON.parse would round it to a double.
    .map((l) => ({ ...(JSON.parse(l) as { Action: string; id: string; Actor: { Attributes?: { name?: string } } }), timeNano: /"timeNano":(\d+)/.exec(l)?.[1] ?? '0' }))
    .map((e) => ({ action: e.Action, id: e.id, name: e.Actor.Attributes?.name ?? '', timeNano: String(e.timeNano) }))
    .filter((e) => BigInt(e.timeNano) >= since);
}

/** Removes every image (and so every layer) from the daemon. Throws if docker fails. */
export async function removeAllImages(dockerd: Dockerd): Promise<void> {
  // `rm -f` of a parent before its child fails ("image has dependent child images"), so
  // prune (which orders that itself), then check.
  await dockerd.dockerOk(['container', 'prune', '-f']);
  await dockerd.dockerOk(['image', 'prune', '-a', '-f']);
  const left = await imageIds(dockerd);
  if (left.length) throw new Error(`images left after docker image prune -a: ${left.join(', ')}`);
}

/** IDs of all images the daemon holds, sorted. */
export async function imageIds(dockerd: Dockerd): Promise<string[]> {
  const out = await dockerd.dockerOk(['images', '-aq', '--no-trunc']);
  return [...new Set(out.split('\n').filter(Boolean))].sort();
}

export interface InspectedImage {
  Id: string;
  RepoTags: string[];
  Architecture: string;
  Os: string;
  Created: string;
}

/** `docker image inspect` of `ref`, or null when the daemon does not have it. */
export async function inspectImage(dockerd: Dockerd, ref: string): Promise<InspectedImage | null> {
  const r = await dockerd.docker(['image', 'inspect', ref]);
  if (r.code !== 0) return null;
  return (JSON.parse(r.stdout) as InspectedImage[])[0] ?? null;
}

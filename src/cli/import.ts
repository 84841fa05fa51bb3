/**
 * `ferry import import.yaml` (or `ferry import BUNDLE... --to HOST|--docker HOST`): the
 * disconnected side's cron job (docs/import.md). Takes every complete bundle of the drop
 * directory (its `.sha256` checksum file there and matching; a volume set as one bundle, with
 * every volume its checksum file lists), verifies it, pushes or loads it,
 * appends it to the journal (fsync'd) and then moves it and its checksum file to done/. A
 * damaged or rejected bundle goes to failed/ with `<name>.reason.txt`; a bundle still arriving
 * is left ("waiting"); one the journal already holds is a no-op ("already imported"). One run
 * at a time (a lock beside the journal). Exit 0 nothing failed, 3 some imported and some
 * failed, 1 none imported and some failed, 2 invalid input.
 */
import { rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { EXIT, FerryError, UsageError, describe } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { checkOutputPath } from '../fs/output-path.js';
import { setInterruptMessage } from '../process/interrupt.js';
import { acquireLock, type Lock } from '../store/lock.js';
import { hashFile, readSidecar } from '../bundle/sidecar.js';
import { parsePushTarget } from '../registry/push-target.js';
import { pushBundle } from './push-bundle.js';
import { verifyArchive } from '../bundle/verify.js';
import { blobPath } from '../digest/digest.js';
import { judge, loadPolicy, rejectedError, type Policy } from './policy-check.js';
import { DockerEngine } from '../docker-engine/engine.js';
import { loadImportConfig, type ImportTarget } from '../manifest-file/import-config.js';
import { decide, decideSet, displayName, isBundleName, runStatus, setNotThere, unfinishedMove, volumeName, type Decision, type DropFile } from '../import/drop.js';
import { appendJournal, readJournal, type JournalEntry, type JournalImage } from '../import/journal.js';
import { moveBundle, moveSet } from '../import/move.js';
import { candidates, type Candidate } from '../import/candidates.js';
import { prune } from '../import/prune.js';
import { hashSet, movedSets, restat, setLines } from './import-set-files.js';
import { parseAge } from './cache.js';
import { concurrencyOption, makeOutput, makeRegistries, openStore } from './common.js';
import { loadBundle } from './load.js';
import { errorJson } from './report.js';
import type { Output } from './output.js';
import type { ImportArgs } from './commands.js';

/** What one run works on: from the config file, or from the command line. */
interface Job {
  /** The drop directory (config), or undefined when bundles are named. */
  drop?: string;
  bundles: string[];
  done?: string;
  failed?: string;
  journal: string;
  target: ImportTarget;
  policy?: string;
  keepMs?: number;
  settleMs: number;
}

type Status = 'imported' | 'duplicate' | 'waiting' | 'rejected' | 'error' | 'would-import';

interface BundleReport {
  bundle: string;
  /** A volume set's volumes (file names), in part order. */
  volumes?: string[];
  status: Status;
  sha256: string | null;
  images: JournalImage[];
  reason: string | null;
  movedTo: string | null;
  error?: ReturnType<typeof errorJson>;
}

/** Codes of failures that are the bundle's own: it goes to failed/ (the others are retried next run). */
const REJECT = new Set(['BUNDLE_FORMAT', 'DIGEST_MISMATCH', 'UNSUPPORTED', 'USAGE', 'NOT_FOUND', 'POLICY']);

async function jobOf(a: ImportArgs): Promise<Job> {
  const sources = a.sources ?? [];
  const config = sources.length === 1 && /\.(ya?ml|json)$/i.test(sources[0]!) ? sources[0]! : undefined;
  const cliOnly = (['to', 'docker', 'done', 'failed', 'journal'] as const).filter((k) => a[k] !== undefined);
  if (config) {
    if (cliOnly.length) throw new UsageError(`--${cliOnly[0]} is for importing named bundles; with a config file, set it in ${config}`, 'see docs/import.md');
    const c = await loadImportConfig(config);
    return {
      drop: c.drop, bundles: [], done: c.done, failed: c.failed, journal: c.journal, target: c.target,
      ...(c.policy ? { policy: c.policy } : {}),
      ...(c.keep ? { keepMs: parseAge(c.keep) } : {}),
      settleMs: c.settle ? parseAge(c.settle) : 60_000,
    };
  }
  if (sources.some((s) => /\.(ya?ml|json)$/i.test(s))) throw new UsageError('give one import config file, or bundles: not both, not several config files', 'ferry import import.yaml, or ferry import BUNDLE... --to HOST[:PORT][/PREFIX]');
  const bad = sources.find((s) => !isBundleName(basename(s)) && !volumeName(basename(s)));
  if (bad) throw new UsageError(`${bad} is neither an import config file (.yaml, .yml, .json) nor a bundle (.tar.gz, .tgz, .tar) or its first volume (NAME.001)`, 'ferry import import.yaml, or ferry import BUNDLE... --to HOST[:PORT][/PREFIX]');
  if ((a.to === undefined) === (a.docker === undefined)) throw new UsageError('name where the images go: --to HOST[:PORT][/PREFIX] (a registry) or --docker HOST (a Docker engine)', 'or use an import config file (docs/import.md)');
  const target: ImportTarget = a.to !== undefined ? { kind: 'registry', to: a.to, keepRegistryHost: a['keep-registry-host'] } : { kind: 'docker', host: a.docker! };
  const journal = resolve(a.journal ?? (a.done ? join(a.done, 'imports.jsonl') : 'imports.jsonl'));
  return { bundles: sources.map((s) => resolve(s)), ...(a.done ? { done: resolve(a.done) } : {}), ...(a.failed ? { failed: resolve(a.failed) } : {}), journal, target, settleMs: 60_000 };
}

/** One run's state, shared by the steps below. */
interface Run {
  job: Job;
  dryRun: boolean;
  out: Output;
  targetName: string;
  journal: Map<string, JournalEntry>;
  reports: BundleReport[];
  /** Pushes or loads one verified bundle; resolves with its images in the target. */
  importImages(path: string): Promise<JournalImage[]>;
  /** Asks the target once (registry `/v2/`, engine `_ping`); throws when it cannot be reached. */
  reachable(): Promise<void>;
}

const baseReport = (bundle: string, c?: Candidate) => ({ bundle, ...(c?.volumes ? { volumes: c.volumes.map((v) => v.name) } : {}), images: [], reason: null, movedTo: null }) satisfies Partial<BundleReport>;

/** How messages name a candidate: `prod.tar.gz`, or `prod.tar.gz (3 volumes)` for a set. */
const shown = (c: Candidate): string => displayName({ name: basename(c.path), ...(c.volumes ? { volumes: c.volumes } : {}) });

/** Hashes a volume set that has its checksum file and every volume it lists, and decides (drop.ts, decideSet). */
async function checkSet(r: Run, c: Candidate, lines: [string, string][] | undefined): Promise<Decision> {
  const name = basename(c.path);
  const vols = c.volumes!;
  const base = { lines, before: vols as DropFile[], ...(c.alsoFile ? { alsoFile: true } : {}) };
  const early = setNotThere(name, base);
  if (early) return early;
  const before = await restat(vols);
  const hashed = await hashSet(vols).catch(() => undefined);
  const after = await restat(vols);
  return decideSet(name, { ...base, before, ...(hashed ? { hashed } : {}), after }, r.journal, Date.now(), r.job.settleMs);
}

/**
 * A set some of whose volumes an earlier run already moved (it was stopped mid-move): moves the
 * rest where the others went. Resolves with where that is, or undefined when it is no such set.
 */
async function finishMove(r: Run, c: Candidate, lines: [string, string][]): Promise<string | undefined> {
  const present = new Set((c.volumes ?? []).map((v) => volumeName(v.name)!.part));
  if (present.size >= lines.length) return undefined;
  const to = unfinishedMove(lines, present, await movedSets([r.job.done, r.job.failed], basename(c.path)));
  if (!to) return undefined;
  if (!r.dryRun) {
    await moveSet(basename(c.path), (c.volumes ?? []).map((v) => v.path), `${c.path}.sha256`, lines, to.dir, to.dir === r.job.done, to.name);
    if (to.dir === r.job.failed && !(await stat(join(to.dir, `${to.name}.reason.txt`)).catch(() => undefined))) {
      await writeFileAtomic(join(to.dir, `${to.name}.reason.txt`), `ferry import rejected ${basename(c.path)} before ${new Date().toISOString()} (the run that moved it here was stopped before it wrote why); \`ferry verify\` on it says what is wrong\n`, { what: 'the reason file' });
    }
  }
  r.out.info(`${r.dryRun ? 'would move' : 'moved'} the rest of ${basename(c.path)} to ${to.dir} (an earlier run was stopped while moving it)`);
  return join(to.dir, to.name);
}

/** Moves a candidate (a file and its sidecar, or a set) into `dir`; resolves with its new path (a set's name there). */
async function moveCandidate(c: Candidate, hex: string | undefined, lines: [string, string][] | undefined, dir: string, touch = false): Promise<string> {
  if (c.volumes && c.sidecar && lines) return (await moveSet(basename(c.path), c.volumes.map((v) => v.path), c.sidecar, lines, dir, touch)).base;
  return (await moveBundle(c.path, c.sidecar, hex, dir, touch)).bundle;
}

/** Hashes a bundle that has its checksum file and decides what to do with it (src/import/drop.ts). */
async function check(r: Run, c: Candidate, hex: string | undefined): Promise<Decision> {
  const name = basename(c.path);
  if (!hex) return decide(name, { sidecarHex: undefined, before: c }, r.journal, Date.now(), r.job.settleMs);
  const before = await stat(c.path);
  const hashed = await hashFile(c.path).catch(() => undefined);
  const after = await stat(c.path).catch(() => before);
  return decide(name, { sidecarHex: hex, ...(hashed ? { hashed } : {}), before, after }, r.journal, Date.now(), r.job.settleMs);
}

/**
 * A checksum file alone: its bundle has not arrived yet (waiting), or an earlier run was
 * stopped between moving the bundle and moving its checksum file (the journal has its hash:
 * the move is finished).
 */
async function orphan(r: Run, side: string): Promise<void> {
  const bundle = side.slice(0, -'.sha256'.length);
  const lines = await setLines(bundle);
  if (lines?.some(([n]) => volumeName(n)?.base === basename(bundle))) {
    // A set's checksum file: the volumes have not arrived, or a stopped run moved them all.
    if (await finishMove(r, { path: bundle, size: 0, mtimeMs: 0, sidecar: side, volumes: [] }, lines)) return;
    const why = `its checksum file is there, none of the ${lines.length} volumes it lists is yet`;
    r.out.info(`waiting: ${basename(bundle)}: ${why}`);
    r.reports.push({ ...baseReport(basename(bundle)), status: 'waiting', sha256: null, reason: why });
    return;
  }
  const hex = await readSidecar(bundle);
  if (hex && r.journal.has(hex)) {
    if (r.job.done && !r.dryRun) {
      // Moved already when the bundle was (the copy in done/ names the same hash): only remove it.
      if ((await readSidecar(join(r.job.done, basename(bundle)))) === hex) await rm(side, { force: true });
      else await moveBundle(side, undefined, undefined, r.job.done);
      r.out.info(`moved ${basename(side)} to ${r.job.done} (its bundle was imported by an earlier run)`);
    }
    return;
  }
  const why = 'its checksum file is there, the bundle is not yet';
  r.out.info(`waiting: ${basename(bundle)}: ${why}`);
  r.reports.push({ ...baseReport(basename(bundle)), status: 'waiting', sha256: null, reason: why });
}

/** Moves a rejected bundle to failed/ (when there is one) with `<name>.reason.txt`. */
async function reject(r: Run, c: Candidate, hex: string | undefined, lines: [string, string][] | undefined, why: string, sha256: string | null, err?: FerryError): Promise<void> {
  const name = basename(c.path);
  let movedTo: string | null = null;
  if (r.job.failed && !r.dryRun) {
    movedTo = await moveCandidate(c, hex, lines, r.job.failed);
    const text = `ferry import rejected ${name} on ${new Date().toISOString()}:\n${why}\n${err?.hint ? `hint: ${err.hint}\n` : ''}`;
    await writeFileAtomic(`${movedTo}.reason.txt`, text, { what: 'the reason file' });
  }
  r.out.warn(`${r.dryRun ? 'would reject' : 'rejected'}: ${shown(c)}: ${why}${movedTo ? ` (moved to ${movedTo}, reason in ${basename(movedTo)}.reason.txt)` : ''}`);
  r.reports.push({ ...baseReport(name, c), status: 'rejected', sha256, reason: why, movedTo, ...(err ? { error: errorJson(err) } : {}) });
}

/** One bundle of the run: decide, then import, skip, reject or leave it. */
async function handle(r: Run, c: Candidate): Promise<void> {
  const name = basename(c.path);
  const lines = c.volumes && c.sidecar ? await setLines(c.path) : undefined;
  if (lines && (await finishMove(r, c, lines))) return;
  const hex = c.sidecar && !c.volumes ? await readSidecar(c.path) : undefined;
  const d = c.volumes ? await checkSet(r, c, lines) : await check(r, c, hex);
  if (d.kind === 'waiting') {
    r.out.info(`waiting: ${shown(c)}: ${d.why}`);
    r.reports.push({ ...baseReport(name, c), status: 'waiting', sha256: null, reason: d.why });
    return;
  }
  if (d.kind === 'damaged') return reject(r, c, hex, lines, d.why, null);
  if (d.kind === 'duplicate') {
    const movedTo = r.job.done && !r.dryRun ? await moveCandidate(c, hex, lines, r.job.done) : null;
    r.out.info(`already imported: ${shown(c)} (sha256 ${d.sha256.slice(0, 12)}, as ${d.entry.bundle} on ${d.entry.time})`);
    r.reports.push({ ...baseReport(name, c), status: 'duplicate', sha256: d.sha256, images: d.entry.images, movedTo });
    return;
  }
  if (r.dryRun) {
    r.out.info(`would import: ${shown(c)} (sha256 ${d.sha256.slice(0, 12)}) into ${r.targetName}`);
    r.reports.push({ ...baseReport(name, c), status: 'would-import', sha256: d.sha256 });
    return;
  }
  await r.reachable();
  setInterruptMessage(() => `interrupted while importing ${shown(c)}: it stays in ${dirname(c.path)}; run ferry import again to finish it (what is already in ${r.targetName} is skipped)`);
  let images: JournalImage[];
  try {
    images = await r.importImages(c.path);
  } catch (e) {
    const err = e instanceof FerryError ? e : new FerryError('IO', describe(e), { cause: e });
    if (REJECT.has(err.code)) return reject(r, c, hex, lines, err.message, d.sha256, err);
    r.out.warn(`not imported: ${shown(c)}: ${err.message} (it stays in ${dirname(c.path)}; the next run tries again)`);
    r.reports.push({ ...baseReport(name, c), status: 'error', sha256: d.sha256, reason: err.message, error: errorJson(err) });
    return;
  }
  const entry: JournalEntry = { bundle: name, sha256: d.sha256, bytes: c.size, ...(c.volumes ? { volumes: c.volumes.length } : {}), target: r.targetName, images, time: new Date().toISOString() };
  // Journal first, then the move: a crash between the two leaves a bundle the next run finds
  // in the journal and only moves.
  await appendJournal(r.job.journal, entry);
  r.journal.set(d.sha256, entry);
  const movedTo = r.job.done ? await moveCandidate(c, hex, lines, r.job.done, true) : null;
  r.out.info(`imported ${shown(c)} into ${r.targetName}:`);
  for (const i of images) r.out.info(`  ${i.source} -> ${i.target}${i.target.includes(i.digest) ? '' : ` (${i.digest})`}`);
  r.reports.push({ ...baseReport(name, c), status: 'imported', sha256: d.sha256, images, movedTo });
}

/** The report, the summary line and the exit code (docs/import.md). */
function finish(r: Run, pruned: string[]): number {
  const count = (s: Status): number => r.reports.filter((x) => x.status === s).length;
  const failed = count('rejected') + count('error');
  // A dry run exits as the real run would: what it would import counts as imported.
  const status = runStatus({ imported: count('imported') + count('would-import'), failed });
  r.out.info(`${r.dryRun ? `${count('would-import')} would be imported` : `${count('imported')} imported`}, ${count('duplicate')} already imported, ${count('waiting')} waiting, ${count('rejected')} rejected, ${count('error')} failed`);
  r.out.report({ command: 'import', status, dryRun: r.dryRun, target: r.targetName, journal: r.job.journal, bundles: r.reports, pruned });
  if (status === 'ok') return EXIT.ok;
  const first = r.reports.find((x) => x.status === 'rejected' || x.status === 'error')!;
  const summary = `${failed} of ${r.reports.length - count('waiting')} bundles were not imported (first: ${first.bundle}: ${first.reason})`;
  const hint = 'see the warnings above; rejected bundles are in failed/ with their reasons, the others are tried again by the next run';
  if (status === 'partial') throw new FerryError('PARTIAL', summary, { hint });
  throw new FerryError(first.status === 'rejected' ? 'BUNDLE_FORMAT' : r.job.target.kind === 'docker' ? 'ENGINE' : 'REGISTRY', summary, { hint });
}

/** With a policy, a bundle for an engine is read and judged once before the load (as load --policy). */
async function judgeForLoad(path: string, policy: Policy | undefined, out: Output): Promise<void> {
  if (!policy) return;
  const checked = await verifyArchive(path, false);
  if (checked.problems.length) throw new FerryError('BUNDLE_FORMAT', `${basename(path)} failed its checks:\n  - ${checked.problems.join('\n  - ')}`);
  const verdicts = await judge(policy, checked.interpretation.images.map((i) => i.plan), async (d) => checked.contents.small.get(blobPath(d)), out);
  if (verdicts.some((v) => v.verdict === 'rejected')) throw rejectedError(verdicts, policy, '; nothing of it was imported');
}

export async function runImport(a: ImportArgs): Promise<number> {
  const job = await jobOf(a);
  for (const [key, dir] of [['done', job.done], ['failed', job.failed]] as const) {
    const same = dir !== undefined && (job.drop ? [job.drop] : job.bundles.map((b) => dirname(b))).find((d) => resolve(d) === resolve(dir));
    if (same) throw new UsageError(`${key} (${dir}) is the directory the bundles come from`, `choose another directory for ${key}, e.g. ${join(same, key === 'done' ? 'imported' : 'failed')}`);
  }
  // Loaded (every key read) before the first bundle: a bad policy is exit 2 and moves nothing.
  const policy = job.policy ? await loadPolicy(job.policy) : undefined;
  const dryRun = a['dry-run'];
  const concurrency = concurrencyOption(a.concurrency);
  const pushTarget = job.target.kind === 'registry' ? parsePushTarget(job.target.to, job.target.keepRegistryHost) : undefined;
  const out = makeOutput(a);
  let lock: Lock | undefined;
  if (!dryRun) {
    await checkOutputPath(job.journal, 'the import journal', 'choose another path with `journal:` (or --journal)');
    lock = await acquireLock(`${job.journal}.lock`, `the import journal ${job.journal}`, 0);
  }
  const registries = pushTarget ? makeRegistries(a) : undefined;
  const engine = job.target.kind === 'docker' ? new DockerEngine(job.target.host || undefined) : undefined;
  try {
    const store = pushTarget && !dryRun ? await openStore(a) : undefined;
    let reached: Promise<unknown> | undefined;
    const r: Run = {
      job,
      dryRun,
      out,
      targetName: job.target.kind === 'registry' ? job.target.to : engine!.dockerHost,
      journal: await readJournal(job.journal),
      reports: [],
      // An unreachable target fails the run (exit 1) before the first bundle; every bundle stays.
      reachable: async () => void (await (reached ??= registries ? registries.client(pushTarget!.host).baseUrl() : engine!.ping())),
      importImages: async (path) =>
        registries
          ? pushBundle(path, store!, registries, pushTarget!, concurrency, out, policy)
          : (await judgeForLoad(path, policy, out), (await loadBundle(engine!, path, { force: false }, out)).map((i) => ({ source: i.tags[0] ?? i.id, target: i.tags[0] ?? i.id, digest: i.id }))),
    };
    const found = await candidates(job);
    for (const side of found.orphans) await orphan(r, side);
    for (const c of found.bundles) await handle(r, c);
    setInterruptMessage(() => 'interrupted: every bundle imported so far is in the journal; run ferry import again to go on');
    let pruned: string[] = [];
    if (job.done && job.keepMs !== undefined && !dryRun) {
      pruned = await prune(job.done, job.keepMs, Date.now());
      for (const p of pruned) out.info(`pruned ${p} from ${job.done} (imported longer ago than keep: says)`);
    }
    out.stop();
    return finish(r, pruned);
  } finally {
    out.stop();
    await registries?.close();
    await engine?.close();
    await lock?.release();
  }
}

/** `ferry verify BUNDLE [--deep]`: check a bundle offline. Exit 0 when sound, 1 when not. */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { FerryError, UsageError } from '../errors.js';
import { verifyVolume } from '../bundle/volume-verify.js';
import { findVolumeSet, mismatchedVolumes, readVolumeHeader, setSidecarName, volumeBase } from '../bundle/volume-set.js';
import type { Output } from './output.js';
import { verifyArchive } from '../bundle/verify.js';
import { formatBytes, makeOutput } from './output.js';
import { blobPath } from '../digest/digest.js';
import type { VerifyArgs } from './commands.js';


export async function runVerify(a: VerifyArgs): Promise<number> {
  // Loaded only for --policy: sigstore's modules cost start-up time.
  const policyCheck = a.policy !== undefined ? await import('./policy-check.js') : undefined;
  const policy = a.policy !== undefined ? await policyCheck!.loadPolicy(a.policy) : undefined;
  const out = makeOutput(a);
  // A volume NAME.NNN is checked alone; NAME (or a bundle file) as a whole.
  if (/\.\d{3}$/.test(a.bundle) && (await readVolumeHeader(a.bundle))) {
    if (policy || a.deep) throw new UsageError(`${policy ? '--policy' : '--deep'} checks a whole bundle, not one volume: a layer may span volumes`, `name the set (${basename(volumeBase(a.bundle))}) instead`);
    return verifyOneVolume(a.bundle, out);
  }
  const set = await findVolumeSet(a.bundle).catch(() => undefined);
  const size = set?.size ?? (await stat(a.bundle).catch(() => undefined))?.size;
  if (size !== undefined) out.start('verify', `verifying ${a.bundle}${a.deep ? ' (decompressing every layer)' : ''}`, size);
  let r;
  try {
    r = await verifyArchive(a.bundle, a.deep, (n) => out.progress('verify', n));
    out.done('verify', r.problems.length ? { failed: true } : {});
  } catch (err) {
    // A set that cannot be read: name the volumes that changed since they were written.
    const bad = set && err instanceof FerryError ? await mismatchedVolumes(set) : [];
    if (!bad.length || !(err instanceof FerryError)) throw err;
    const names = bad.map((v) => `volume ${v.header.part} (${basename(v.path)})`).join(', ');
    throw new FerryError(err.code, `${a.bundle}: ${names} ${bad.length === 1 ? 'does' : 'do'} not match ${setSidecarName(set!.base)}: ${err.message}`, {
      cause: err,
      hint: `copy ${bad.map((v) => basename(v.path)).join(', ')} again from the source (the other volumes need not be sent again); \`ferry verify NAME.NNN\` checks one volume alone`,
    });
  } finally {
    out.stop();
  }
  const { checked, problems, interpretation, contents } = r;
  const volumes = set ? `, ${set.volumes.length} volumes` : '';
  const expected = new Set(interpretation.images.flatMap((i) => i.plan.expected ?? [])).size;
  // The signatures' payloads are small blobs the reader kept (and verified).
  const verdicts = policy && !problems.length ? await policyCheck!.judge(policy, interpretation.images.map((i) => i.plan), async (d) => contents.small.get(blobPath(d)), out) : undefined;
  out.report({
    command: 'verify',
    bundle: a.bundle,
    kind: interpretation.kind,
    status: problems.length ? 'failed' : verdicts?.some((v) => v.verdict === 'rejected') ? 'rejected' : 'ok',
    exitCode: problems.length || verdicts?.some((v) => v.verdict === 'rejected') ? 1 : 0,
    images: interpretation.images.map((i) => ({ name: i.name ?? null, digest: i.plan.root.digest })),
    checked,
    problems,
    ...(set ? { volumes: set.volumes.map((v) => v.path) } : {}),
    ...(verdicts ? { policy: verdicts } : {}),
    ...(expected ? { differential: { expected } } : {}),
  });
  if (problems.length) {
    throw new FerryError('BUNDLE_FORMAT', `${a.bundle} failed verification:\n  - ${problems.join('\n  - ')}`, {
      hint: 'copy the bundle again from its source, or save it again',
    });
  }
  if (policy && verdicts!.some((v) => v.verdict === 'rejected')) throw policyCheck!.rejectedError(verdicts!, policy, '');
  out.info(
    `${a.bundle}: ok (${interpretation.kind}${volumes}, ${interpretation.images.length} image${interpretation.images.length === 1 ? '' : 's'}, ${checked.blobs} files, ${formatBytes(checked.bytes)}` +
      `${a.deep ? `, ${checked.layersDeep} layers decompressed` : ''}, sidecar ${checked.sidecar})${expected ? `; differential: ${expected} blob${expected === 1 ? '' : 's'} expected on the target` : ''}`,
  );
  return 0;
}

/** `ferry verify NAME.NNN`: one volume alone (bundle/volume-verify.ts). */
async function verifyOneVolume(path: string, out: Output): Promise<number> {
  const size = (await stat(path).catch(() => undefined))?.size;
  if (size !== undefined) out.start('verify', `verifying ${path}`, size);
  let r;
  try {
    r = (await verifyVolume(path, (n) => out.progress('verify', n)))!;
    out.done('verify', r.problems.length ? { failed: true } : {});
  } finally {
    out.stop();
  }
  const { header, problems, checked } = r;
  const label = `volume ${header.part} (${path})`;
  out.report({
    command: 'verify',
    bundle: path,
    kind: 'volume',
    volume: { set: header.set, part: header.part, split: header.split },
    status: problems.length ? 'failed' : 'ok',
    exitCode: problems.length ? 1 : 0,
    checked,
    problems,
  });
  if (problems.length) {
    throw new FerryError('BUNDLE_FORMAT', `${label} failed verification:\n  - ${problems.join('\n  - ')}`, {
      hint: `copy ${basename(path)} again from its source (the other volumes need not be sent again), then \`ferry verify ${basename(volumeBase(path))}\` checks the set`,
    });
  }
  const notes = [checked.continues ? 'starts inside an entry of the previous volume' : '', checked.spans ? `${checked.spans} goes on in the next volume` : ''].filter(Boolean);
  out.info(
    `${path}: ok (volume ${header.part} of set ${header.set.slice(0, 12)}, ${checked.entries} entries wholly inside checked, ${formatBytes(checked.bytes)}, sidecar ${checked.sidecar})` +
      `${notes.length ? `; ${notes.join(', ')}: checked with the set (\`ferry verify ${basename(volumeBase(path))}\`)` : ''}`,
  );
  return 0;
}

/** `ferry verify BUNDLE [--deep]`: check a bundle offline. Exit 0 when sound, 1 when not. */
import { stat } from 'node:fs/promises';
import { FerryError } from '../errors.js';
import { verifyArchive } from '../bundle/verify.js';
import { formatBytes } from './output.js';
import { makeOutput } from './common.js';
import { blobPath } from '../digest/digest.js';
import { judge, loadPolicy, rejectedError } from './policy-check.js';
import type { VerifyArgs } from './commands.js';


export async function runVerify(a: VerifyArgs): Promise<number> {
  const policy = a.policy !== undefined ? await loadPolicy(a.policy) : undefined;
  const out = makeOutput(a);
  const size = (await stat(a.bundle).catch(() => undefined))?.size;
  if (size !== undefined) out.start('verify', `verifying ${a.bundle}${a.deep ? ' (decompressing every layer)' : ''}`, size);
  let r;
  try {
    r = await verifyArchive(a.bundle, a.deep, (n) => out.progress('verify', n));
    out.done('verify', r.problems.length ? { failed: true } : {});
  } finally {
    out.stop();
  }
  const { checked, problems, interpretation, contents } = r;
  const expected = new Set(interpretation.images.flatMap((i) => i.plan.expected ?? [])).size;
  // The signatures' payloads are small blobs the reader kept (and verified).
  const verdicts = policy && !problems.length ? await judge(policy, interpretation.images.map((i) => i.plan), async (d) => contents.small.get(blobPath(d)), out) : undefined;
  out.report({
    command: 'verify',
    bundle: a.bundle,
    kind: interpretation.kind,
    status: problems.length ? 'failed' : verdicts?.some((v) => v.verdict === 'rejected') ? 'rejected' : 'ok',
    exitCode: problems.length || verdicts?.some((v) => v.verdict === 'rejected') ? 1 : 0,
    images: interpretation.images.map((i) => ({ name: i.name ?? null, digest: i.plan.root.digest })),
    checked,
    problems,
    ...(verdicts ? { policy: verdicts } : {}),
    ...(expected ? { differential: { expected } } : {}),
  });
  if (problems.length) {
    throw new FerryError('BUNDLE_FORMAT', `${a.bundle} failed verification:\n  - ${problems.join('\n  - ')}`, {
      hint: 'copy the bundle again from its source, or save it again',
    });
  }
  if (policy && verdicts!.some((v) => v.verdict === 'rejected')) throw rejectedError(verdicts!, policy, '');
  out.info(
    `${a.bundle}: ok (${interpretation.kind}, ${interpretation.images.length} image${interpretation.images.length === 1 ? '' : 's'}, ${checked.blobs} files, ${formatBytes(checked.bytes)}` +
      `${a.deep ? `, ${checked.layersDeep} layers decompressed` : ''}, sidecar ${checked.sidecar})${expected ? `; differential: ${expected} blob${expected === 1 ? '' : 's'} expected on the target` : ''}`,
  );
  return 0;
}

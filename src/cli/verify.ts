/** `ferry verify BUNDLE [--deep]`: check a bundle offline. Exit 0 when sound, 1 when not. */
import type { Argv } from 'yargs';
import { FerryError } from '../errors.js';
import { verifyArchive } from '../bundle/verify.js';
import { formatBytes } from './output.js';
import { makeOutput, type GlobalArgs } from './common.js';

interface VerifyArgs extends GlobalArgs {
  bundle: string;
  deep: boolean;
}

export function verifyCommand(y: Argv<GlobalArgs>): Argv<VerifyArgs> {
  return y
    .positional('bundle', { type: 'string', demandOption: true, describe: 'bundle or image archive (.tar.gz or .tar)' })
    .option('deep', { type: 'boolean', default: false, describe: "also decompress every layer and check its diff_id" }) as unknown as Argv<VerifyArgs>;
}

export async function runVerify(a: VerifyArgs): Promise<number> {
  const out = makeOutput(a);
  const r = await verifyArchive(a.bundle, a.deep);
  const { checked, problems, interpretation } = r;
  out.report({
    command: 'verify',
    bundle: a.bundle,
    kind: interpretation.kind,
    status: problems.length ? 'failed' : 'ok',
    images: interpretation.images.map((i) => ({ name: i.name ?? null, digest: i.plan.root.digest })),
    checked,
    problems,
  });
  if (problems.length) {
    throw new FerryError('BUNDLE_FORMAT', `${a.bundle} failed verification:\n  - ${problems.join('\n  - ')}`, {
      hint: 'copy the bundle again from its source, or save it again',
    });
  }
  out.info(
    `${a.bundle}: ok (${interpretation.kind}, ${interpretation.images.length} image${interpretation.images.length === 1 ? '' : 's'}, ${checked.blobs} files, ${formatBytes(checked.bytes)}` +
      `${a.deep ? `, ${checked.layersDeep} layers decompressed` : ''}, sidecar ${checked.sidecar})`,
  );
  return 0;
}

/**
 * The floor of `verify`: Node's gunzip and sha256 over the whole file, in one streaming pass
 * (what any verifier of a gzip bundle must do at least). Prints the digest of the decompressed
 * bytes and their count as JSON.
 *
 *   node bench/.build/bench/floor-gunzip-sha256.js FILE
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: floor-gunzip-sha256 FILE\n');
  process.exit(2);
}
const hash = createHash('sha256');
let bytes = 0;
await pipeline(
  createReadStream(file, { highWaterMark: 1 << 20 }),
  createGunzip({ chunkSize: 1 << 20 }),
  new Writable({
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb();
    },
  }),
);
process.stdout.write(`${JSON.stringify({ sha256: hash.digest('hex'), bytes })}\n`);

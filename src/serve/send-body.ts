/**
 * Sends a blob's bytes: the source's chunks go straight to the response, each through the
 * verifier's tap when the blob is not verified yet (verifier.ts), with no stream layers between
 * (no pipeline, no Transform). The chunks a source pushes in one go (the views of one positioned
 * read, stored-runs.ts) are written corked, as one writev; the source is paused while the socket
 * has more queued than its high-water mark, so memory stays one read per client; a chunk the
 * socket has written is handed back to the stored-runs reader (releaseView), which reuses its
 * read buffers instead of allocating one per read. Resolves when
 * the answer is complete, or when the client went away (the access log says so); rejects when
 * the source fails or the tap refuses a chunk (the caller then destroys the response).
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { releaseView } from '../bundle/stored-runs.js';
import type { BlobTap } from './verifier.js';

export function sendBody(src: Readable, res: ServerResponse, tap: BlobTap | undefined, onBytes: (n: number) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let corked = false;
    const done = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      src.removeListener('data', onData);
      if (err !== undefined) {
        src.destroy();
        reject(err);
      } else {
        if (!src.readableEnded) src.destroy();
        resolve();
      }
    };
    const resume = (): void => void src.resume();
    const uncork = (): void => {
      corked = false;
      res.uncork();
      if (!settled && res.writableNeedDrain && !src.isPaused()) {
        src.pause();
        res.once('drain', resume);
      }
    };
    const onData = (chunk: Buffer): void => {
      if (tap) {
        try {
          tap.pass(chunk);
        } catch (err) {
          done(err);
          return;
        }
      }
      if (!corked) {
        corked = true;
        res.cork();
        process.nextTick(uncork);
      }
      onBytes(chunk.length);
      res.write(chunk, (err) => {
        if (!err) releaseView(chunk);
      });
    };
    src.on('data', onData);
    src.once('end', () => {
      try {
        tap?.end();
      } catch (err) {
        done(err);
        return;
      }
      res.end(() => done());
    });
    src.once('error', (err) => {
      tap?.fail(err);
      done(err);
    });
    res.once('close', () => done());
  });
}

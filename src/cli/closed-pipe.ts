/**
 * A reader that stops early (`ferry ls BUNDLE | head -1`) closes the pipe; the next write
 * fails with EPIPE. That is not ferry's failure: further output to that stream is dropped, the
 * command finishes as it would have, and its exit code stands (0 for `ls`). Other stream errors
 * are still thrown.
 */
const tolerant = new WeakSet<NodeJS.WriteStream>();

export function tolerateClosedPipe(stream: NodeJS.WriteStream): void {
  if (tolerant.has(stream)) return;
  tolerant.add(stream);
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
    throw err;
  });
}

/**
 * Free TCP ports on 127.0.0.1 for servers that take a port on the command line (the
 * registry). The port is released before it is returned, so another process could take it in
 * between; callers that spawn a server retry on "address already in use".
 */
import { createServer } from 'node:net';

/** Returns a port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Starts `server` listening on an ephemeral port of `address`; resolves the port. */
export async function listenEphemeral(server: { listen(port: number, host: string, cb: () => void): unknown; once(ev: 'error', fn: (e: Error) => void): unknown; address(): unknown }, address: string, what: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const addr = server.address();
  if (typeof addr !== 'object' || !addr) throw new Error(`${what}: no address`);
  return (addr as { port: number }).port;
}

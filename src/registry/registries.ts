/** One RegistryClient per host for a run, sharing the transport (dispatchers, proxy, CA). */
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
import { RegistryClient } from './client.js';
import { Transport, type TransportOptions } from './transport.js';

export class Registries {
  private readonly clients = new Map<string, RegistryClient>();
  private readonly transport: Transport;

  constructor(opts: TransportOptions = {}, private readonly retry: RetryPolicy = DEFAULT_RETRY) {
    this.transport = new Transport(opts);
  }

  client(host: string): RegistryClient {
    let c = this.clients.get(host);
    if (!c) {
      c = new RegistryClient(host, this.transport, this.retry);
      this.clients.set(host, c);
    }
    return c;
  }

  /** The dispatcher for a non-registry endpoint of the run (Hub's search API): same proxy and CA rules. */
  dispatcher(host: string) {
    return this.transport.dispatcher(host);
  }

  get retryPolicy(): RetryPolicy {
    return this.retry;
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}

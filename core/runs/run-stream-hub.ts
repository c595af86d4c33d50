// The API's side of run streams: one dedicated PostgreSQL connection per API
// process LISTENs on the channels of the runs this process is streaming, and
// hands each notification to the run's subscriber. If that connection drops,
// every subscriber is told its stream may have lost chunks (it then waits for
// the workflow's final result) and the next subscription reconnects.
import pg from 'pg';
import { decodeRunChunk, runStreamChannel, type RunChunk } from './run-stream';

export interface RunStreamListener {
  chunk(chunk: RunChunk): void;
  /** Chunks may have been lost (the listening connection failed). */
  lost(): void;
}

export class RunStreamHub {
  private client: Promise<pg.Client> | null = null;
  private readonly listeners = new Map<string, RunStreamListener>();
  /** LISTEN and UNLISTEN go one at a time: pg queues concurrent queries on one client only under protest (and not from pg 9 on). */
  private commands: Promise<unknown> = Promise.resolve();

  constructor(private readonly databaseUrl: string, private readonly onError: (err: unknown) => void = () => undefined) {}

  /** Listens on the run's channel; resolves once PostgreSQL has registered the LISTEN, so no later chunk is missed. */
  async subscribe(runId: string, listener: RunStreamListener): Promise<() => Promise<void>> {
    const channel = runStreamChannel(runId);
    this.listeners.set(channel, listener);
    try {
      const client = await this.connection();
      await this.command(client, `listen ${channel}`);
    } catch (err) {
      this.listeners.delete(channel);
      throw err;
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      if (this.listeners.get(channel) === listener) this.listeners.delete(channel);
      const client = await this.client?.catch(() => null);
      if (client) await this.command(client, `unlisten ${channel}`).catch(() => undefined);
    };
  }

  private command(client: pg.Client, sql: string): Promise<unknown> {
    const run = this.commands.then(() => client.query(sql));
    this.commands = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    const client = await this.client?.catch(() => null);
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private connection(): Promise<pg.Client> {
    this.client ??= (async () => {
      const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'cmp-run-streams' });
      client.on('notification', (msg) => {
        const listener = this.listeners.get(msg.channel);
        const chunk = msg.payload ? decodeRunChunk(msg.payload) : null;
        if (listener && chunk) listener.chunk(chunk);
      });
      const failed = (err?: unknown) => {
        if (err) this.onError(err);
        this.client = null;
        for (const l of this.listeners.values()) l.lost();
        this.listeners.clear();
      };
      client.on('error', failed);
      client.on('end', () => failed());
      try {
        await client.connect();
      } catch (err) {
        this.client = null;
        throw err;
      }
      return client;
    })();
    return this.client;
  }
}

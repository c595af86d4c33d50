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

/** How long a LISTEN or UNLISTEN may take before the connection is presumed dead. */
const COMMAND_TIMEOUT_MS = 5000;

export class RunStreamHub {
  private client: Promise<pg.Client> | null = null;
  private readonly listeners = new Map<string, RunStreamListener>();
  /** LISTEN and UNLISTEN go one at a time: pg queues concurrent queries on one client only under protest (and not from pg 9 on). */
  private commands: Promise<unknown> = Promise.resolve();
  /** The connection `client` resolves to, set as soon as it is created. */
  private current: pg.Client | null = null;
  /** Connections already given up on. */
  private readonly dead = new WeakSet<pg.Client>();

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
    // pg's query_timeout answers "Query read timeout" and keeps the connection: presume it dead instead.
    run.catch((err: Error) => {
      if (/timeout/i.test(err.message)) this.failed(client, err);
    });
    return run;
  }

  async close(): Promise<void> {
    const client = await this.client?.catch(() => null);
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      connectionString: this.databaseUrl, application_name: 'cmp-run-streams',
      // A half-open socket must not hang every later subscribe: TCP keepalives find a dead peer, and a LISTEN or
      // UNLISTEN without an answer in time gives the connection up (see command()).
      keepAlive: true, query_timeout: COMMAND_TIMEOUT_MS,
    });
    client.on('notification', (msg) => {
      const listener = this.listeners.get(msg.channel);
      const chunk = msg.payload ? decodeRunChunk(msg.payload) : null;
      if (listener && chunk) listener.chunk(chunk);
    });
    client.on('error', (err) => this.failed(client, err));
    client.on('end', () => this.failed(client));
    this.current = client;
    this.client = client.connect().then(
      () => client,
      (err: unknown) => {
        this.failed(client);
        throw err;
      },
    );
    return this.client;
  }

  /**
   * A connection is gone: its subscribers may have lost chunks. Once per connection (pg emits 'error' then 'end'),
   * and only while it is still the current one: a late event of an old connection must not drop a newer connection
   * and its listeners.
   */
  private failed(client: pg.Client, err?: unknown): void {
    if (this.dead.has(client)) return;
    this.dead.add(client);
    if (err) this.onError(err);
    // Closes the socket of a connection given up on while still open (a timed-out command); a no-op once it ended.
    void client.end().catch(() => undefined);
    if (this.current !== client) return;
    this.current = null;
    this.client = null;
    for (const l of this.listeners.values()) l.lost();
    this.listeners.clear();
  }
}

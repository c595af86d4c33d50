// A runtime whose deadline tests can trip: inputs containing '[hang]' go to a
// server that accepts the request and never answers, so the real Langflow
// client's own run timeout must fire; every other call goes to the real runtime.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentRuntime } from '../../core/runtime/agent-runtime';
import { LangflowRuntime } from '../../core/runtime/langflow-runtime';

export interface HangingServer {
  url: string;
  close(): void;
}

export async function startHangingServer(): Promise<HangingServer> {
  const server = http.createServer(() => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

/** `real`, except that runs whose input contains '[hang]' go to `hangUrl` with the same key and deadline. */
export function hangOnDemand(real: AgentRuntime, hangUrl: string, config: { LANGFLOW_API_KEY: string; LANGFLOW_RUN_TIMEOUT_MS: number }): AgentRuntime {
  const hanging = new LangflowRuntime({ url: hangUrl, apiKey: config.LANGFLOW_API_KEY, runTimeoutMs: config.LANGFLOW_RUN_TIMEOUT_MS });
  return {
    health: (o) => real.health(o),
    ensureFlow: (i) => real.ensureFlow(i),
    run: (flow, input, o) => (input.input.includes('[hang]') ? hanging.run(flow, input, o) : real.run(flow, input, o)),
    close: () => hanging.close(),
  };
}

// A local MCP server for the connector tests (Streamable HTTP, stateless, JSON
// answers): an order-lookup tool and an admin tool a binding may exclude. It
// checks a bearer token and records the Authorization headers it received.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export interface TestMcpServer {
  url: string;
  port: number;
  authorizations: string[];
  close(): Promise<void>;
}

function buildServer(): McpServer {
  const server = new McpServer({ name: 'cmp-test-orders', version: '1.0.0' });
  server.registerTool('lookup_order', {
    description: 'Looks up an order by its number',
    inputSchema: { order: z.string() },
  }, async ({ order }) => ({ content: [{ type: 'text', text: `Order ${order}: shipped` }], structuredContent: { order, status: 'shipped' } }));
  server.registerTool('delete_all_orders', { description: 'Dangerous admin tool', inputSchema: {} }, async () => ({ content: [{ type: 'text', text: 'deleted' }] }));
  return server;
}

export async function startMcpServer(opts: { token: string }): Promise<TestMcpServer> {
  const authorizations: string[] = [];
  const httpServer = http.createServer((req, res) => {
    authorizations.push(req.headers.authorization ?? '');
    if (req.headers.authorization !== `Bearer ${opts.token}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'unauthorized' }));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' });
      res.end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const server = buildServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, JSON.parse(Buffer.concat(chunks).toString('utf8')));
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const port = (httpServer.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`, port, authorizations,
    close: () => new Promise((resolve) => {
      httpServer.closeAllConnections();
      httpServer.close(() => resolve());
    }),
  };
}

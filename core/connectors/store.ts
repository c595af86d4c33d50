// Connector bindings and calls in PostgreSQL. Tenant reads filter by org_id;
// the gateway's reads filter by the run token's org and instance. Secrets are
// written to the SecretStore by the caller; rows only know their path and version.
import type { Db } from '../db';
import { conflict, notFound } from '../errors';
import type { ConnectorBinding, ConnectorType, HttpOperation, SecretKind } from './types';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));

const toBinding = (r: Record<string, any>): ConnectorBinding => ({
  id: r.id, orgId: r.org_id, instanceId: r.instance_id, name: r.name, type: r.type, baseUrl: r.base_url,
  operations: r.operations ?? [], mcpTools: r.mcp_tools ?? null,
  secret: { kind: r.secret_kind, header: r.secret_header, path: r.secret_path, version: r.secret_version, rotatedAt: iso(r.secret_rotated_at) },
  pricePerCallMc: r.price_per_call_mc, createdAt: iso(r.created_at), updatedAt: iso(r.updated_at),
});

export interface NewBinding {
  id: string;
  orgId: string;
  instanceId: string;
  name: string;
  type: ConnectorType;
  baseUrl: string;
  operations: HttpOperation[];
  mcpTools: string[] | null;
  secretKind: SecretKind;
  secretHeader: string | null;
  secretPath: string;
  secretVersion: number;
  pricePerCallMc: number;
}

export interface BindingChanges {
  name?: string;
  baseUrl?: string;
  operations?: HttpOperation[];
  mcpTools?: string[] | null;
}

export interface ConnectorCallRecord {
  callId: string;
  bindingId: string;
  orgId: string;
  instanceId: string;
  runId: string | null;
  operation: string;
  status: 'succeeded' | 'failed' | 'refused' | 'rejected';
  upstreamStatus: number | null;
  errorType: string | null;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
  chargedMc: number;
}

export class ConnectorStore {
  constructor(private readonly db: Db) {}

  private live() {
    return this.db('connector_bindings').whereNull('deleted_at');
  }

  async create(b: NewBinding): Promise<ConnectorBinding> {
    try {
      const [row] = await this.db('connector_bindings')
        .insert({
          id: b.id, org_id: b.orgId, instance_id: b.instanceId, name: b.name, type: b.type, base_url: b.baseUrl,
          operations: JSON.stringify(b.operations), mcp_tools: b.mcpTools === null ? null : JSON.stringify(b.mcpTools),
          secret_kind: b.secretKind, secret_header: b.secretHeader, secret_path: b.secretPath, secret_version: b.secretVersion,
          secret_rotated_at: this.db.fn.now(), price_per_call_mc: b.pricePerCallMc,
        })
        .returning('*');
      return toBinding(row);
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw conflict(`This instance already has a connector named ${JSON.stringify(b.name)}`);
      throw err;
    }
  }

  async listForInstance(orgId: string, instanceId: string): Promise<ConnectorBinding[]> {
    return (await this.live().where({ org_id: orgId, instance_id: instanceId }).orderBy('created_at')).map(toBinding);
  }

  /** Tenant read: another org's binding is "not found". */
  async get(orgId: string, id: string): Promise<ConnectorBinding> {
    if (!UUID.test(id)) throw notFound(`Connector ${id}`);
    const row = await this.live().where({ org_id: orgId, id }).first();
    if (!row) throw notFound(`Connector ${id}`);
    return toBinding(row);
  }

  /** The gateway's read: only a binding of the token's own org and instance. */
  async forRun(orgId: string, instanceId: string, id: string): Promise<ConnectorBinding | null> {
    if (!UUID.test(id)) return null;
    const row = await this.live().where({ org_id: orgId, instance_id: instanceId, id }).first();
    return row ? toBinding(row) : null;
  }

  async update(orgId: string, id: string, changes: BindingChanges): Promise<ConnectorBinding> {
    await this.get(orgId, id);
    const patch: Record<string, unknown> = { updated_at: this.db.fn.now() };
    if (changes.name !== undefined) patch.name = changes.name;
    if (changes.baseUrl !== undefined) patch.base_url = changes.baseUrl;
    if (changes.operations !== undefined) patch.operations = JSON.stringify(changes.operations);
    if (changes.mcpTools !== undefined) patch.mcp_tools = changes.mcpTools === null ? null : JSON.stringify(changes.mcpTools);
    try {
      const [row] = await this.live().where({ org_id: orgId, id }).update(patch).returning('*');
      return toBinding(row);
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw conflict(`This instance already has a connector named ${JSON.stringify(changes.name)}`);
      throw err;
    }
  }

  async secretRotated(orgId: string, id: string, version: number): Promise<ConnectorBinding> {
    if (!UUID.test(id)) throw notFound(`Connector ${id}`);
    const [row] = await this.live().where({ org_id: orgId, id }).update({ secret_version: version, secret_rotated_at: this.db.fn.now(), updated_at: this.db.fn.now() }).returning('*');
    if (!row) throw notFound(`Connector ${id}`);
    return toBinding(row);
  }

  async markDeleted(orgId: string, id: string): Promise<ConnectorBinding> {
    if (!UUID.test(id)) throw notFound(`Connector ${id}`);
    const [row] = await this.live().where({ org_id: orgId, id }).update({ deleted_at: this.db.fn.now(), updated_at: this.db.fn.now() }).returning('*');
    if (!row) throw notFound(`Connector ${id}`);
    return toBinding(row);
  }

  /** The call's audit row and an audit_log entry, once per call id (a retried activity writes nothing twice). */
  async recordCall(c: ConnectorCallRecord): Promise<void> {
    await this.db.transaction(async (trx) => {
      const inserted = await trx('connector_calls')
        .insert({
          id: c.callId, binding_id: c.bindingId, org_id: c.orgId, instance_id: c.instanceId, run_id: c.runId, operation: c.operation,
          status: c.status, upstream_status: c.upstreamStatus, error_type: c.errorType, duration_ms: c.durationMs,
          request_bytes: c.requestBytes, response_bytes: c.responseBytes, charged_mc: c.chargedMc,
        })
        .onConflict('id')
        .ignore()
        .returning('id');
      if (inserted.length === 0) return;
      await trx('audit_log').insert({
        org_id: c.orgId, actor: c.runId ? `run:${c.runId}` : `instance:${c.instanceId}`, action: 'connector.call', target_type: 'connector_binding',
        target_id: c.bindingId, reason: null,
        data: JSON.stringify({
          call_id: c.callId, instance_id: c.instanceId, run_id: c.runId, operation: c.operation, status: c.status, upstream_status: c.upstreamStatus,
          error_type: c.errorType, duration_ms: c.durationMs, request_bytes: c.requestBytes, response_bytes: c.responseBytes, charged_mc: c.chargedMc,
        }),
      });
    });
  }

  async calls(orgId: string, bindingId: string, limit = 50): Promise<Array<ConnectorCallRecord & { createdAt: string }>> {
    const rows = await this.db('connector_calls').where({ org_id: orgId, binding_id: bindingId }).orderBy('created_at', 'desc').limit(limit);
    return rows.map((r: Record<string, any>) => ({
      callId: r.id, bindingId: r.binding_id, orgId: r.org_id, instanceId: r.instance_id, runId: r.run_id, operation: r.operation, status: r.status,
      upstreamStatus: r.upstream_status, errorType: r.error_type, durationMs: r.duration_ms, requestBytes: r.request_bytes,
      responseBytes: r.response_bytes, chargedMc: r.charged_mc, createdAt: iso(r.created_at),
    }));
  }
}

// The audit trail: who did what to which thing, and why. Append-only.
import type { Db } from './db';

export interface AuditRecord {
  orgId?: string | null;
  actor: string;
  action: string;
  targetType?: string;
  targetId?: string;
  reason?: string;
  data?: unknown;
}

export interface AuditEntry extends Required<Omit<AuditRecord, 'data'>> {
  id: number;
  data: unknown;
  createdAt: string;
}

export class AuditLog {
  constructor(private readonly db: Db) {}

  async record(r: AuditRecord): Promise<void> {
    await this.db('audit_log').insert({
      org_id: r.orgId ?? null, actor: r.actor, action: r.action, target_type: r.targetType ?? null,
      target_id: r.targetId ?? null, reason: r.reason ?? null, data: JSON.stringify(r.data ?? {}),
    });
  }

  async list(filter: { orgId?: string; targetType?: string; targetId?: string; beforeId?: number; limit: number }): Promise<AuditEntry[]> {
    const rows = await this.db('audit_log')
      .modify((q) => {
        if (filter.orgId) q.where('org_id', filter.orgId);
        if (filter.targetType) q.where('target_type', filter.targetType);
        if (filter.targetId) q.where('target_id', filter.targetId);
        if (filter.beforeId) q.where('id', '<', filter.beforeId);
      })
      .orderBy('id', 'desc')
      .limit(filter.limit);
    return rows.map((r: Record<string, any>) => ({
      id: Number(r.id), orgId: r.org_id, actor: r.actor, action: r.action, targetType: r.target_type, targetId: r.target_id,
      reason: r.reason, data: r.data, createdAt: r.created_at instanceof Date ? r.created_at.toISOString() : String(r.created_at),
    }));
  }
}

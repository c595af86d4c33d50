import { apiClient, data } from '$lib/server/api';
import type { PageServerLoad } from './$types';

const FILTERS = ['needs_attention', 'provisioning', 'failed', 'done', 'all'] as const;

export interface SupportOrderRow {
  order_id: string;
  kind: string;
  status: string;
  org_id: string | null;
  buyer_email: string | null;
  current_step: string | null;
  last_error: { step?: string; type?: string; message?: string } | null;
  temporal_url: string;
  created_at: string;
  updated_at: string;
}

export const load: PageServerLoad = async (event) => {
  event.depends('app:support-orders');
  const requested = event.url.searchParams.get('filter') ?? 'needs_attention';
  const filter = (FILTERS as readonly string[]).includes(requested) ? requested : 'needs_attention';
  const q = event.url.searchParams.get('q')?.trim().slice(0, 200) ?? '';
  const cursor = event.url.searchParams.get('cursor') ?? undefined;
  const page = await data(apiClient(event).GET('/v1/support/orders', {
    params: { query: { filter: filter as (typeof FILTERS)[number], q: q || undefined, cursor, limit: 50 } },
  }));
  // The API documents the rows loosely; the page reads these fields.
  return { ...page, items: page.items as unknown as SupportOrderRow[], filter, q };
};

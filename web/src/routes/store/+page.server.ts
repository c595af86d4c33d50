import { api } from '$lib/server/api';
import type { Offering } from '$lib/types';
import type { PageServerLoad } from './$types';

const SORTS = ['featured', 'popular', 'newest', 'name'] as const;

export const load: PageServerLoad = async (event) => {
  const params = event.url.searchParams;
  const q = params.get('q')?.trim().slice(0, 100) ?? '';
  const category = params.get('category') ?? '';
  const sortParam = params.get('sort') ?? 'featured';
  const sort = (SORTS as readonly string[]).includes(sortParam) ? sortParam : 'featured';
  const cursor = params.get('cursor') ?? undefined;
  const page = await api<{ items: Offering[]; total: number; next_cursor: string | null; categories: { category: string; count: number }[] }>(
    event, '/v1/offerings', { query: { q, category, sort, cursor, limit: 24 }, anonymous: true },
  );
  return { ...page, q, category, sort };
};

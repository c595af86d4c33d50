import { apiClient, data } from '$lib/server/api';
import type { PageServerLoad } from './$types';

const SORTS = ['featured', 'popular', 'newest', 'name'] as const;

export const load: PageServerLoad = async (event) => {
  const params = event.url.searchParams;
  const q = params.get('q')?.trim().slice(0, 100) ?? '';
  const category = params.get('category') ?? '';
  const sortParam = params.get('sort') ?? 'featured';
  const sort = (SORTS as readonly string[]).includes(sortParam) ? sortParam : 'featured';
  const cursor = params.get('cursor') ?? undefined;
  const page = await data(apiClient(event, { anonymous: true }).GET('/v1/offerings', {
    params: { query: { q: q || undefined, category: category || undefined, sort: sort as (typeof SORTS)[number], cursor, limit: 24 } },
  }));
  return { ...page, q, category, sort };
};

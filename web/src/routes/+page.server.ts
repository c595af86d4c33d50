import { apiClient, data } from '$lib/server/api';
import type { Plan } from '$lib/types';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  const page = await data(apiClient(event, { anonymous: true }).GET('/v1/offerings', { params: { query: { sort: 'featured', limit: 6 } } }));
  // The plan ladder shown on the landing page is the featured agent's (every launch agent has the same Free/Plus/Pro ladder).
  const plans: Plan[] = [...(page.items[0]?.plans ?? [])].sort((a, b) => a.price_cents - b.price_cents);
  return { featured: page.items.filter((o) => o.featured).slice(0, 3), total: page.total, plans, tryAgent: page.items.find((o) => o.demo_enabled) ?? null };
};

import { api } from '$lib/server/api';
import type { OfferingDetail } from '$lib/types';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  const offering = await api<OfferingDetail>(event, `/v1/offerings/${encodeURIComponent(event.params.slug)}`, { anonymous: true });
  return { slug: offering.slug, name: offering.name, examples: offering.example_inputs.slice(0, 2), hasKey: /^cmp_live_/.test(event.url.searchParams.get('key') ?? '') };
};

import { apiClient, data } from '$lib/server/api';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  const offering = await data(apiClient(event, { anonymous: true }).GET('/v1/offerings/{slug}', { params: { path: { slug: event.params.slug } } }));
  return { slug: offering.slug, name: offering.name, examples: offering.example_inputs.slice(0, 2), hasKey: /^cmp_live_/.test(event.url.searchParams.get('key') ?? '') };
};

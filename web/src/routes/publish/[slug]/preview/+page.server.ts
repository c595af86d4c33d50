// "View as buyer": the store's own agent page, fed with the listing as it is now
// (drafts included), as an anonymous visitor sees it. Nothing here can be bought.
import { apiClient, data } from '$lib/server/api';
import { publicApiUrl } from '$lib/server/env';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  const admin = await data(apiClient(event).GET('/v1/admin/offerings/{slug}', { params: { path: { slug: event.params.slug } } }));
  // What the public API would answer once published: published versions and plans only.
  const offering = {
    ...admin,
    versions: admin.versions.filter((v) => v.status === 'published'),
    plans: admin.all_plans.filter((p) => p.status === 'published'),
  };
  return { offering, demo: { demo_messages_left: 5, demo_messages_total: 5 }, instances: [], apiUrl: publicApiUrl(), origin: event.url.origin };
};

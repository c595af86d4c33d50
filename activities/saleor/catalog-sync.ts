// Publishing a plan or a credit pack makes it sellable: its product and
// variants are created (or updated) in Saleor, and the variant ids recorded in
// the catalog, so the store never sells what Saleor does not know.
import type { CatalogStore } from '../../core/catalog/store';
import type { SaleorClient } from '../../core/saleor/client';
import { classifyFailures } from '../failures';

export const planSku = (offeringSlug: string, planCode: string) => `cmp-${offeringSlug}-${planCode}`;
export const packSku = (packCode: string) => `cmp-credits-${packCode}`;

export interface CatalogSyncDeps {
  catalog: CatalogStore;
  saleor: SaleorClient;
  /** Saleor ids of the product type and category CMP's products live in. */
  productTypeId: string;
  categoryId: string;
}

export function createCatalogSyncActivities(deps: CatalogSyncDeps) {
  async function syncOfferingToSaleor(input: { offeringId: string }): Promise<{ variants: number }> {
    const offering = await deps.catalog.getById(input.offeringId);
    const paid = (await deps.catalog.plansOf(offering.id)).filter((p) => p.status === 'published' && p.priceCents > 0);
    if (!paid.length) return { variants: 0 };
    const synced = await deps.saleor.syncProduct({
      productType: deps.productTypeId, category: deps.categoryId, name: offering.name, slug: `cmp-${offering.slug}`,
      variants: paid.map((p) => ({ sku: planSku(offering.slug, p.code), name: `${offering.name} — ${p.name}`, priceCents: p.priceCents, currency: p.currency })),
    });
    for (const p of paid) {
      const v = synced.variants.find((x) => x.sku === planSku(offering.slug, p.code));
      if (v) await deps.catalog.setVariantIds('plan', p.id, v.variantId);
    }
    return { variants: synced.variants.length };
  }

  async function syncCreditPacksToSaleor(): Promise<{ variants: number }> {
    const packs = await deps.catalog.listCreditPacks();
    if (!packs.length) return { variants: 0 };
    const synced = await deps.saleor.syncProduct({
      productType: deps.productTypeId, category: deps.categoryId, name: 'CMP credits', slug: 'cmp-credits',
      variants: packs.map((p) => ({ sku: packSku(p.code), name: p.name, priceCents: p.priceCents, currency: p.currency })),
    });
    for (const p of packs) {
      const v = synced.variants.find((x) => x.sku === packSku(p.code));
      if (v) await deps.catalog.setVariantIds('credit_pack', p.id, v.variantId);
    }
    return { variants: synced.variants.length };
  }

  return classifyFailures({ syncOfferingToSaleor, syncCreditPacksToSaleor });
}

export type CatalogSyncActivities = ReturnType<typeof createCatalogSyncActivities>;

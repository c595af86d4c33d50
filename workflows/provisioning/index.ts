export { purchaseToProvision } from './purchase-to-provision';
export { deprovisionInstance, syncCatalogToSaleor, sweepPaidOrders } from './housekeeping-flows';

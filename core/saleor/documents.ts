// Every GraphQL document CMP sends to Saleor, in one place. The unit test
// test/unit/saleor-documents.test.ts validates each one against Saleor's real
// schema (../shared/contracts/saleor/schema.graphql), and the Saleor sandbox
// serves exactly these operations from its own SDL cut out of that schema, so a
// field Saleor does not have fails a test.

const ORDER_FIELDS = /* GraphQL */ `
  fragment CmpOrder on Order {
    id
    number
    status
    isPaid
    chargeStatus
    userEmail
    created
    updatedAt
    total { gross { amount currency } }
    totalRefunded { amount currency }
    metadata { key value }
    lines {
      id
      productVariantId
      productSku
      productName
      variantName
      quantity
      quantityFulfilled
      totalPrice { gross { amount currency } }
    }
    transactions {
      id
      chargedAmount { amount currency }
      refundedAmount { amount currency }
    }
  }
`;

export const CHANNEL_BY_SLUG = /* GraphQL */ `
  query CmpChannelBySlug($slug: String!) {
    channel(slug: $slug) { id slug currencyCode }
  }
`;

export const PRODUCT_BY_SLUG = /* GraphQL */ `
  query CmpProductBySlug($slug: String!, $channel: String) {
    product(slug: $slug, channel: $channel) {
      id
      slug
      name
      productVariants(first: 100) {
        edges { node { id sku name } }
      }
    }
  }
`;

export const PRODUCT_CREATE = /* GraphQL */ `
  mutation CmpProductCreate($input: ProductCreateInput!) {
    productCreate(input: $input) {
      product { id slug }
      errors { field message code }
    }
  }
`;

export const PRODUCT_CHANNEL_LISTING_UPDATE = /* GraphQL */ `
  mutation CmpProductChannelListingUpdate($id: ID!, $input: ProductChannelListingUpdateInput!) {
    productChannelListingUpdate(id: $id, input: $input) {
      product { id }
      errors { field message code }
    }
  }
`;

export const PRODUCT_VARIANT_BULK_CREATE = /* GraphQL */ `
  mutation CmpProductVariantBulkCreate($product: ID!, $variants: [ProductVariantBulkCreateInput!]!) {
    productVariantBulkCreate(product: $product, variants: $variants, errorPolicy: REJECT_EVERYTHING) {
      results {
        productVariant { id sku }
        errors { field message code }
      }
      errors { field message code index }
    }
  }
`;

export const PRODUCT_VARIANT_CHANNEL_LISTING_UPDATE = /* GraphQL */ `
  mutation CmpProductVariantChannelListingUpdate($sku: String!, $input: [ProductVariantChannelListingAddInput!]!) {
    productVariantChannelListingUpdate(sku: $sku, input: $input) {
      variant { id sku }
      errors { field message code }
    }
  }
`;

export const CHECKOUT_CREATE = /* GraphQL */ `
  mutation CmpCheckoutCreate($input: CheckoutCreateInput!) {
    checkoutCreate(input: $input) {
      checkout {
        id
        totalPrice { gross { amount currency } }
      }
      errors { field message code }
    }
  }
`;

export const TRANSACTION_INITIALIZE = /* GraphQL */ `
  mutation CmpTransactionInitialize($id: ID!, $paymentGateway: PaymentGatewayToInitialize!, $amount: PositiveDecimal, $idempotencyKey: String) {
    transactionInitialize(id: $id, paymentGateway: $paymentGateway, amount: $amount, action: CHARGE, idempotencyKey: $idempotencyKey) {
      transaction { id }
      transactionEvent { type externalUrl message pspReference }
      data
      errors { field message code }
    }
  }
`;

export const CHECKOUT_COMPLETE = /* GraphQL */ `
  mutation CmpCheckoutComplete($id: ID!) {
    checkoutComplete(id: $id) {
      order { id number }
      errors { field message code }
    }
  }
`;

export const ORDER_BY_ID = /* GraphQL */ `
  query CmpOrderById($id: ID!) {
    order(id: $id) { ...CmpOrder }
  }
  ${ORDER_FIELDS}
`;

/** Orders whose charge is complete and that changed since a moment: the lost-webhook sweep. */
export const PAID_ORDERS_SINCE = /* GraphQL */ `
  query CmpPaidOrdersSince($since: DateTime!, $first: Int!, $after: String) {
    orders(
      first: $first
      after: $after
      where: { chargeStatus: { oneOf: [FULL, OVERCHARGED] }, updatedAt: { gte: $since } }
      sortBy: { field: LAST_MODIFIED_AT, direction: ASC }
    ) {
      pageInfo { hasNextPage endCursor }
      edges { node { ...CmpOrder } }
    }
  }
  ${ORDER_FIELDS}
`;

export const ORDER_FULFILL = /* GraphQL */ `
  mutation CmpOrderFulfill($order: ID!, $input: OrderFulfillInput!) {
    orderFulfill(order: $order, input: $input) {
      order { id status }
      errors { field message code }
    }
  }
`;

export const UPDATE_METADATA = /* GraphQL */ `
  mutation CmpUpdateMetadata($id: ID!, $input: [MetadataInput!]!) {
    updateMetadata(id: $id, input: $input) {
      item { metadata { key value } }
      errors { field message code }
    }
  }
`;

/** What a refund needs to know first: the charged transaction and the refunds already granted (the retry guard). */
export const ORDER_REFUND_STATE = /* GraphQL */ `
  query CmpOrderRefundState($id: ID!) {
    order(id: $id) {
      id
      total { gross { currency } }
      transactions {
        id
        chargedAmount { amount }
        refundedAmount { amount }
      }
      grantedRefunds {
        id
        reason
        status
        amount { amount currency }
      }
    }
  }
`;

export const ORDER_GRANT_REFUND_CREATE = /* GraphQL */ `
  mutation CmpOrderGrantRefundCreate($id: ID!, $input: OrderGrantRefundCreateInput!) {
    orderGrantRefundCreate(id: $id, input: $input) {
      grantedRefund { id status amount { amount currency } }
      errors { field message code }
    }
  }
`;

export const TRANSACTION_REQUEST_REFUND_FOR_GRANTED_REFUND = /* GraphQL */ `
  mutation CmpTransactionRequestRefundForGrantedRefund($grantedRefundId: ID!) {
    transactionRequestRefundForGrantedRefund(grantedRefundId: $grantedRefundId) {
      transaction { id refundedAmount { amount currency } }
      errors { field message code }
    }
  }
`;

/**
 * The subscription query registered with the ORDER_FULLY_PAID webhook in
 * Saleor (Dashboard → Apps → webhook → payload). Saleor sends the `event`
 * object's fields as the webhook body: `{ "order": { … } }`.
 */
export const ORDER_FULLY_PAID_SUBSCRIPTION = /* GraphQL */ `
  subscription CmpOrderFullyPaid {
    event {
      ... on OrderFullyPaid {
        order {
          id
          number
          userEmail
          created
          metadata { key value }
          lines {
            id
            productVariantId
            productSku
            productName
            quantity
          }
          total { gross { amount currency } }
        }
      }
    }
  }
`;

/** Every operation document, by name: the unit test walks this list. */
export const saleorDocuments = {
  CHANNEL_BY_SLUG,
  PRODUCT_BY_SLUG,
  PRODUCT_CREATE,
  PRODUCT_CHANNEL_LISTING_UPDATE,
  PRODUCT_VARIANT_BULK_CREATE,
  PRODUCT_VARIANT_CHANNEL_LISTING_UPDATE,
  CHECKOUT_CREATE,
  TRANSACTION_INITIALIZE,
  CHECKOUT_COMPLETE,
  ORDER_BY_ID,
  PAID_ORDERS_SINCE,
  ORDER_FULFILL,
  UPDATE_METADATA,
  ORDER_REFUND_STATE,
  ORDER_GRANT_REFUND_CREATE,
  TRANSACTION_REQUEST_REFUND_FOR_GRANTED_REFUND,
  ORDER_FULLY_PAID_SUBSCRIPTION,
} as const;

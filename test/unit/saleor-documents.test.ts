// Every GraphQL document CMP sends to Saleor must be valid against Saleor's
// real schema (../shared/contracts/saleor/schema.graphql, Saleor 3.23).
import { describe, expect, it } from 'vitest';
import { parse, validate } from 'graphql';
import * as documents from '../../core/saleor/documents';
import { saleorDocuments } from '../../core/saleor/documents';
import { realSaleorSchema } from '../support/shared-contracts';

const schema = realSaleorSchema('every GraphQL document CMP sends to Saleor is validated against it');

describe('Saleor GraphQL documents', () => {
  it('lists every exported document', () => {
    const exported = Object.entries(documents).filter(([, v]) => typeof v === 'string').map(([k]) => k).sort();
    expect(Object.keys(saleorDocuments).sort()).toEqual(exported);
  });

  for (const [name, text] of Object.entries(saleorDocuments)) {
    it(`${name} is valid against Saleor's schema`, () => {
      const errors = validate(schema, parse(text)).map((e) => e.message);
      expect(errors).toEqual([]);
    });
  }

  it('the webhook subscription selects OrderFullyPaid with the order and its lines', () => {
    const doc = parse(documents.ORDER_FULLY_PAID_SUBSCRIPTION);
    expect(doc.definitions[0]).toMatchObject({ operation: 'subscription' });
    expect(documents.ORDER_FULLY_PAID_SUBSCRIPTION).toMatch(/on OrderFullyPaid\s*{\s*order\s*{/);
  });

  it('rejects a field Saleor does not have (the check can fail)', () => {
    const bad = documents.ORDER_BY_ID.replace('userEmail', 'userEmail buyerOrgId');
    expect(validate(schema, parse(bad)).map((e) => e.message)).toEqual(['Cannot query field "buyerOrgId" on type "Order".']);
  });

  it('rejects an argument of the wrong type', () => {
    const bad = 'query { orders(first: "ten") { edges { node { id } } } }';
    expect(validate(schema, parse(bad))).not.toHaveLength(0);
  });
});

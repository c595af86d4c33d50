// The Saleor sandbox serves its own SDL (deploy/local/saleor-sandbox/schema.graphql).
// It is what test/support/saleor-schema-subset.ts cuts out of Saleor's real
// schema, and must stay a faithful subset of it: every type, field and argument
// it declares exists in Saleor with the same type, nothing Saleor requires is
// left out, and every document CMP sends is valid against it.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isRequiredArgument,
  isRequiredInputField,
  isUnionType,
  parse,
  validate,
  type GraphQLSchema,
} from 'graphql';
import { saleorDocuments } from '../../core/saleor/documents';
import { loadSandboxSchema, sandboxSchemaPath } from '../../deploy/local/saleor-sandbox/schema';
import { printSandboxSchema } from '../support/saleor-schema-subset';
import { realSaleorSchema } from '../support/shared-contracts';

/** Where `subset` differs from `real`, one line each; empty when it is a faithful subset. */
function incompatibilities(subset: GraphQLSchema, real: GraphQLSchema): string[] {
  const out: string[] = [];
  for (const root of ['getQueryType', 'getMutationType', 'getSubscriptionType'] as const) {
    const mine = subset[root]();
    if (mine && mine.name !== real[root]()?.name) out.push(`${root}: ${mine.name} is not Saleor's`);
  }
  for (const type of Object.values(subset.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    const theirs = real.getType(type.name);
    if (!theirs) {
      out.push(`type ${type.name}: not in Saleor`);
      continue;
    }
    if (type.constructor !== theirs.constructor) {
      out.push(`type ${type.name}: a ${type.constructor.name} here, a ${theirs.constructor.name} in Saleor`);
      continue;
    }
    if ((isObjectType(type) || isInterfaceType(type)) && (isObjectType(theirs) || isInterfaceType(theirs))) {
      const theirFields = theirs.getFields();
      for (const i of type.getInterfaces()) {
        if (!theirs.getInterfaces().some((t) => t.name === i.name)) out.push(`${type.name}: does not implement ${i.name} in Saleor`);
      }
      for (const field of Object.values(type.getFields())) {
        const t = theirFields[field.name];
        if (!t) {
          out.push(`${type.name}.${field.name}: not in Saleor`);
          continue;
        }
        if (String(field.type) !== String(t.type)) out.push(`${type.name}.${field.name}: ${String(field.type)} here, ${String(t.type)} in Saleor`);
        for (const arg of field.args) {
          const ta = t.args.find((a) => a.name === arg.name);
          if (!ta) out.push(`${type.name}.${field.name}(${arg.name}): not in Saleor`);
          else if (String(arg.type) !== String(ta.type)) out.push(`${type.name}.${field.name}(${arg.name}): ${String(arg.type)} here, ${String(ta.type)} in Saleor`);
        }
        for (const ta of t.args.filter(isRequiredArgument)) {
          if (!field.args.some((a) => a.name === ta.name)) out.push(`${type.name}.${field.name}(${ta.name}): required in Saleor, missing here`);
        }
      }
    } else if (isInputObjectType(type) && isInputObjectType(theirs)) {
      const theirFields = theirs.getFields();
      for (const field of Object.values(type.getFields())) {
        const t = theirFields[field.name];
        if (!t) out.push(`${type.name}.${field.name}: not in Saleor`);
        else if (String(field.type) !== String(t.type)) out.push(`${type.name}.${field.name}: ${String(field.type)} here, ${String(t.type)} in Saleor`);
      }
      for (const t of Object.values(theirFields).filter(isRequiredInputField)) {
        if (!type.getFields()[t.name]) out.push(`${type.name}.${t.name}: required in Saleor, missing here`);
      }
    } else if (isEnumType(type) && isEnumType(theirs)) {
      for (const v of type.getValues()) if (!theirs.getValue(v.name)) out.push(`${type.name}.${v.name}: not in Saleor`);
    } else if (isUnionType(type) && isUnionType(theirs)) {
      for (const m of type.getTypes()) if (!theirs.getTypes().some((t) => t.name === m.name)) out.push(`${type.name}: ${m.name} is not a member in Saleor`);
    }
  }
  return out;
}

describe("the Saleor sandbox's schema", () => {
  const real = realSaleorSchema("the sandbox's SDL is checked against Saleor's real schema");
  const sandbox = loadSandboxSchema();

  it('is what the generator prints from the real schema (npx tsx test/support/saleor-schema-subset.ts after changing a document)', () => {
    expect(fs.readFileSync(sandboxSchemaPath, 'utf8')).toBe(printSandboxSchema(real));
  });

  it('declares only types, fields and arguments Saleor has, with the same types', () => {
    expect(incompatibilities(sandbox, real)).toEqual([]);
  });

  it('serves every document CMP sends', () => {
    for (const [name, text] of Object.entries(saleorDocuments)) {
      expect([name, validate(sandbox, parse(text)).map((e) => e.message)]).toEqual([name, []]);
    }
  });

  it('the check finds a retyped field, an invented field, a dropped required argument and an invented enum value', () => {
    const sdl = fs.readFileSync(sandboxSchemaPath, 'utf8');
    const tampered = buildSchema(
      sdl
        .replace(/(type Order implements [^{]*\{[^}]*?\n {2}number: )String!/, '$1Int!\n  buyerOrgId: ID')
        .replace('productCreate(input: ProductCreateInput!): ProductCreate', 'productCreate: ProductCreate')
        .replace(/enum OrderStatus \{/, 'enum OrderStatus {\n  PARKED'),
    );
    expect(incompatibilities(tampered, real).sort()).toEqual([
      'Mutation.productCreate(input): required in Saleor, missing here',
      'Order.buyerOrgId: not in Saleor',
      'Order.number: Int! here, String! in Saleor',
      'OrderStatus.PARKED: not in Saleor',
    ]);
  });
});

// Cuts the Saleor sandbox's SDL out of Saleor's real schema: the root fields,
// types, fields and arguments CMP's documents use (core/saleor/documents.ts);
// of each input type its required fields and the ones CMP sends (written in a
// document, or in the variables: SANDBOX_SUBSET_OPTIONS.inputFields); enums
// whole; nothing renamed or retyped. Run it
// after changing a document:
//   npx tsx test/support/saleor-schema-subset.ts
// (it reads ../shared/contracts/saleor/schema.graphql; the sandbox reads only
// the file this writes, deploy/local/saleor-sandbox/schema.graphql).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLSchema,
  GraphQLUnionType,
  TypeInfo,
  assertValidSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isRequiredArgument,
  isRequiredInputField,
  isScalarType,
  isSpecifiedScalarType,
  isUnionType,
  parse,
  printSchema,
  visit,
  visitWithTypeInfo,
  type GraphQLArgumentConfig,
  type GraphQLFieldConfig,
  type GraphQLInputFieldConfig,
  type GraphQLNamedType,
  type GraphQLType,
} from 'graphql';
import { saleorDocuments } from '../../core/saleor/documents';
import { sandboxSchemaPath } from '../../deploy/local/saleor-sandbox/schema';
import { realSaleorSchema } from './shared-contracts';

export interface SubsetOptions {
  /** Fields the sandbox serves beyond the documents' selections (the webhook event's `issuedAt`, …). */
  extraFields?: Record<string, string[]>;
  /** The concrete types the sandbox answers for an abstract type (`updateMetadata.item` is an Order, a Checkout or a Product). */
  possibleTypes?: Record<string, string[]>;
  /**
   * The input fields CMP sends in variables (core/saleor/client.ts), which the documents cannot show. An input type
   * keeps its required fields, these, and the fields the documents write literally; the rest (translations, the
   * ~30 filters the sandbox ignores) stay out.
   */
  inputFields?: Record<string, string[]>;
}

/** What the sandbox serves beyond the documents' selections. */
export const SANDBOX_SUBSET_OPTIONS: SubsetOptions = {
  extraFields: { Event: ['issuedAt', 'version'] },
  possibleTypes: { ObjectWithMetadata: ['Order', 'Checkout', 'Product'], Event: ['OrderFullyPaid'] },
  inputFields: {
    ProductCreateInput: ['productType', 'category', 'name', 'slug'],
    ProductChannelListingUpdateInput: ['updateChannels'],
    ProductChannelListingAddInput: ['channelId', 'isPublished', 'visibleInListings', 'isAvailableForPurchase'],
    ProductVariantBulkCreateInput: ['sku', 'name', 'attributes', 'trackInventory', 'stocks', 'channelListings'],
    // CMP sends `attributes: []`; GraphQL wants an input type to have a field, so the attribute's id stays.
    BulkAttributeValueInput: ['id'],
    StockInput: ['warehouse', 'quantity'],
    ProductVariantChannelListingAddInput: ['channelId', 'price'],
    CheckoutCreateInput: ['channel', 'email', 'lines', 'metadata'],
    CheckoutLineInput: ['variantId', 'quantity'],
    MetadataInput: ['key', 'value'],
    PaymentGatewayToInitialize: ['id'],
    OrderFulfillInput: ['notifyCustomer', 'allowStockToBeExceeded', 'lines'],
    OrderFulfillLineInput: ['orderLineId', 'stocks'],
    OrderFulfillStockInput: ['quantity', 'warehouse'],
    OrderGrantRefundCreateInput: ['amount', 'reason', 'transactionId'],
  },
};

/** The schema that serves exactly these documents, cut out of the real one. */
export function saleorSchemaSubset(real: GraphQLSchema, documents: string[], opts: SubsetOptions = {}): GraphQLSchema {
  // Output types: the fields used on each; fields: the arguments used on each.
  const fields = new Map<string, Set<string>>();
  const args = new Map<string, Set<string>>();
  const named = new Set<string>();
  // Input types: the fields sent (literally in a document, or listed in opts.inputFields).
  const inputFields = new Map(Object.entries(opts.inputFields ?? {}).map(([type, list]) => [type, new Set(list)]));
  const useInputField = (type: string, field: string) => {
    if (!inputFields.has(type)) inputFields.set(type, new Set());
    inputFields.get(type)!.add(field);
  };
  const useField = (type: string, field: string) => {
    if (!fields.has(type)) fields.set(type, new Set());
    fields.get(type)!.add(field);
  };

  const typeInfo = new TypeInfo(real);
  for (const text of documents) {
    visit(
      parse(text),
      visitWithTypeInfo(typeInfo, {
        Field(node) {
          const parent = typeInfo.getParentType();
          const def = typeInfo.getFieldDef();
          if (!parent || !def || node.name.value.startsWith('__')) return;
          useField(parent.name, def.name);
          named.add(parent.name);
          named.add(getNamedType(def.type).name);
          const key = `${parent.name}.${def.name}`;
          if (!args.has(key)) args.set(key, new Set());
          for (const a of node.arguments ?? []) args.get(key)!.add(a.name.value);
        },
        InlineFragment(node) {
          if (node.typeCondition) named.add(node.typeCondition.name.value);
        },
        FragmentDefinition(node) {
          named.add(node.typeCondition.name.value);
        },
        VariableDefinition() {
          const t = typeInfo.getInputType();
          if (t) named.add(getNamedType(t).name);
        },
        ObjectField(node) {
          const parent = typeInfo.getParentInputType();
          if (parent) useInputField(getNamedType(parent).name, node.name.value);
        },
      }),
    );
  }
  for (const [type, extra] of Object.entries(opts.extraFields ?? {})) {
    named.add(type);
    for (const f of extra) useField(type, f);
  }
  for (const [abstract, concrete] of Object.entries(opts.possibleTypes ?? {})) {
    if (!named.has(abstract)) continue;
    for (const c of concrete) named.add(c);
  }
  // A concrete type implements the kept interfaces it implements in Saleor, so it carries their fields.
  const realType = (name: string) => {
    const t = real.getType(name);
    if (!t) throw new Error(`Saleor's schema has no type ${name}`);
    return t;
  };
  for (const name of [...named]) {
    const t = realType(name);
    if (!isObjectType(t) && !isInterfaceType(t)) continue;
    for (const i of t.getInterfaces()) {
      if (!named.has(i.name)) continue;
      for (const f of fields.get(i.name) ?? []) useField(name, f);
    }
  }

  // An input type's kept fields: the required ones and the ones sent.
  const keptInputFields = (t: GraphQLInputObjectType) => {
    const all = t.getFields();
    for (const f of inputFields.get(t.name) ?? []) if (!all[f]) throw new Error(`Saleor's ${t.name} has no input field ${f}`);
    return Object.values(all).filter((f) => isRequiredInputField(f) || inputFields.get(t.name)?.has(f.name));
  };

  // Argument and field types, and the types of the kept input fields, closed over.
  const pending = [...named];
  const addType = (t: GraphQLType) => {
    const n = getNamedType(t).name;
    if (!named.has(n)) {
      named.add(n);
      pending.push(n);
    }
  };
  for (const [name, used] of fields) {
    const t = realType(name);
    if (!isObjectType(t) && !isInterfaceType(t)) continue;
    for (const f of used) {
      const def = t.getFields()[f];
      if (!def) throw new Error(`Saleor's ${name} has no field ${f}`);
      addType(def.type);
      const usedArgs = args.get(`${name}.${f}`) ?? new Set();
      for (const a of def.args) if (usedArgs.has(a.name) || isRequiredArgument(a)) addType(a.type);
    }
  }
  while (pending.length) {
    const t = realType(pending.pop()!);
    if (isInputObjectType(t)) for (const f of keptInputFields(t)) addType(f.type);
  }

  const built = new Map<string, GraphQLNamedType>();
  const ref = <T extends GraphQLType>(t: T): T => {
    if (isNonNullType(t)) return new GraphQLNonNull(ref(t.ofType)) as unknown as T;
    if (isListType(t)) return new GraphQLList(ref(t.ofType)) as unknown as T;
    return build((t as GraphQLNamedType).name) as unknown as T;
  };
  const build = (name: string): GraphQLNamedType => {
    const cached = built.get(name);
    if (cached) return cached;
    const t = realType(name);
    let copy: GraphQLNamedType;
    if (isScalarType(t)) {
      copy = isSpecifiedScalarType(t) ? t : new GraphQLScalarType({ name, description: t.description, specifiedByURL: t.specifiedByURL });
    } else if (isEnumType(t)) {
      copy = new GraphQLEnumType({
        name,
        values: Object.fromEntries(t.getValues().map((v) => [v.name, { deprecationReason: v.deprecationReason }])),
      });
    } else if (isInputObjectType(t)) {
      copy = new GraphQLInputObjectType({
        name,
        isOneOf: t.isOneOf,
        fields: () =>
          Object.fromEntries(
            keptInputFields(t).map((f): [string, GraphQLInputFieldConfig] => [
              f.name,
              { type: ref(f.type), defaultValue: f.defaultValue, deprecationReason: f.deprecationReason },
            ]),
          ),
      });
    } else if (isUnionType(t)) {
      copy = new GraphQLUnionType({ name, types: () => t.getTypes().filter((m) => named.has(m.name)).map((m) => build(m.name) as GraphQLObjectType) });
    } else {
      const outputFields = () =>
        Object.fromEntries(
          [...(fields.get(name) ?? [])].map((f): [string, GraphQLFieldConfig<unknown, unknown>] => {
            const def = t.getFields()[f]!;
            const usedArgs = args.get(`${name}.${f}`) ?? new Set();
            const argConfigs = def.args
              .filter((a) => usedArgs.has(a.name) || isRequiredArgument(a))
              .map((a): [string, GraphQLArgumentConfig] => [a.name, { type: ref(a.type), defaultValue: a.defaultValue, deprecationReason: a.deprecationReason }]);
            return [f, { type: ref(def.type), args: Object.fromEntries(argConfigs), deprecationReason: def.deprecationReason }];
          }),
        );
      const interfaces = () => t.getInterfaces().filter((i) => named.has(i.name)).map((i) => build(i.name) as GraphQLInterfaceType);
      copy = isObjectType(t) ? new GraphQLObjectType({ name, fields: outputFields, interfaces }) : new GraphQLInterfaceType({ name, fields: outputFields, interfaces });
    }
    built.set(name, copy);
    return copy;
  };

  const root = (t: GraphQLObjectType | null | undefined) => (t && named.has(t.name) ? (build(t.name) as GraphQLObjectType) : undefined);
  const schema = new GraphQLSchema({
    query: root(real.getQueryType()),
    mutation: root(real.getMutationType()),
    subscription: root(real.getSubscriptionType()),
    types: [...named].sort().map(build),
  });
  assertValidSchema(schema);
  return schema;
}

const HEADER = `# The Saleor sandbox's schema: the subset of Saleor 3.23's real schema that
# the sandbox serves (the types, fields and arguments of core/saleor/documents.ts;
# of input types the required fields and those CMP sends), copied from Saleor's
# schema.graphql without descriptions. Generated by
#   npx tsx test/support/saleor-schema-subset.ts
# test/unit/saleor-sandbox-schema.test.ts checks it is this output and a subset of the real schema.
`;

export function printSandboxSchema(real: GraphQLSchema): string {
  return `${HEADER}\n${printSchema(saleorSchemaSubset(real, Object.values(saleorDocuments), SANDBOX_SUBSET_OPTIONS))}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  fs.writeFileSync(sandboxSchemaPath, printSandboxSchema(realSaleorSchema('the sandbox schema is cut out of it')));
  console.log(`wrote ${path.relative(process.cwd(), sandboxSchemaPath)}`);
}

// Search attributes operators filter by in the Temporal UI. Registered by the
// dev server's start (deploy/local/stack.ts) and by the test environment.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const CmpOrderId = defineSearchAttributeKey('CmpOrderId', SearchAttributeType.KEYWORD);
export const CmpOrgId = defineSearchAttributeKey('CmpOrgId', SearchAttributeType.KEYWORD);
export const CmpInstanceId = defineSearchAttributeKey('CmpInstanceId', SearchAttributeType.KEYWORD);
export const CmpStatus = defineSearchAttributeKey('CmpStatus', SearchAttributeType.KEYWORD);

export const allSearchAttributes = [CmpOrderId, CmpOrgId, CmpInstanceId, CmpStatus];

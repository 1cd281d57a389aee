import type { PolicyRecord, PolicyVersionContent, PolicyVersionRecord } from './policy.repository.js';
import { POLICY_NAME, v } from '../common/validation.js';

export const VERSION_PARAM = v.intString({ min: 1, max: 2_147_483_647 });
export const POLICY_NAME_PARAM = POLICY_NAME;
export const MESSAGE_PARAM = v.string({ max: 2_000 });

/** Content types a policy document may be sent as. */
export const POLICY_CONTENT_TYPES = ['application/yaml', 'application/json', 'text/yaml', 'text/plain'];

export const POLICY_DOCUMENT_EXAMPLE = `apiVersion: thp.fleet/v1
kind: ThpPolicy
metadata: { name: zgc-only, description: "THP for ZGC services, nothing else" }
spec:
  default: { action: deny }
  rules:
    - name: zgc
      match: { cgroups: ["/kubepods.slice/**/zgc-*"] }
      allow: { orders: [9] }
`;

export function policyView(policy: PolicyRecord): Record<string, unknown> {
  return {
    name: policy.name,
    description: policy.description,
    latestVersion: policy.latestVersion,
    createdAt: policy.createdAt.toISOString(),
    createdBy: policy.createdBy,
    updatedAt: policy.updatedAt.toISOString(),
  };
}

export function versionView(version: PolicyVersionRecord): Record<string, unknown> {
  return {
    policy: version.policy,
    version: version.version,
    specHash: version.specHash,
    message: version.message,
    author: version.author,
    createdAt: version.createdAt.toISOString(),
  };
}

export function versionDetailView(version: PolicyVersionContent): Record<string, unknown> {
  return {
    ...versionView(version),
    sourceFormat: version.sourceFormat,
    source: version.source,
    canonical: version.canonical,
    spec: JSON.parse(version.canonical) as unknown,
  };
}

export const ETag = {
  policy: (latestVersion: number): string => `"v${latestVersion}"`,
  assignment: (revision: number): string => `"rev-${revision}"`,
};

// OpenAPI response shapes (documentation only).
export const POLICY_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    latestVersion: { type: 'integer' },
    createdAt: { type: 'string', format: 'date-time' },
    createdBy: { type: 'string' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};

export const VERSION_SCHEMA = {
  type: 'object',
  properties: {
    policy: { type: 'string' },
    version: { type: 'integer' },
    specHash: { type: 'string', description: 'sha256 of the canonical JSON, lowercase hex' },
    message: { type: 'string' },
    author: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
  },
};

export const ISSUE_SCHEMA = {
  type: 'object',
  properties: {
    path: { type: 'string', example: 'spec.rules[1].allow.orders[0]' },
    message: { type: 'string' },
    severity: { type: 'string', enum: ['error', 'warning'] },
    line: { type: 'integer' },
    column: { type: 'integer' },
  },
};

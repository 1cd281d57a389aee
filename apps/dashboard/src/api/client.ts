/**
 * A typed client of the controller's REST API (`/api/v1`). One method per route the dashboard
 * uses; every non-2xx answer becomes an `ApiError` carrying the controller's error code,
 * message and details (path, message, line, column), so forms can show them where they belong.
 */
import type {
  AuditPage,
  GateView,
  AuditVerification,
  DiffChange,
  NodeList,
  NodeMetrics,
  NodeView,
  PolicyIssueView,
  PolicySummary,
  PolicyVersionDetail,
  PolicyVersionSummary,
  PolicyWrite,
  QuarantineEntry,
  RolloutDetail,
  RolloutView,
  WhoAmI,
} from './types.js';

export interface ErrorDetail {
  readonly path: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly ErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** Network failures (no HTTP answer at all) have status 0. */
  get unreachable(): boolean {
    return this.status === 0;
  }
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export interface RequestOptions {
  readonly method?: string;
  readonly json?: unknown;
  readonly text?: { readonly body: string; readonly contentType: string };
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

function query(params: Readonly<Record<string, string | number | boolean | undefined>>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

const enc = encodeURIComponent;

export async function errorFromResponse(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    const error = body.error;
    if (error && typeof error.code === 'string' && typeof error.message === 'string') {
      const details = Array.isArray(error.details) ? (error.details as ErrorDetail[]).filter((d) => typeof d.path === 'string' && typeof d.message === 'string') : [];
      return new ApiError(response.status, error.code, error.message, details);
    }
  } catch {
    // Not the controller's JSON error body (a proxy's HTML page, an empty body): say what came.
  }
  return new ApiError(response.status, `http_${response.status}`, `${response.status} ${response.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`);
}

export class ApiClient {
  private readonly fetchFn: Fetch;

  /**
   * `baseUrl` is '' in the browser (the dashboard is served by the controller); tests and the
   * benchmark pass the controller's URL.
   */
  constructor(
    readonly baseUrl: string,
    readonly token: string,
    fetchFn?: Fetch,
  ) {
    this.fetchFn = fetchFn ?? ((input, init) => fetch(input, init));
  }

  async request<T>(path: string, options: RequestOptions = {}): Promise<{ body: T; status: number; etag: string | null }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json', ...options.headers };
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    } else if (options.text) {
      body = options.text.body;
      headers['content-type'] = options.text.contentType;
    }
    let response: Response;
    try {
      response = await this.fetchFn(`${this.baseUrl}${path}`, { method: options.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') throw error;
      throw new ApiError(0, 'unreachable', `the controller did not answer: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!response.ok) throw await errorFromResponse(response);
    const text = await response.text();
    return { body: (text === '' ? undefined : JSON.parse(text)) as T, status: response.status, etag: response.headers.get('etag') };
  }

  private async get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return (await this.request<T>(path, signal ? { signal } : {})).body;
  }

  whoami(signal?: AbortSignal): Promise<WhoAmI> {
    return this.get('/api/v1/whoami', signal);
  }

  // Nodes ---------------------------------------------------------------------------------

  /** Every node (following the `next` cursor), optionally filtered by a label selector. */
  async nodes(filter: { labels?: string; state?: string } = {}, signal?: AbortSignal): Promise<NodeView[]> {
    const out: NodeView[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.get<NodeList>(`/api/v1/nodes${query({ labels: filter.labels, state: filter.state, limit: 10_000, after })}`, signal);
      out.push(...page.nodes);
      if (page.next === null) return out;
      after = page.next;
    }
  }

  node(id: string, signal?: AbortSignal): Promise<NodeView> {
    return this.get(`/api/v1/nodes/${enc(id)}`, signal);
  }

  async quarantine(id: string, signal?: AbortSignal): Promise<QuarantineEntry[]> {
    return (await this.get<{ entries: QuarantineEntry[] }>(`/api/v1/nodes/${enc(id)}/quarantine`, signal)).entries;
  }

  nodeMetrics(id: string, params: { name?: string; cgroup?: string; since?: string; limit?: number }, signal?: AbortSignal): Promise<NodeMetrics> {
    return this.get(`/api/v1/nodes/${enc(id)}/metrics${query(params)}`, signal);
  }

  // Policies ------------------------------------------------------------------------------

  async policies(signal?: AbortSignal): Promise<PolicySummary[]> {
    return (await this.get<{ policies: PolicySummary[] }>('/api/v1/policies', signal)).policies;
  }

  policy(name: string, signal?: AbortSignal): Promise<{ policy: PolicySummary; versions: PolicyVersionSummary[] }> {
    return this.get(`/api/v1/policies/${enc(name)}`, signal);
  }

  policyVersion(name: string, version: number, signal?: AbortSignal): Promise<PolicyVersionDetail> {
    return this.get(`/api/v1/policies/${enc(name)}/versions/${version}`, signal);
  }

  async policyDiff(name: string, from: number, to: number, signal?: AbortSignal): Promise<DiffChange[]> {
    return (await this.get<{ changes: DiffChange[] }>(`/api/v1/policies/${enc(name)}/diff${query({ from, to })}`, signal)).changes;
  }

  validatePolicy(source: string): Promise<{ ok: boolean; errors: PolicyIssueView[]; warnings: PolicyIssueView[] }> {
    return this.request<{ ok: boolean; errors: PolicyIssueView[]; warnings: PolicyIssueView[] }>('/api/v1/policies/validate', { method: 'POST', text: { body: source, contentType: 'application/yaml' } }).then((r) => r.body);
  }

  /** A new policy (its first version). */
  async createPolicy(source: string, message: string): Promise<PolicyWrite> {
    return (await this.request<PolicyWrite>(`/api/v1/policies${query({ message })}`, { method: 'POST', text: { body: source, contentType: 'application/yaml' } })).body;
  }

  /** A new version of `name`, made from `expectedVersion` (409 when someone was faster). */
  async addPolicyVersion(name: string, source: string, expectedVersion: number, message: string): Promise<PolicyWrite> {
    const r = await this.request<PolicyWrite>(`/api/v1/policies/${enc(name)}/versions${query({ message })}`, {
      method: 'POST',
      text: { body: source, contentType: 'application/yaml' },
      headers: { 'if-match': `"v${expectedVersion}"` },
    });
    return r.body;
  }

  // Rollouts ------------------------------------------------------------------------------

  async rollouts(filter: { policy?: string; active?: boolean; limit?: number } = {}, signal?: AbortSignal): Promise<RolloutView[]> {
    return (await this.get<{ rollouts: RolloutView[] }>(`/api/v1/rollouts${query(filter)}`, signal)).rollouts;
  }

  rollout(id: string, signal?: AbortSignal): Promise<RolloutDetail> {
    return this.get(`/api/v1/rollouts/${enc(id)}`, signal);
  }

  async startRollout(policy: string, version: number, plan: unknown): Promise<RolloutView> {
    return (await this.request<{ rollout: RolloutView }>('/api/v1/rollouts', { method: 'POST', json: { policy, version, plan } })).body.rollout;
  }

  /** pause/abort need a reason; promote may carry a skip-gate reason (admins). */
  async rolloutCommand(id: string, command: 'pause' | 'resume' | 'promote' | 'abort', options: { reason?: string; skipGateReason?: string; revision?: number } = {}): Promise<RolloutView> {
    const json =
      command === 'pause' || command === 'abort'
        ? { reason: options.reason ?? '' }
        : command === 'promote'
          ? options.skipGateReason
            ? { skipGate: { reason: options.skipGateReason } }
            : {}
          : {};
    const headers = options.revision === undefined ? {} : { 'if-match': `"rev-${options.revision}"` };
    return (await this.request<{ rollout: RolloutView }>(`/api/v1/rollouts/${enc(id)}/${command}`, { method: 'POST', json, headers })).body.rollout;
  }

  /**
   * Roll `policy` back to `version`: with gates a judged canary (baked `canaryBake`, default 5m)
   * then the rest; without, every node at once; with skipGatesReason the admins' fast path.
   */
  async rollback(policy: string, version: number, options: { skipGatesReason?: string; gates?: readonly GateView[]; canaryBake?: string } = {}): Promise<RolloutView> {
    const json = {
      version,
      ...(options.skipGatesReason ? { skipGates: { reason: options.skipGatesReason } } : {}),
      ...(options.gates && options.gates.length > 0 ? { gates: options.gates } : {}),
      ...(options.gates && options.gates.length > 0 && options.canaryBake ? { canaryBake: options.canaryBake } : {}),
    };
    return (await this.request<{ rollout: RolloutView }>(`/api/v1/policies/${enc(policy)}/rollback`, { method: 'POST', json })).body.rollout;
  }

  // Audit ---------------------------------------------------------------------------------

  audit(filter: { actor?: string; action?: string; targetType?: string; targetId?: string; since?: string; before?: number; limit?: number }, signal?: AbortSignal): Promise<AuditPage> {
    return this.get(`/api/v1/audit${query(filter)}`, signal);
  }

  verifyAudit(signal?: AbortSignal): Promise<AuditVerification> {
    return this.get('/api/v1/audit/verify', signal);
  }
}

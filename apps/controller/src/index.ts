/**
 * @thp-fleet/controller: the source of truth, its REST API and the agent stream.
 * Public surface for the process entry, tests and the domains built on top (rollouts).
 */
export { startController, type ControllerHandle, type StartOptions } from './app.js';
export { loadConfig, ConfigError, parseDuration, DEFAULTS, type ControllerConfig, type ConfigProblem, type DatabaseConfig, type IntervalConfig } from './config/config.js';
export { AppError, httpStatusOf, grpcStatusOf, type ErrorCode, type ErrorDetail } from './common/errors.js';
export { CLOCK, CONFIG, LOGGER, STORE, systemClock, type Clock } from './common/tokens.js';
export type { Logger } from './common/logger.js';
export type { Db, Store, LockSession, SqlSession } from './store/database.js';
export type { Database } from './store/schema.js';
export { CoreModule, TokenModule, PolicyModule, NodeModule, ClusterModule, AgentStreamModule, MetricsModule } from './app.module.js';
export { AssignmentService, type SetDesiredOptions, type DesiredChange } from './assignment/assignment.service.js';
export type { AssignmentRecord } from './assignment/assignment.repository.js';
export { AuditService, type ChainVerification } from './audit/audit.service.js';
export { EventsService, type FleetEvent, type ReceivedEvent, type KnownEventType } from './events/events.service.js';
export { LeadershipService, type LeaderTask } from './cluster/leadership.service.js';
export { ClusterService } from './cluster/cluster.service.js';
export { NodeService, type NodeView } from './node/node.service.js';
export { deriveNodeState, NODE_STATES, type NodeState } from './node/node-state.js';
export { PolicyService } from './policy/policy.service.js';
export { PolicyCatalog } from './policy/policy-catalog.js';
export { MetricSampleRepository, type MetricSample } from './metrics/metric-sample.repository.js';
export { MetricsService } from './metrics/metrics.service.js';
export { AuthGuard, RequireRole, CurrentPrincipal } from './common/http.js';
export { actorOf, type Principal } from './token/token.service.js';
export { mintNodeToken } from './token/node-token.js';

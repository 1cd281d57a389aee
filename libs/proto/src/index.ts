export * from './gen/thp/v1/agent_pb.js';
export * from './grpc-bridge.js';
export { HealthRegistry, ServingStatus } from './health.js';
export { ReflectionIndex } from './reflection.js';
export { Health } from './gen/grpc/health/v1/health_pb.js';
export { ServerReflection } from './gen/grpc/reflection/v1/reflection_pb.js';

/**
 * The standard gRPC health checking protocol (grpc.health.v1), served through the bridge so
 * that grpc_health_probe, Kubernetes gRPC probes and `buf curl` can ask any server in this repo.
 */
import type * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { addService } from './grpc-bridge.js';
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
  HealthListResponseSchema,
} from './gen/grpc/health/v1/health_pb.js';

export { HealthCheckResponse_ServingStatus as ServingStatus } from './gen/grpc/health/v1/health_pb.js';

type Watcher = (status: ServingStatus) => void;

/**
 * Serving status per service name; "" is the whole server. Statuses change with `set`, and
 * every Watch stream sees each change.
 */
export class HealthRegistry {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<Watcher>>();

  constructor(initial: Record<string, ServingStatus> = { '': ServingStatus.SERVING }) {
    for (const [service, status] of Object.entries(initial)) this.statuses.set(service, status);
  }

  set(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const watcher of this.watchers.get(service) ?? []) watcher(status);
  }

  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Mark every known service NOT_SERVING (on shutdown), so watchers drain first. */
  shutdown(): void {
    for (const service of [...this.statuses.keys()]) this.set(service, ServingStatus.NOT_SERVING);
  }

  mount(server: grpc.Server): void {
    addService(server, Health, {
      check: (call, callback) => {
        const status = this.statuses.get(call.request.service);
        if (status === undefined) {
          callback({ code: 5 /* NOT_FOUND */, details: `unknown service "${call.request.service}"` });
          return;
        }
        callback(null, create(HealthCheckResponseSchema, { status }));
      },
      list: (_call, callback) => {
        const statuses: Record<string, ReturnType<typeof create<typeof HealthCheckResponseSchema>>> = {};
        for (const [service, status] of this.statuses) statuses[service] = create(HealthCheckResponseSchema, { status });
        callback(null, create(HealthListResponseSchema, { statuses }));
      },
      watch: (call) => {
        const service = call.request.service;
        const send: Watcher = (status) => call.write(create(HealthCheckResponseSchema, { status }));
        send(this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN);
        let set = this.watchers.get(service);
        if (!set) this.watchers.set(service, (set = new Set()));
        set.add(send);
        call.on('cancelled', () => set.delete(send));
        call.on('close', () => set.delete(send));
      },
    });
  }
}

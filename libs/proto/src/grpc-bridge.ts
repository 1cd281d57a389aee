/**
 * Serve and call protobuf-es service descriptors with @grpc/grpc-js.
 *
 * grpc-js wants a `ServiceDefinition` (paths, stream flags, serialize/deserialize functions);
 * protobuf-es generates `GenService` descriptors whose methods carry the message schemas. This
 * bridge turns one into the other with binary codecs from the schemas, so there is no runtime
 * proto loading and no hand-written message type anywhere: the `.proto` stays the one contract.
 */
import * as grpc from '@grpc/grpc-js';
import { fromBinary, toBinary, type DescMessage, type DescMethod, type DescService, type MessageShape } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';

type In<M extends Pick<DescMethod, 'input'>> = MessageShape<M['input']>;
type Out<M extends Pick<DescMethod, 'output'>> = MessageShape<M['output']>;

/** The grpc-js handler type for one protobuf-es method, by its kind. */
export type HandlerFor<M extends Pick<DescMethod, 'input' | 'output' | 'methodKind'>> = M['methodKind'] extends 'unary'
  ? grpc.handleUnaryCall<In<M>, Out<M>>
  : M['methodKind'] extends 'server_streaming'
    ? grpc.handleServerStreamingCall<In<M>, Out<M>>
    : M['methodKind'] extends 'client_streaming'
      ? grpc.handleClientStreamingCall<In<M>, Out<M>>
      : grpc.handleBidiStreamingCall<In<M>, Out<M>>;

/** An implementation of a whole service: one handler per method, keyed by the method's local name. */
export type ServiceImpl<T extends GenServiceMethods> = { [K in keyof T]: HandlerFor<T[K]> };

/** The grpc-js client method type for one protobuf-es method, by its kind. */
export type ClientMethodFor<M extends Pick<DescMethod, 'input' | 'output' | 'methodKind'>> = M['methodKind'] extends 'unary'
  ? (request: In<M>, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: grpc.requestCallback<Out<M>>) => grpc.ClientUnaryCall
  : M['methodKind'] extends 'server_streaming'
    ? (request: In<M>, metadata?: grpc.Metadata, options?: Partial<grpc.CallOptions>) => grpc.ClientReadableStream<Out<M>>
    : M['methodKind'] extends 'client_streaming'
      ? (metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: grpc.requestCallback<Out<M>>) => grpc.ClientWritableStream<In<M>>
      : (metadata?: grpc.Metadata, options?: Partial<grpc.CallOptions>) => grpc.ClientDuplexStream<In<M>, Out<M>>;

/** A typed grpc-js client for a protobuf-es service. */
export type ServiceClient<T extends GenServiceMethods> = grpc.Client & { [K in keyof T]: ClientMethodFor<T[K]> };

function codec<D extends DescMessage>(schema: D): {
  serialize: (message: MessageShape<D>) => Buffer;
  deserialize: (bytes: Buffer) => MessageShape<D>;
} {
  return {
    serialize: (message) => {
      const bytes = toBinary(schema, message);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    deserialize: (bytes) => fromBinary(schema, bytes),
  };
}

/** The grpc-js service definition for a protobuf-es service descriptor (method keys are local names). */
export function grpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const request = codec(method.input);
    const response = codec(method.output);
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: request.serialize as (message: unknown) => Buffer,
      requestDeserialize: request.deserialize,
      responseSerialize: response.serialize as (message: unknown) => Buffer,
      responseDeserialize: response.deserialize,
      originalName: method.name,
    };
  }
  return definition;
}

/** Mount a typed implementation of `service` on a grpc-js server. */
export function addService<T extends GenServiceMethods>(server: grpc.Server, service: GenService<T>, impl: ServiceImpl<T>): void {
  server.addService(grpcServiceDefinition(service), impl);
}

/** A typed grpc-js client for `service` at `address`. */
export function createClient<T extends GenServiceMethods>(
  service: GenService<T>,
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
): ServiceClient<T> {
  const Ctor = grpc.makeGenericClientConstructor(grpcServiceDefinition(service), service.name);
  return new Ctor(address, credentials, options) as unknown as ServiceClient<T>;
}

/**
 * gRPC server reflection (grpc.reflection.v1) answered from the FileDescriptorProtos that
 * protobuf-es embeds in the generated code, so grpcurl and `buf curl` can discover and call
 * the services of a server in this repo without any .proto file at hand.
 */
import type * as grpc from '@grpc/grpc-js';
import { create, toBinary, type DescFile, type DescMessage, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { addService } from './grpc-bridge.js';
import {
  ServerReflection,
  ServerReflectionResponseSchema,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from './gen/grpc/reflection/v1/reflection_pb.js';

const NOT_FOUND = 5;
const UNIMPLEMENTED = 12;

/** Index of the served services and every symbol of their files (and their dependencies). */
export class ReflectionIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly serviceNames: string[] = [];

  constructor(services: readonly DescService[]) {
    for (const service of services) {
      this.serviceNames.push(service.typeName);
      this.addFile(service.file);
    }
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.proto.name)) return;
    this.files.set(file.proto.name, file);
    const addMessage = (message: DescMessage): void => {
      this.symbols.set(message.typeName, file);
      for (const nested of message.nestedMessages) addMessage(nested);
      for (const nested of message.nestedEnums) this.symbols.set(nested.typeName, file);
    };
    for (const message of file.messages) addMessage(message);
    for (const enumeration of file.enums) this.symbols.set(enumeration.typeName, file);
    for (const service of file.services) {
      this.symbols.set(service.typeName, file);
      for (const method of service.methods) this.symbols.set(`${service.typeName}.${method.name}`, file);
    }
    for (const dependency of file.dependencies) this.addFile(dependency);
  }

  /** The file and its transitive dependencies as serialized FileDescriptorProtos, file first. */
  private descriptorSet(file: DescFile): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile): void => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      for (const dependency of f.dependencies) visit(dependency);
    };
    visit(file);
    return out;
  }

  answer(request: ServerReflectionRequest): ServerReflectionResponse {
    const base = { validHost: request.host, originalRequest: request };
    const files = (file: DescFile | undefined, what: string): ServerReflectionResponse =>
      file
        ? create(ServerReflectionResponseSchema, {
            ...base,
            messageResponse: { case: 'fileDescriptorResponse', value: { fileDescriptorProto: this.descriptorSet(file) } },
          })
        : create(ServerReflectionResponseSchema, {
            ...base,
            messageResponse: { case: 'errorResponse', value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` } },
          });
    const req = request.messageRequest;
    switch (req.case) {
      case 'listServices':
        return create(ServerReflectionResponseSchema, {
          ...base,
          messageResponse: { case: 'listServicesResponse', value: { service: this.serviceNames.map((name) => ({ name })) } },
        });
      case 'fileByFilename':
        return files(this.files.get(req.value), `file "${req.value}"`);
      case 'fileContainingSymbol':
        return files(this.symbols.get(req.value), `symbol "${req.value}"`);
      case 'fileContainingExtension':
      case 'allExtensionNumbersOfType':
      case undefined:
        return create(ServerReflectionResponseSchema, {
          ...base,
          messageResponse: {
            case: 'errorResponse',
            value: { errorCode: UNIMPLEMENTED, errorMessage: 'extensions are not used by these services' },
          },
        });
    }
  }

  /** Serve grpc.reflection.v1.ServerReflection on `server`. */
  mount(server: grpc.Server): void {
    addService(server, ServerReflection, {
      serverReflectionInfo: (call) => {
        call.on('data', (request: ServerReflectionRequest) => call.write(this.answer(request)));
        call.on('end', () => call.end());
      },
    });
  }
}

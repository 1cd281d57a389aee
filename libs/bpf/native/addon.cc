// SPDX-License-Identifier: Apache-2.0
//
// thp_bpf: a thin N-API binding over the system libbpf. It does no policy work: it opens
// and loads objects, pins, reads and writes maps, attaches struct_ops, runs programs with
// BPF_PROG_TEST_RUN and answers BTF questions. src/addon.ts types it; src/*.ts uses it.
//
// Errors are thrown as JS Errors with `op` (the libbpf call), `errno`, `code` (EPERM...)
// and, for open/load, `log` (libbpf's messages including the verifier log).

#include <napi.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <bpf/libbpf_version.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/mount.h>
#include <unistd.h>
#include <vector>

namespace {

// Not in the 6.1 uapi headers Debian 12 ships (linux-libc-dev 6.1); values from the 6.18
// kernel's BTF (enum bpf_attach_type, map flags), stable uapi since 6.4.
constexpr int kAttachStructOps = 44;          // BPF_STRUCT_OPS
constexpr unsigned int kMapFlagLink = 1u << 13;  // BPF_F_LINK

// ------------------------------------------------------------------ libbpf log capture

thread_local std::string* g_log = nullptr;

int CaptureLibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (g_log == nullptr || level == LIBBPF_DEBUG) return 0;
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n > 0) {
    std::vector<char> buf(static_cast<size_t>(n) + 1);
    vsnprintf(buf.data(), buf.size(), fmt, args);
    g_log->append(buf.data(), static_cast<size_t>(n));
  }
  // Keep the tail: the verifier log can be large, the end says what failed.
  if (g_log->size() > 64 * 1024) g_log->erase(0, g_log->size() - 64 * 1024);
  return 0;
}

class LogScope {
 public:
  LogScope() : previous_(g_log) { g_log = &log_; }
  ~LogScope() { g_log = previous_; }
  const std::string& text() const { return log_; }

 private:
  std::string log_;
  std::string* previous_;
};

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "EUNKNOWN";
}

[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& op, int err,
                             const std::string& log = std::string()) {
  if (err < 0) err = -err;
  std::string message = op + ": " + strerror(err) + " (" + ErrnoName(err) + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("op", Napi::String::New(env, op));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  if (!log.empty()) error.Set("log", Napi::String::New(env, log));
  throw error;
}

[[noreturn]] void ThrowType(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowType(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowType(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Uint32Value();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) ThrowType(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsBuffer()) ThrowType(info.Env(), std::string(what) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

const char* MapTypeName(enum bpf_map_type type) {
  const char* name = libbpf_bpf_map_type_str(type);
  return name != nullptr ? name : "unknown";
}

const char* ProgTypeName(enum bpf_prog_type type) {
  const char* name = libbpf_bpf_prog_type_str(type);
  return name != nullptr ? name : "unknown";
}

// ------------------------------------------------------------------ BpfObject

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "BpfObject",
                       {
                           InstanceMethod("load", &BpfObject::Load),
                           InstanceMethod("setMapFlags", &BpfObject::SetMapFlags),
                           InstanceMethod("maps", &BpfObject::Maps),
                           InstanceMethod("programs", &BpfObject::Programs),
                           InstanceMethod("mapFd", &BpfObject::MapFd),
                           InstanceMethod("programFd", &BpfObject::ProgramFd),
                           InstanceMethod("pinProgram", &BpfObject::PinProgram),
                           InstanceMethod("unpinProgram", &BpfObject::UnpinProgram),
                           InstanceMethod("pinMaps", &BpfObject::PinMaps),
                           InstanceMethod("unpinMaps", &BpfObject::UnpinMaps),
                           InstanceMethod("attachStructOps", &BpfObject::AttachStructOps),
                           InstanceMethod("updateStructOpsLink", &BpfObject::UpdateStructOpsLink),
                           InstanceMethod("attachProgram", &BpfObject::AttachProgram),
                           InstanceMethod("close", &BpfObject::Close),
                       });
  }

  // new BpfObject(path, pinRoot | null)
  explicit BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
    Napi::Env env = info.Env();
    std::string path = ArgString(info, 0, "object path");
    std::string pin_root;
    if (info.Length() > 1 && info[1].IsString()) pin_root = info[1].As<Napi::String>().Utf8Value();

    LIBBPF_OPTS(bpf_object_open_opts, opts);
    if (!pin_root.empty()) opts.pin_root_path = pin_root.c_str();
    LogScope log;
    struct bpf_object* obj = bpf_object__open_file(path.c_str(), &opts);
    int err = libbpf_get_error(obj);
    if (err != 0) ThrowErrno(env, "bpf_object__open_file(" + path + ")", err, log.text());
    obj_ = obj;
  }

  ~BpfObject() override { Release(); }

 private:
  struct bpf_object* obj_ = nullptr;

  void Release() {
    if (obj_ != nullptr) {
      bpf_object__close(obj_);
      obj_ = nullptr;
    }
  }

  struct bpf_object* Obj(Napi::Env env) {
    if (obj_ == nullptr) ThrowType(env, "BPF object is closed");
    return obj_;
  }

  struct bpf_map* FindMap(Napi::Env env, const std::string& name) {
    struct bpf_map* map = bpf_object__find_map_by_name(Obj(env), name.c_str());
    if (map == nullptr) ThrowType(env, "no map named " + name + " in " + bpf_object__name(obj_));
    return map;
  }

  struct bpf_program* FindProgram(Napi::Env env, const std::string& name) {
    struct bpf_program* prog = bpf_object__find_program_by_name(Obj(env), name.c_str());
    if (prog == nullptr) ThrowType(env, "no program named " + name + " in " + bpf_object__name(obj_));
    return prog;
  }

  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_object* obj = Obj(env);
    LogScope log;
    int err = bpf_object__load(obj);
    if (err != 0) ThrowErrno(env, std::string("bpf_object__load(") + bpf_object__name(obj) + ")", err, log.text());
    return env.Undefined();
  }

  // setMapFlags(name, flags): before load, e.g. BPF_F_LINK on a struct_ops map.
  Napi::Value SetMapFlags(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_map* map = FindMap(env, ArgString(info, 0, "map name"));
    int err = bpf_map__set_map_flags(map, ArgU32(info, 1, "flags"));
    if (err != 0) ThrowErrno(env, "bpf_map__set_map_flags", err);
    return env.Undefined();
  }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_object* obj = Obj(env);
    Napi::Array out = Napi::Array::New(env);
    struct bpf_map* map;
    uint32_t i = 0;
    bpf_object__for_each_map(map, obj) {
      Napi::Object m = Napi::Object::New(env);
      m.Set("name", bpf_map__name(map));
      m.Set("type", MapTypeName(bpf_map__type(map)));
      m.Set("fd", bpf_map__fd(map));
      m.Set("keySize", bpf_map__key_size(map));
      m.Set("valueSize", bpf_map__value_size(map));
      m.Set("maxEntries", bpf_map__max_entries(map));
      m.Set("flags", bpf_map__map_flags(map));
      const char* pin = bpf_map__pin_path(map);
      m.Set("pinPath", pin != nullptr ? Napi::Value(Napi::String::New(env, pin)) : env.Null());
      m.Set("pinned", bpf_map__is_pinned(map));
      out.Set(i++, m);
    }
    return out;
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_object* obj = Obj(env);
    Napi::Array out = Napi::Array::New(env);
    struct bpf_program* prog;
    uint32_t i = 0;
    bpf_object__for_each_program(prog, obj) {
      Napi::Object p = Napi::Object::New(env);
      p.Set("name", bpf_program__name(prog));
      p.Set("section", bpf_program__section_name(prog));
      p.Set("type", ProgTypeName(bpf_program__type(prog)));
      p.Set("fd", bpf_program__fd(prog));
      out.Set(i++, p);
    }
    return out;
  }

  Napi::Value MapFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Napi::Number::New(env, bpf_map__fd(FindMap(env, ArgString(info, 0, "map name"))));
  }

  Napi::Value ProgramFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Napi::Number::New(env, bpf_program__fd(FindProgram(env, ArgString(info, 0, "program name"))));
  }

  Napi::Value PinProgram(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* prog = FindProgram(env, ArgString(info, 0, "program name"));
    std::string path = ArgString(info, 1, "pin path");
    LogScope log;
    int err = bpf_program__pin(prog, path.c_str());
    if (err != 0) ThrowErrno(env, "bpf_program__pin(" + path + ")", err, log.text());
    return env.Undefined();
  }

  Napi::Value UnpinProgram(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* prog = FindProgram(env, ArgString(info, 0, "program name"));
    std::string path = ArgString(info, 1, "pin path");
    LogScope log;
    int err = bpf_program__unpin(prog, path.c_str());
    if (err != 0) ThrowErrno(env, "bpf_program__unpin(" + path + ")", err, log.text());
    return env.Undefined();
  }

  // pinMaps(dir | null): every map under dir/<name>, or at each map's own pin path (null).
  Napi::Value PinMaps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string dir;
    if (info.Length() > 0 && info[0].IsString()) dir = info[0].As<Napi::String>().Utf8Value();
    LogScope log;
    int err = bpf_object__pin_maps(Obj(env), dir.empty() ? nullptr : dir.c_str());
    if (err != 0) ThrowErrno(env, "bpf_object__pin_maps", err, log.text());
    return env.Undefined();
  }

  Napi::Value UnpinMaps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string dir;
    if (info.Length() > 0 && info[0].IsString()) dir = info[0].As<Napi::String>().Utf8Value();
    LogScope log;
    int err = bpf_object__unpin_maps(Obj(env), dir.empty() ? nullptr : dir.c_str());
    if (err != 0) ThrowErrno(env, "bpf_object__unpin_maps", err, log.text());
    return env.Undefined();
  }

  // attachStructOps(mapName) -> link fd. Registers the struct_ops map with the kernel.
  // libbpf >= 1.2 creates a real BPF link itself for BPF_F_LINK maps; libbpf 1.1 only
  // writes the map value, so the link is created here with BPF_LINK_CREATE. The fd is
  // owned by the caller (pin it, close it); closing the last reference detaches.
  Napi::Value AttachStructOps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_map* map = FindMap(env, ArgString(info, 0, "struct_ops map name"));
    if (!(bpf_map__map_flags(map) & kMapFlagLink))
      ThrowType(env, "struct_ops map " + std::string(bpf_map__name(map)) + " was not loaded with BPF_F_LINK");
    LogScope log;
    struct bpf_link* link = bpf_map__attach_struct_ops(map);
    int err = libbpf_get_error(link);
    if (err != 0) ThrowErrno(env, "bpf_map__attach_struct_ops", err, log.text());
#if LIBBPF_MAJOR_VERSION > 1 || (LIBBPF_MAJOR_VERSION == 1 && LIBBPF_MINOR_VERSION >= 2)
    int link_fd = dup(bpf_link__fd(link));
    int dup_err = errno;
    bpf_link__disconnect(link);
    bpf_link__destroy(link);
    if (link_fd < 0) ThrowErrno(env, "dup(link)", dup_err);
#else
    // The "link" of libbpf 1.1 is the map itself; drop it without detaching.
    bpf_link__disconnect(link);
    bpf_link__destroy(link);
    int link_fd = bpf_link_create(bpf_map__fd(map), 0, static_cast<enum bpf_attach_type>(kAttachStructOps), nullptr);
    if (link_fd < 0) ThrowErrno(env, "bpf_link_create(BPF_STRUCT_OPS)", errno, log.text());
#endif
    return Napi::Number::New(env, link_fd);
  }

  // attachProgram(name) -> link fd: attaches by section (tp_btf/..., fentry/...) with
  // bpf_program__attach and hands the link's fd to the caller (pin it or close it).
  Napi::Value AttachProgram(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* prog = FindProgram(env, ArgString(info, 0, "program name"));
    LogScope log;
    struct bpf_link* link = bpf_program__attach(prog);
    int err = libbpf_get_error(link);
    if (err != 0) ThrowErrno(env, std::string("bpf_program__attach(") + bpf_program__name(prog) + ")", err, log.text());
    int fd = dup(bpf_link__fd(link));
    int dup_err = errno;
    bpf_link__disconnect(link);
    bpf_link__destroy(link);
    if (fd < 0) ThrowErrno(env, "dup(link)", dup_err);
    return Napi::Number::New(env, fd);
  }

  // updateStructOpsLink(linkPinPath, mapName): atomically point an attached struct_ops
  // link at this object's map (bpf_link__update_map). The kernel's ->update swaps the ops
  // under RCU; v7..v9 return ENOENT once the link was detached (kernel-interface.md 2.1).
  Napi::Value UpdateStructOpsLink(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string link_path = ArgString(info, 0, "link pin path");
    struct bpf_map* map = FindMap(env, ArgString(info, 1, "struct_ops map name"));
    if (!(bpf_map__map_flags(map) & kMapFlagLink))
      ThrowType(env, "struct_ops map " + std::string(bpf_map__name(map)) + " was not loaded with BPF_F_LINK");
    LogScope log;
#if LIBBPF_MAJOR_VERSION > 1 || (LIBBPF_MAJOR_VERSION == 1 && LIBBPF_MINOR_VERSION >= 2)
    struct bpf_link* link = bpf_link__open(link_path.c_str());
    int err = libbpf_get_error(link);
    if (err != 0) ThrowErrno(env, "bpf_link__open(" + link_path + ")", err, log.text());
    err = bpf_link__update_map(link, map);
    bpf_link__disconnect(link);
    bpf_link__destroy(link);
    if (err != 0) ThrowErrno(env, "bpf_link__update_map", err, log.text());
#else
    // libbpf 1.1 has no bpf_link__update_map: write the new map's value (prog fds; a
    // BPF_F_LINK map only becomes "ready", nothing registers), then BPF_LINK_UPDATE.
    struct bpf_link* prepared = bpf_map__attach_struct_ops(map);
    int err = libbpf_get_error(prepared);
    if (err != 0) ThrowErrno(env, "bpf_map__attach_struct_ops(prepare)", err, log.text());
    bpf_link__disconnect(prepared);
    bpf_link__destroy(prepared);
    int link_fd = bpf_obj_get(link_path.c_str());
    if (link_fd < 0) ThrowErrno(env, "bpf_obj_get(" + link_path + ")", errno);
    LIBBPF_OPTS(bpf_link_update_opts, opts);
    int rc = bpf_link_update(link_fd, bpf_map__fd(map), &opts);
    int update_err = errno;
    close(link_fd);
    if (rc != 0) ThrowErrno(env, "bpf_link_update(struct_ops map)", update_err, log.text());
#endif
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }
};

// ------------------------------------------------------------------ Btf

const char* KindName(const struct btf_type* t) {
  switch (btf_kind(t)) {
    case BTF_KIND_INT: return "int";
    case BTF_KIND_PTR: return "ptr";
    case BTF_KIND_ARRAY: return "array";
    case BTF_KIND_STRUCT: return "struct";
    case BTF_KIND_UNION: return "union";
    case BTF_KIND_ENUM: return "enum";
    case BTF_KIND_FWD: return "fwd";
    case BTF_KIND_TYPEDEF: return "typedef";
    case BTF_KIND_VOLATILE: return "volatile";
    case BTF_KIND_CONST: return "const";
    case BTF_KIND_RESTRICT: return "restrict";
    case BTF_KIND_FUNC: return "func";
    case BTF_KIND_FUNC_PROTO: return "func_proto";
    case BTF_KIND_VAR: return "var";
    case BTF_KIND_DATASEC: return "datasec";
    case BTF_KIND_FLOAT: return "float";
    case BTF_KIND_DECL_TAG: return "decl_tag";
    case BTF_KIND_TYPE_TAG: return "type_tag";
    case BTF_KIND_ENUM64: return "enum64";
    default: return "unknown";
  }
}

int KindByName(const std::string& name) {
  static const struct { const char* name; int kind; } kinds[] = {
      {"int", BTF_KIND_INT},       {"ptr", BTF_KIND_PTR},         {"array", BTF_KIND_ARRAY},
      {"struct", BTF_KIND_STRUCT}, {"union", BTF_KIND_UNION},     {"enum", BTF_KIND_ENUM},
      {"fwd", BTF_KIND_FWD},       {"typedef", BTF_KIND_TYPEDEF}, {"func", BTF_KIND_FUNC},
      {"func_proto", BTF_KIND_FUNC_PROTO}, {"var", BTF_KIND_VAR}, {"datasec", BTF_KIND_DATASEC},
      {"enum64", BTF_KIND_ENUM64},
  };
  for (const auto& k : kinds)
    if (name == k.name) return k.kind;
  return -1;
}

class Btf : public Napi::ObjectWrap<Btf> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Btf",
                       {
                           InstanceMethod("findType", &Btf::FindType),
                           InstanceMethod("describeStruct", &Btf::DescribeStruct),
                           InstanceMethod("enumValues", &Btf::EnumValues),
                           InstanceMethod("typeCount", &Btf::TypeCount),
                           InstanceMethod("close", &Btf::Close),
                       });
  }

  // new Btf(path | null): null = the running kernel's vmlinux BTF (btf__load_vmlinux_btf).
  explicit Btf(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Btf>(info) {
    Napi::Env env = info.Env();
    LogScope log;
    struct btf* btf;
    std::string op;
    if (info.Length() > 0 && info[0].IsString()) {
      std::string path = info[0].As<Napi::String>().Utf8Value();
      op = "btf__parse(" + path + ")";
      btf = btf__parse(path.c_str(), nullptr);
    } else {
      op = "btf__load_vmlinux_btf";
      btf = btf__load_vmlinux_btf();
    }
    int err = libbpf_get_error(btf);
    if (err != 0) ThrowErrno(env, op, err, log.text());
    btf_ = btf;
  }

  ~Btf() override { Release(); }

 private:
  struct btf* btf_ = nullptr;

  void Release() {
    if (btf_ != nullptr) {
      btf__free(btf_);
      btf_ = nullptr;
    }
  }

  struct btf* B(Napi::Env env) {
    if (btf_ == nullptr) ThrowType(env, "BTF is closed");
    return btf_;
  }

  // Skips typedefs and modifiers.
  const struct btf_type* Resolve(uint32_t id, uint32_t* out_id) {
    const struct btf_type* t = btf__type_by_id(btf_, id);
    while (t != nullptr && (btf_is_typedef(t) || btf_is_mod(t) || btf_is_type_tag(t))) {
      id = t->type;
      t = btf__type_by_id(btf_, id);
    }
    if (out_id != nullptr) *out_id = id;
    return t;
  }

  Napi::Object TypeRef(Napi::Env env, uint32_t id) {
    Napi::Object ref = Napi::Object::New(env);
    uint32_t resolved_id = id;
    const struct btf_type* t = Resolve(id, &resolved_id);
    if (id == 0 || t == nullptr) {
      ref.Set("kind", "void");
      ref.Set("name", "");
      return ref;
    }
    ref.Set("kind", KindName(t));
    ref.Set("name", btf__name_by_offset(btf_, t->name_off));
    if (btf_is_ptr(t)) {
      const struct btf_type* target = Resolve(t->type, nullptr);
      if (target != nullptr && btf_is_func_proto(target)) {
        Napi::Array params = Napi::Array::New(env);
        const struct btf_param* p = btf_params(target);
        for (uint32_t i = 0; i < btf_vlen(target); i++) {
          Napi::Object param = Napi::Object::New(env);
          param.Set("name", btf__name_by_offset(btf_, p[i].name_off));
          const struct btf_type* pt = Resolve(p[i].type, nullptr);
          param.Set("kind", pt != nullptr ? KindName(pt) : "void");
          param.Set("typeName", pt != nullptr ? btf__name_by_offset(btf_, pt->name_off) : "");
          params.Set(i, param);
        }
        ref.Set("funcParams", params);
      } else if (target != nullptr) {
        ref.Set("targetKind", KindName(target));
        ref.Set("targetName", btf__name_by_offset(btf_, target->name_off));
      }
    }
    return ref;
  }

  // findType(name, kind) -> type id, or -1 when absent.
  Napi::Value FindType(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct btf* btf = B(env);
    std::string name = ArgString(info, 0, "type name");
    std::string kind_name = ArgString(info, 1, "type kind");
    int kind = KindByName(kind_name);
    if (kind < 0) ThrowType(env, "unknown BTF kind " + kind_name);
    int id = btf__find_by_name_kind(btf, name.c_str(), static_cast<__u32>(kind));
    return Napi::Number::New(env, id < 0 ? -1 : id);
  }

  // describeStruct(name) -> null | { size, members: [{ name, bitOffset, type: TypeRef }] }
  Napi::Value DescribeStruct(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct btf* btf = B(env);
    std::string name = ArgString(info, 0, "struct name");
    int id = btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_STRUCT);
    if (id < 0) return env.Null();
    const struct btf_type* t = btf__type_by_id(btf, static_cast<__u32>(id));
    Napi::Object out = Napi::Object::New(env);
    out.Set("id", id);
    out.Set("size", t->size);
    Napi::Array members = Napi::Array::New(env);
    const struct btf_member* m = btf_members(t);
    for (uint32_t i = 0; i < btf_vlen(t); i++) {
      Napi::Object member = Napi::Object::New(env);
      member.Set("name", btf__name_by_offset(btf, m[i].name_off));
      member.Set("bitOffset", btf_member_bit_offset(t, i));
      Napi::Object type = TypeRef(env, m[i].type);
      const struct btf_type* mt = Resolve(m[i].type, nullptr);
      if (mt != nullptr && btf_is_array(mt)) {
        const struct btf_array* a = btf_array(mt);
        type.Set("length", a->nelems);
        type.Set("element", TypeRef(env, a->type));
      }
      __s64 size = btf__resolve_size(btf, m[i].type);
      type.Set("size", size < 0 ? -1 : static_cast<double>(size));
      member.Set("type", type);
      members.Set(i, member);
    }
    out.Set("members", members);
    return out;
  }

  // enumValues(name) -> null | [{ name, value }]
  Napi::Value EnumValues(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct btf* btf = B(env);
    std::string name = ArgString(info, 0, "enum name");
    int id = btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_ENUM);
    if (id < 0) return env.Null();
    const struct btf_type* t = btf__type_by_id(btf, static_cast<__u32>(id));
    Napi::Array out = Napi::Array::New(env);
    const struct btf_enum* e = btf_enum(t);
    for (uint32_t i = 0; i < btf_vlen(t); i++) {
      Napi::Object v = Napi::Object::New(env);
      v.Set("name", btf__name_by_offset(btf, e[i].name_off));
      v.Set("value", e[i].val);
      out.Set(i, v);
    }
    return out;
  }

  Napi::Value TypeCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), btf__type_cnt(B(info.Env())));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }
};

// ------------------------------------------------------------------ fd-level functions

Napi::Value ObjGet(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "pin path");
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) ThrowErrno(info.Env(), "bpf_obj_get(" + path + ")", errno);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value ObjPin(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  std::string path = ArgString(info, 1, "pin path");
  if (bpf_obj_pin(fd, path.c_str()) != 0) ThrowErrno(info.Env(), "bpf_obj_pin(" + path + ")", errno);
  return info.Env().Undefined();
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  if (close(fd) != 0) ThrowErrno(info.Env(), "close", errno);
  return info.Env().Undefined();
}

// mapLookup(fd, key, valueOut) -> found
Napi::Value MapLookup(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "map fd");
  auto key = ArgBuffer(info, 1, "key");
  auto value = ArgBuffer(info, 2, "value");
  if (bpf_map_lookup_elem(fd, key.Data(), value.Data()) == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
  ThrowErrno(info.Env(), "bpf_map_lookup_elem", errno);
}

// mapUpdate(fd, key, value, flags)
Napi::Value MapUpdate(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "map fd");
  auto key = ArgBuffer(info, 1, "key");
  auto value = ArgBuffer(info, 2, "value");
  uint32_t flags = info.Length() > 3 ? ArgU32(info, 3, "flags") : 0;
  if (bpf_map_update_elem(fd, key.Data(), value.Data(), flags) != 0)
    ThrowErrno(info.Env(), "bpf_map_update_elem", errno);
  return info.Env().Undefined();
}

// mapDelete(fd, key) -> deleted (false when the key was absent)
Napi::Value MapDelete(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "map fd");
  auto key = ArgBuffer(info, 1, "key");
  if (bpf_map_delete_elem(fd, key.Data()) == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
  ThrowErrno(info.Env(), "bpf_map_delete_elem", errno);
}

// mapGetNextKey(fd, key | null, nextOut) -> found
Napi::Value MapGetNextKey(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "map fd");
  const void* key = nullptr;
  if (info.Length() > 1 && info[1].IsBuffer()) key = info[1].As<Napi::Buffer<uint8_t>>().Data();
  auto next = ArgBuffer(info, 2, "next key");
  if (bpf_map_get_next_key(fd, key, next.Data()) == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
  ThrowErrno(info.Env(), "bpf_map_get_next_key", errno);
}

// mapUpdateBatch(fd, keys, values, count, elemFlags) -> count written
Napi::Value MapUpdateBatch(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "map fd");
  auto keys = ArgBuffer(info, 1, "keys");
  auto values = ArgBuffer(info, 2, "values");
  uint32_t count = ArgU32(info, 3, "count");
  LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = info.Length() > 4 ? ArgU32(info, 4, "flags") : 0);
  __u32 n = count;
  if (count > 0 && bpf_map_update_batch(fd, keys.Data(), values.Data(), &n, &opts) != 0)
    ThrowErrno(info.Env(), "bpf_map_update_batch (" + std::to_string(n) + " of " + std::to_string(count) + " written)", errno);
  return Napi::Number::New(info.Env(), n);
}

// mapDeleteBatch(fd, keys, count) -> count deleted
Napi::Value MapDeleteBatch(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "map fd");
  auto keys = ArgBuffer(info, 1, "keys");
  uint32_t count = ArgU32(info, 2, "count");
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  __u32 n = count;
  if (count > 0 && bpf_map_delete_batch(fd, keys.Data(), &n, &opts) != 0)
    ThrowErrno(info.Env(), "bpf_map_delete_batch (" + std::to_string(n) + " of " + std::to_string(count) + " deleted)", errno);
  return Napi::Number::New(info.Env(), n);
}

// mapLookupBatch(fd, keysOut, valuesOut, tokenIn | null, tokenOut) -> { count, done }
// One BPF_MAP_LOOKUP_BATCH call; tokens are opaque (a u32 bucket for hash maps).
Napi::Value MapLookupBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "map fd");
  auto keys = ArgBuffer(info, 1, "keys");
  auto values = ArgBuffer(info, 2, "values");
  void* token_in = nullptr;
  if (info.Length() > 3 && info[3].IsBuffer()) token_in = info[3].As<Napi::Buffer<uint8_t>>().Data();
  auto token_out = ArgBuffer(info, 4, "batch token");
  __u32 count = ArgU32(info, 5, "count");
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  int rc = bpf_map_lookup_batch(fd, token_in, token_out.Data(), keys.Data(), values.Data(), &count, &opts);
  bool done = false;
  if (rc != 0) {
    if (errno != ENOENT) ThrowErrno(env, "bpf_map_lookup_batch", errno);
    done = true;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("count", count);
  out.Set("done", done);
  return out;
}

// progTestRun(fd, ctx) -> retval. For SEC("syscall") programs: ctx in, result written back
// into the same buffer; repeat and ctx_out must stay 0 (kernel rejects them).
Napi::Value ProgTestRun(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "program fd");
  auto ctx = ArgBuffer(info, 1, "ctx");
  LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx.Data(), .ctx_size_in = static_cast<__u32>(ctx.Length()));
  if (bpf_prog_test_run_opts(fd, &opts) != 0) ThrowErrno(info.Env(), "bpf_prog_test_run_opts", errno);
  return Napi::Number::New(info.Env(), static_cast<double>(static_cast<int32_t>(opts.retval)));
}

Napi::Value ProgInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "program fd");
  struct bpf_prog_info pi;
  memset(&pi, 0, sizeof(pi));
  __u32 len = sizeof(pi);
  // libbpf 1.1 has no bpf_prog_get_info_by_fd (1.2+); this is the same syscall.
  if (bpf_obj_get_info_by_fd(fd, &pi, &len) != 0) ThrowErrno(env, "bpf_obj_get_info_by_fd(prog)", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", pi.id);
  out.Set("type", ProgTypeName(static_cast<enum bpf_prog_type>(pi.type)));
  out.Set("name", pi.name);
  char tag[2 * BPF_TAG_SIZE + 1];
  for (int i = 0; i < BPF_TAG_SIZE; i++) snprintf(tag + 2 * i, 3, "%02x", pi.tag[i]);
  out.Set("tag", tag);
  out.Set("runTimeNs", Napi::BigInt::New(env, static_cast<uint64_t>(pi.run_time_ns)));
  out.Set("runCnt", Napi::BigInt::New(env, static_cast<uint64_t>(pi.run_cnt)));
  out.Set("recursionMisses", Napi::BigInt::New(env, static_cast<uint64_t>(pi.recursion_misses)));
  out.Set("verifiedInsns", pi.verified_insns);
  out.Set("xlatedLen", pi.xlated_prog_len);
  out.Set("jitedLen", pi.jited_prog_len);
  out.Set("loadTime", Napi::BigInt::New(env, static_cast<uint64_t>(pi.load_time)));
  out.Set("btfId", pi.btf_id);
  return out;
}

Napi::Value MapInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "map fd");
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof(mi));
  __u32 len = sizeof(mi);
  if (bpf_obj_get_info_by_fd(fd, &mi, &len) != 0) ThrowErrno(env, "bpf_obj_get_info_by_fd(map)", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", mi.id);
  out.Set("type", MapTypeName(static_cast<enum bpf_map_type>(mi.type)));
  out.Set("name", mi.name);
  out.Set("keySize", mi.key_size);
  out.Set("valueSize", mi.value_size);
  out.Set("maxEntries", mi.max_entries);
  out.Set("flags", mi.map_flags);
  out.Set("btfVmlinuxValueTypeId", mi.btf_vmlinux_value_type_id);
  return out;
}

Napi::Value LinkInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "link fd");
  struct bpf_link_info li;
  memset(&li, 0, sizeof(li));
  __u32 len = sizeof(li);
  if (bpf_obj_get_info_by_fd(fd, &li, &len) != 0) ThrowErrno(env, "bpf_obj_get_info_by_fd(link)", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", li.id);
  out.Set("type", li.type);
  out.Set("progId", li.prog_id);
  // 6.4+ uapi: struct_ops.map_id is the first u32 of the per-type union.
  __u32 union_first;
  memcpy(&union_first, &li.raw_tracepoint, sizeof(union_first));
  out.Set("structOpsMapId", union_first);
  return out;
}

Napi::Value ProgGetFdById(const Napi::CallbackInfo& info) {
  int fd = bpf_prog_get_fd_by_id(ArgU32(info, 0, "program id"));
  if (fd < 0) ThrowErrno(info.Env(), "bpf_prog_get_fd_by_id", errno);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value MapGetFdById(const Napi::CallbackInfo& info) {
  int fd = bpf_map_get_fd_by_id(ArgU32(info, 0, "map id"));
  if (fd < 0) ThrowErrno(info.Env(), "bpf_map_get_fd_by_id", errno);
  return Napi::Number::New(info.Env(), fd);
}

// linkUpdateMap(linkFd, newMapFd, oldMapFd | -1): what bpf_link__update_map does after it
// has written the new map's value (attachStructOps on the new object did that).
Napi::Value LinkUpdateMap(const Napi::CallbackInfo& info) {
  int link_fd = ArgInt(info, 0, "link fd");
  int map_fd = ArgInt(info, 1, "new map fd");
  int old_fd = info.Length() > 2 ? ArgInt(info, 2, "old map fd") : -1;
  LIBBPF_OPTS(bpf_link_update_opts, opts);
  if (old_fd >= 0) {
    opts.flags = BPF_F_REPLACE;
    opts.old_prog_fd = static_cast<__u32>(old_fd);  // the kernel's union with old_map_fd
  }
  if (bpf_link_update(link_fd, map_fd, &opts) != 0) ThrowErrno(info.Env(), "bpf_link_update(struct_ops map)", errno);
  return info.Env().Undefined();
}

Napi::Value LinkDetach(const Napi::CallbackInfo& info) {
  if (bpf_link_detach(ArgInt(info, 0, "link fd")) != 0) ThrowErrno(info.Env(), "bpf_link_detach", errno);
  return info.Env().Undefined();
}

Napi::Value MountBpffs(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "mount point");
  if (mount("bpf", path.c_str(), "bpf", 0, "mode=0700") != 0) ThrowErrno(info.Env(), "mount(bpf, " + path + ")", errno);
  return info.Env().Undefined();
}

Napi::Value Unmount(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "mount point");
  if (umount2(path.c_str(), MNT_DETACH) != 0) ThrowErrno(info.Env(), "umount2(" + path + ")", errno);
  return info.Env().Undefined();
}

Napi::Value EnableStats(const Napi::CallbackInfo& info) {
  int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) ThrowErrno(info.Env(), "bpf_enable_stats(BPF_STATS_RUN_TIME)", errno);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowErrno(info.Env(), "libbpf_num_possible_cpus", n);
  return Napi::Number::New(info.Env(), n);
}

// Ids of every loaded object of a kind ("prog", "map", "link"), via BPF_*_GET_NEXT_ID.
Napi::Value ObjectIds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = ArgString(info, 0, "object kind");
  int (*next)(__u32, __u32*) = nullptr;
  if (kind == "prog") next = bpf_prog_get_next_id;
  else if (kind == "map") next = bpf_map_get_next_id;
  else if (kind == "link") next = bpf_link_get_next_id;
  else ThrowType(env, "object kind must be prog, map or link, not " + kind);
  Napi::Array out = Napi::Array::New(env);
  __u32 id = 0;
  uint32_t i = 0;
  while (next(id, &id) == 0) out.Set(i++, id);
  if (errno != ENOENT) ThrowErrno(env, "bpf_" + kind + "_get_next_id", errno);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  libbpf_set_print(CaptureLibbpfPrint);
  exports.Set("libbpfVersion", Napi::String::New(env, std::to_string(LIBBPF_MAJOR_VERSION) + "." +
                                                          std::to_string(LIBBPF_MINOR_VERSION)));
  exports.Set("BpfObject", BpfObject::Init(env));
  exports.Set("Btf", Btf::Init(env));
  exports.Set("objGet", Napi::Function::New(env, ObjGet));
  exports.Set("objPin", Napi::Function::New(env, ObjPin));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("mapLookup", Napi::Function::New(env, MapLookup));
  exports.Set("mapUpdate", Napi::Function::New(env, MapUpdate));
  exports.Set("mapDelete", Napi::Function::New(env, MapDelete));
  exports.Set("mapGetNextKey", Napi::Function::New(env, MapGetNextKey));
  exports.Set("mapUpdateBatch", Napi::Function::New(env, MapUpdateBatch));
  exports.Set("mapDeleteBatch", Napi::Function::New(env, MapDeleteBatch));
  exports.Set("mapLookupBatch", Napi::Function::New(env, MapLookupBatch));
  exports.Set("progTestRun", Napi::Function::New(env, ProgTestRun));
  exports.Set("progInfo", Napi::Function::New(env, ProgInfo));
  exports.Set("mapInfo", Napi::Function::New(env, MapInfo));
  exports.Set("linkInfo", Napi::Function::New(env, LinkInfo));
  exports.Set("progGetFdById", Napi::Function::New(env, ProgGetFdById));
  exports.Set("mapGetFdById", Napi::Function::New(env, MapGetFdById));
  exports.Set("linkUpdateMap", Napi::Function::New(env, LinkUpdateMap));
  exports.Set("linkDetach", Napi::Function::New(env, LinkDetach));
  exports.Set("mountBpffs", Napi::Function::New(env, MountBpffs));
  exports.Set("unmount", Napi::Function::New(env, Unmount));
  exports.Set("enableStats", Napi::Function::New(env, EnableStats));
  exports.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus));
  exports.Set("objectIds", Napi::Function::New(env, ObjectIds));
  return exports;
}

}  // namespace

NODE_API_MODULE(thp_bpf, Init)

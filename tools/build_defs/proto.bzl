"""C++ code generation from .proto files with the system protoc (offline).

The native proto rules would download @com_google_protobuf, so a genrule runs
Debian's protoc (and grpc_cpp_plugin for services) from the workspace root.
"""

def rw_cc_proto_library(name, srcs, deps = [], grpc = False, visibility = None):
    """Generates <src>.pb.{h,cc} (and .grpc.pb.{h,cc} when grpc) and a cc_library.

    Args:
      name: the cc_library's name.
      srcs: .proto files in this package.
      deps: other rw_cc_proto_library targets whose .proto files these import.
      grpc: also generate gRPC service code.
      visibility: of the cc_library.
    """
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    pkg = native.package_name()
    cmd = "protoc -I. --cpp_out=$(GENDIR)"
    if grpc:
        cmd += " --grpc_out=$(GENDIR) --plugin=protoc-gen-grpc=$$(which grpc_cpp_plugin)"
    cmd += " " + " ".join([pkg + "/" + s for s in srcs])
    native.genrule(
        name = name + "_gen",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = cmd,
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = srcs + [d + "_srcs" for d in deps],
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["//third_party/system:protobuf"] +
               (["//third_party/system:grpc"] if grpc else []),
        visibility = visibility,
    )

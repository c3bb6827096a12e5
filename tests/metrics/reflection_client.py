"""A gRPC client that knows no service in advance: it asks the server's
reflection service (grpc.reflection.v1alpha, as grpcurl does) for a service's
descriptors and calls its methods with dynamic messages.

python3-grpcio 1.51 has no reflection module, so the reflection messages are
built here from their published definition (grpc/reflection/v1alpha/
reflection.proto: the fields used, with their names and numbers) in a
descriptor pool of our own.
"""

import grpc
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory

REFLECTION_METHOD = ("/grpc.reflection.v1alpha.ServerReflection/"
                     "ServerReflectionInfo")


def _reflection_file():
  """FileDescriptorProto of the part of reflection.proto a client needs."""
  f = descriptor_pb2.FileDescriptorProto()
  f.name = "grpc/reflection/v1alpha/reflection.proto"
  f.package = "grpc.reflection.v1alpha"
  f.syntax = "proto3"
  T = descriptor_pb2.FieldDescriptorProto

  def message(name, fields, oneof=None):
    m = f.message_type.add()
    m.name = name
    if oneof:
      m.oneof_decl.add().name = oneof
    for fname, number, ftype, label, type_name, in_oneof in fields:
      field = m.field.add()
      field.name, field.number, field.type, field.label = (fname, number,
                                                           ftype, label)
      if type_name:
        field.type_name = type_name
      if in_oneof:
        field.oneof_index = 0
    return m

  opt, rep = T.LABEL_OPTIONAL, T.LABEL_REPEATED
  pkg = ".grpc.reflection.v1alpha."
  message("ServerReflectionRequest", [
      ("host", 1, T.TYPE_STRING, opt, None, False),
      ("file_by_filename", 3, T.TYPE_STRING, opt, None, True),
      ("file_containing_symbol", 4, T.TYPE_STRING, opt, None, True),
      ("list_services", 7, T.TYPE_STRING, opt, None, True),
  ], oneof="message_request")
  message("FileDescriptorResponse",
          [("file_descriptor_proto", 1, T.TYPE_BYTES, rep, None, False)])
  message("ServiceResponse", [("name", 1, T.TYPE_STRING, opt, None, False)])
  message("ListServiceResponse", [
      ("service", 1, T.TYPE_MESSAGE, rep, pkg + "ServiceResponse", False)
  ])
  message("ErrorResponse", [
      ("error_code", 1, T.TYPE_INT32, opt, None, False),
      ("error_message", 2, T.TYPE_STRING, opt, None, False),
  ])
  message("ServerReflectionResponse", [
      ("valid_host", 1, T.TYPE_STRING, opt, None, False),
      ("original_request", 2, T.TYPE_MESSAGE, opt,
       pkg + "ServerReflectionRequest", False),
      ("file_descriptor_response", 4, T.TYPE_MESSAGE, opt,
       pkg + "FileDescriptorResponse", True),
      ("list_services_response", 6, T.TYPE_MESSAGE, opt,
       pkg + "ListServiceResponse", True),
      ("error_response", 7, T.TYPE_MESSAGE, opt, pkg + "ErrorResponse", True),
  ], oneof="message_response")
  return f


def _message_class(pool, full_name):
  descriptor = pool.FindMessageTypeByName(full_name)
  return message_factory.MessageFactory(pool).GetPrototype(descriptor)


class ReflectionClient:
  """Resolves services through reflection and calls them dynamically."""

  def __init__(self, channel):
    self.channel = channel
    own = descriptor_pool.DescriptorPool()
    own.Add(_reflection_file())
    self._request = _message_class(
        own, "grpc.reflection.v1alpha.ServerReflectionRequest")
    self._response = _message_class(
        own, "grpc.reflection.v1alpha.ServerReflectionResponse")
    self._info = channel.stream_stream(
        REFLECTION_METHOD,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=self._response.FromString)
    # Descriptors learnt from the server.
    self.pool = descriptor_pool.DescriptorPool()
    self._files = set()

  def _ask(self, **request):
    responses = list(self._info(iter([self._request(**request)]), timeout=10))
    assert len(responses) == 1, responses
    response = responses[0]
    if response.HasField("error_response"):
      raise LookupError(f"reflection: {request}: "
                        f"{response.error_response.error_message} "
                        f"(code {response.error_response.error_code})")
    return response

  def list_services(self):
    response = self._ask(list_services="*")
    return [s.name for s in response.list_services_response.service]

  def resolve_service(self, name):
    """The ServiceDescriptor of `name`, with every file it needs added to
    self.pool."""
    response = self._ask(file_containing_symbol=name)
    files = [descriptor_pb2.FileDescriptorProto.FromString(b)
             for b in response.file_descriptor_response.file_descriptor_proto]
    # Dependencies first: add what has all its imports, until none is left.
    pending = [f for f in files if f.name not in self._files]
    while pending:
      ready = [f for f in pending
               if all(d in self._files for d in f.dependency)]
      if not ready:
        for f in pending:
          for dep in f.dependency:
            if dep not in self._files:
              self._add_file_by_name(dep)
        continue
      for f in ready:
        self.pool.Add(f)
        self._files.add(f.name)
      pending = [f for f in pending if f.name not in self._files]
    return self.pool.FindServiceByName(name)

  def _add_file_by_name(self, filename):
    response = self._ask(file_by_filename=filename)
    for b in response.file_descriptor_response.file_descriptor_proto:
      f = descriptor_pb2.FileDescriptorProto.FromString(b)
      if f.name not in self._files and all(d in self._files
                                           for d in f.dependency):
        self.pool.Add(f)
        self._files.add(f.name)

  def message(self, full_name, **fields):
    return _message_class(self.pool, full_name)(**fields)

  def method(self, service, method_name):
    """A callable for service.method_name: unary-unary or unary-stream, as
    the descriptor says."""
    method = service.methods_by_name[method_name]
    output = _message_class(self.pool, method.output_type.full_name)
    path = f"/{service.full_name}/{method.name}"
    kwargs = dict(request_serializer=lambda m: m.SerializeToString(),
                  response_deserializer=output.FromString)
    if method.server_streaming:
      return self.channel.unary_stream(path, **kwargs)
    return self.channel.unary_unary(path, **kwargs)

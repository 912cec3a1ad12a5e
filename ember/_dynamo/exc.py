"""torch._dynamo.exc: the errors torch.compile raises about its arguments."""

__all__ = ["TorchDynamoException", "InvalidBackend"]


class TorchDynamoException(RuntimeError):
    pass


class InvalidBackend(TorchDynamoException):
    def __init__(self, name):
        super().__init__(f"Invalid backend: {name!r}, see `torch._dynamo.list_backends()` for available backends.")

from typing import Any


def validate_input(serializer_class, data: Any, **kwargs) -> dict:
    """Run an input serializer; a failure becomes a 400 envelope with readable messages."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data

"""Make ``chalice local`` answer like API Gateway when an authorizer refuses a token.

API Gateway turns a TOKEN authorizer that fails with the message ``Unauthorized`` into
``401 {"message":"Unauthorized"}``; ``chalice local`` lets the exception escape and the client
gets no response at all. The local stack maps it the way API Gateway does.
"""

from __future__ import annotations

from typing import Any

_patched = False


def patch_authorizer_fidelity() -> None:
    global _patched
    if _patched:
        return
    from chalice import local

    original = local.LocalGatewayAuthorizer.authorize

    def authorize(self: Any, raw_path: str, lambda_event: Any, lambda_context: Any) -> Any:
        try:
            return original(self, raw_path, lambda_event, lambda_context)
        except local.LocalGatewayException:
            raise
        except Exception as exc:
            if str(exc) != "Unauthorized":
                raise
            raise local.NotAuthorizedError(
                {"x-amzn-RequestId": lambda_context.aws_request_id, "x-amzn-ErrorType": "UnauthorizedException"},
                b'{"message":"Unauthorized"}',
            ) from exc

    local.LocalGatewayAuthorizer.authorize = authorize  # type: ignore[method-assign]
    _patched = True

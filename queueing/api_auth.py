"""`Authorization: Bearer <key>` for the HTTP API, answered the way Resend answers.

- no key (or not a Bearer one): 401 `missing_api_key`;
- a key mailhub does not know, or a revoked one: 403 `invalid_api_key` (Resend's long-standing
  answer; its newer pages also show 401 `validation_error` on sending endpoints, which
  mailhub does not give);
- a valid key without the endpoint's scope: 401 `restricted_api_key`;
- over the key's own rate limit: 429 `rate_limit_exceeded` with `retry-after`.

Each router of an app passes its scope: `auth=ApiKeyAuth(ApiScope.SEND)`. The key found is
`request.auth`; the rate-limit headers, if any, go on every answer (`request.api_headers`,
added by mailhub's API middleware).
"""

from django.http import HttpRequest
from ninja.security import HttpBearer

from queueing import api_rate_limit
from queueing.api_errors import ApiRefused
from queueing.api_keys import api_key_find
from queueing.models import ApiKey
from queueing.resend import errors


class ApiKeyAuth(HttpBearer):
    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def __call__(self, request: HttpRequest) -> ApiKey:
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiRefused(errors.missing_api_key())
        return self.authenticate(request, token)

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:
        api_key = api_key_find(token)
        if api_key is None:
            raise ApiRefused(errors.invalid_api_key())
        if self.scope not in api_key.scopes:
            raise ApiRefused(
                errors.restricted_api_key(
                    f"This API key may not use this endpoint: it needs the `{self.scope}` scope."
                )
            )
        decision = api_rate_limit.admit(api_key.pk, api_key.rate_limit)
        if decision is not None:
            request.api_headers = decision.headers
            if not decision.allowed:
                raise ApiRefused(errors.rate_limit_exceeded(), decision.headers)
        return api_key

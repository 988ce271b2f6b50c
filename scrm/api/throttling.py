"""One rate limit per caller: per API key, per staff account, or per address when anonymous."""

from rest_framework.throttling import SimpleRateThrottle


class PrincipalRateThrottle(SimpleRateThrottle):
    scope = "principal"

    def get_cache_key(self, request, view):
        user = request.user
        api_key = getattr(user, "api_key", None)
        if api_key is not None:
            ident = f"key:{api_key.pk}"
        elif user and user.is_authenticated:
            ident = f"user:{user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

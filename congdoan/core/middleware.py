from django.http import QueryDict
from django.middleware.locale import LocaleMiddleware
import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdMiddleware:
    """Gives each request an id (or keeps the proxy's X-Request-ID) for the audit log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        request.request_id = rid
        token = request_id_var.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = rid
        return response


class VietnameseFirstLocaleMiddleware(LocaleMiddleware):
    """Pages are in Vietnamese unless the user picked English (the language cookie set by the
    switcher in the header): a phone or office PC set to English must not turn the union's pages
    English. The JSON API still honours Accept-Language, which is how a client asks for a language."""

    def process_request(self, request):
        if not request.path.startswith("/api/"):
            request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        super().process_request(request)


class StripNulQueryMiddleware:
    """PostgreSQL text cannot hold a NUL byte: a `%00` in a query string (a search box, a filter)
    would end in a 500 wherever a view reads request.GET directly. Drop NUL bytes once, here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "%00" in request.META.get("QUERY_STRING", "").upper() or "\x00" in request.META.get("QUERY_STRING", ""):
            cleaned = QueryDict(mutable=True)
            for key, values in request.GET.lists():
                cleaned.setlist(key.replace("\x00", ""), [v.replace("\x00", "") for v in values])
            cleaned._mutable = False
            request.GET = cleaned
        return self.get_response(request)

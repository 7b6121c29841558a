"""The JSON API under /api/: schema at /api/openapi.json, interactive docs at /api/docs.

Each app adds its router here. Authentication (an API key, or the browser session with its
CSRF token) and the shape of every error are set once, in congdoan.core.api_auth; docs/api.md
explains them to the people who write programs against it.
"""

from ninja import NinjaAPI

from congdoan.core.api_auth import ApiKeyAuth, BrowserSessionAuth, install_error_handlers
from congdoan.members.api import router as members_router
from congdoan.organizations.api import router as units_router

from congdoan.budgets.api import router as budgets_router  # noqa: E402
from congdoan.finance.api import router as finance_router  # noqa: E402
from congdoan.finance_reports.api import router as finance_reports_router  # noqa: E402

api = NinjaAPI(
    title="Công đoàn số API",
    version="1",
    urls_namespace="api",
    description=(
        "Units and members of the union tree, scoped exactly like the web pages: a caller sees and "
        "changes only the subtrees where his roles lie; anything else answers 404. Authenticate with "
        "`Authorization: Bearer <key>` (make a key under Security → API keys) or a browser session "
        "(unsafe methods need the `X-CSRFToken` header). Errors: `{code, field, message}`, the message "
        "in the language of `Accept-Language` (Vietnamese by default). Dates are ISO 8601."
    ),
    auth=[ApiKeyAuth(), BrowserSessionAuth()],
)
install_error_handlers(api)

api.add_router("/units", units_router)
api.add_router("/members", members_router)
api.add_router("/finance", finance_router)
api.add_router("/budgets", budgets_router)
api.add_router("/finance-reports", finance_reports_router)

"""The JSON API under /api/ (schema at /api/openapi.json). Each app adds its router here."""

from ninja import NinjaAPI

api = NinjaAPI(title="Công đoàn số API", version="1", urls_namespace="api")

"""The API's routes, one module per resource; the native ones under ``API_PREFIX``."""

API_PREFIX = "/api/v1"

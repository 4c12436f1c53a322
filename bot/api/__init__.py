"""The read-only REST API under /api/ (README, "REST API"): the bot's records for notebooks, spreadsheets and other services.

selectors.py    the querysets it reads (nothing here writes), each page a fixed number of queries
filters.py      the query parameters, validated by django-filter: a bad value is a 400, never ignored
pagination.py   limit/offset pages with a `count` and `results`
permissions.py  who may read what: the admin's own view permissions
serializers.py  what a record looks like; X's ids are strings
schema.py       the OpenAPI description of the error answers
views.py        the viewsets
urls.py         the router, /api/schema/ and /api/docs/
"""

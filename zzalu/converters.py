"""``<id:name>`` in URL patterns: a row id, at most 18 digits.

Django's ``<int:…>`` matches any number of digits, and a number past 2**63 - 1 reaches the
database as an overflow (a 500 on SQLite; PostgreSQL's bigint refuses it too). Ids are never
that long, so such a path is simply not found. Importing this module registers the converter;
every urls/routing module that uses it imports it first.
"""

from django.urls import register_converter


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

"""Web edge: Starlette app, HTML views, the JSON API.

Importing this package replaces Starlette's `{name:int}` path convertor with one that matches only ids a
database integer column can hold (0 … 2^31-1): a larger id is simply "no such page" (404) on every route,
core and plug-ins alike, instead of an out-of-range error in the database.
"""

from __future__ import annotations

from starlette.convertors import IntegerConvertor, register_url_convertor

INT32_MAX = 2**31 - 1
# Any number of leading zeros, then 1-10 digits not above 2147483647 (checked digit by digit).
_INT32 = (
    "0*(?:[0-9]{1,9}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}|2147[0-3][0-9]{5}"
    "|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}|21474836[0-3][0-9]|214748364[0-7])"
)


class Int32Convertor(IntegerConvertor):
    """`{name:int}`: a non-negative id within a 32-bit integer column."""

    regex = _INT32


register_url_convertor("int", Int32Convertor())

"""DynamoDB items: typed <-> plain conversion, floats to Decimal, deterministic display.

DynamoDB's low-level API (``boto3.client("dynamodb")``) speaks *typed* items, where
every value is wrapped in a one-key dict naming its type::

    {"id": {"N": "123"}, "favorite_movies": {"SS": ["The Matrix", "Tenet"]}}

The resource API (``boto3.resource("dynamodb").Table(...)``) speaks *plain* Python::

    {"id": Decimal("123"), "favorite_movies": {"The Matrix", "Tenet"}}

Both are converted by boto3's own ``TypeSerializer`` / ``TypeDeserializer``; this
module wraps them for whole items and adds the two checks boto3 leaves to DynamoDB
(empty sets, which the service rejects) or to the caller (floats, which boto3 refuses
because binary floating point cannot represent most decimals exactly).

The type letters, for reference
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html):

======  ======================  ==========================
letter  DynamoDB type           plain Python (boto3)
======  ======================  ==========================
S       string                  str
N       number (sent as text)   decimal.Decimal
B       binary                  boto3 ``Binary`` (bytes)
BOOL    boolean                 bool
NULL    null                    None
M       map                     dict
L       list                    list
SS      string set              set of str
NS      number set              set of Decimal
BS      binary set              set of Binary
======  ======================  ==========================

Sets have no order: DynamoDB may return ``["Tenet", "The Matrix"]`` for a set written
as ``["The Matrix", "Tenet"]``, and a Python ``set`` prints in an order that changes
from one interpreter to the next. :func:`pretty` sorts them, so printed items are the
same on every run.
"""

from __future__ import annotations

import math
import pprint
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from helpers.errors import TutorialError

__all__ = ["SET_TYPES", "decimals", "pretty", "to_plain", "to_typed"]

#: Type letters of DynamoDB's three set types.
SET_TYPES = frozenset({"SS", "NS", "BS"})

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _check_no_empty_sets(value: Any, path: str) -> None:
    """DynamoDB rejects empty sets; boto3 would send one anyway, as an empty ``NS``."""
    if isinstance(value, (set, frozenset)):
        if not value:
            raise TutorialError(
                f"Attribute {path} is an empty set, and DynamoDB does not store empty sets.",
                "Leave the attribute out (or use an empty list, type L) until it has a member.",
            )
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            _check_no_empty_sets(inner, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, inner in enumerate(value):
            _check_no_empty_sets(inner, f"{path}[{i}]")


def to_typed(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A plain item (``{"id": 123, ...}``) in the typed form the low-level client takes.

    Raises ``TypeError`` for a float, exactly as boto3 does (convert with :func:`decimals`
    first), and :class:`TutorialError` for an empty set, which DynamoDB would reject.
    """
    if not isinstance(item, Mapping):
        raise TypeError(f"an item is a mapping of attribute names to values, not {type(item).__name__}")
    typed: dict[str, dict[str, Any]] = {}
    for name, value in item.items():
        _check_no_empty_sets(value, name)
        typed[name] = _serializer.serialize(value)
    return typed


def to_plain(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A typed item (as ``client.get_item(...)["Item"]`` returns it) as plain Python.

    Numbers become ``Decimal`` (never float, so nothing is rounded), sets become
    Python sets, maps and lists are converted all the way down.
    """
    if not isinstance(item, Mapping):
        raise TypeError(f"a typed item is a mapping of attribute names to typed values, not {type(item).__name__}")
    plain: dict[str, Any] = {}
    for name, value in item.items():
        if not isinstance(value, Mapping) or len(value) != 1:
            raise TutorialError(
                f"Attribute {name!r} is not a typed value: {value!r}.",
                'Typed values are one-key dicts such as {"S": "matt"} or {"N": "123"}; '
                "plain items go to the resource API (boto3.resource('dynamodb').Table) instead.",
            )
        plain[name] = _deserializer.deserialize(value)
    return plain


def float_to_decimal(value: float) -> Decimal:
    """The Decimal the writer of ``value`` meant; NaN and infinity refused with a fix.

    Shared by :func:`decimals` (lesson 03) and lesson 05's own row conversion, which decides
    beforehand that a NaN in a DataFrame means "missing" and leaves the attribute out.
    """
    if math.isnan(value) or math.isinf(value):
        raise TutorialError(
            f"{value!r} cannot be stored: DynamoDB numbers have no NaN or infinity.",
            "Leave the attribute out (or store None, type NULL) for a missing value; "
            "replace infinite values before writing.",
        )
    return Decimal(str(value))  # str() keeps 0.1 as 0.1, not 0.1000000000000000055511151231257827


def decimals(value: Any) -> Any:
    """A copy of ``value`` with every float replaced by the Decimal of its shortest repr.

    ``Decimal(str(0.1))`` is ``Decimal('0.1')``, what the writer meant; ``Decimal(0.1)``
    would be ``Decimal('0.1000000000000000055511151231257827021181583404541015625')``,
    which is what the float really holds. NaN and infinities are refused: DynamoDB
    numbers cannot hold them.
    """
    if isinstance(value, bool):  # bool is an int subclass: keep it a bool
        return value
    if isinstance(value, float):
        return float_to_decimal(value)
    if isinstance(value, Mapping):
        return {key: decimals(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [decimals(inner) for inner in value]
    if isinstance(value, tuple):
        return tuple(decimals(inner) for inner in value)
    if isinstance(value, (set, frozenset)):
        return {decimals(inner) for inner in value}
    return value


class _SortedSet:
    """Prints a set with its members sorted, so the text is the same on every run."""

    def __init__(self, members: list[Any]) -> None:
        self.members = members

    def __repr__(self) -> str:
        if not self.members:
            return "set()"
        return "{" + ", ".join(repr(m) for m in self.members) + "}"


def _sort_key(value: Any) -> tuple[str, Any]:
    # Members of one DynamoDB set share a type; group by type anyway so mixed Python sets sort too.
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return ("number", Decimal(str(value)) if isinstance(value, float) else Decimal(value))
    if isinstance(value, (str, bytes)):
        return (type(value).__name__, value)
    return (type(value).__name__, repr(value))


# How members of a typed set compare: strings as text, numbers (sent as text) by value, binaries as bytes.
_TYPED_SET_KEYS = {"SS": str, "NS": Decimal, "BS": bytes}


def _for_display(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return _SortedSet(sorted((_for_display(v) for v in value), key=_sort_key))
    if isinstance(value, Mapping):
        if len(value) == 1:
            ((letter, inner),) = value.items()
            if letter in SET_TYPES and isinstance(inner, list):
                # A typed set: the list's order is whatever DynamoDB returned.
                return {letter: sorted(inner, key=_TYPED_SET_KEYS[letter])}
        return {key: _for_display(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_for_display(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_for_display(v) for v in value)
    return value


def pretty(item: Any, width: int = 100) -> str:
    """``pprint`` text of an item (typed or plain) with keys and set members sorted.

    Python sets print sorted; in typed items the lists under ``SS``, ``NS`` and ``BS``
    print sorted (numerically for ``NS``). Nothing else is reordered: a list (type L)
    keeps the order it was written in, because that order is data. (A plain map whose
    only key is ``"SS"``, ``"NS"`` or ``"BS"`` holding a list looks exactly like a typed
    set and is sorted as one; that is the price of accepting both forms.)
    """
    return pprint.pformat(_for_display(item), width=width, sort_dicts=True)

"""helpers.dynamo: typed <-> plain items, floats to Decimal, deterministic display.

The conversion tests run offline; the last ones write and read a real (emulated)
table through both boto3 APIs, to check that the helpers agree with what DynamoDB
itself stores and returns.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from boto3.dynamodb.types import Binary

from helpers.dynamo import decimals, pretty, to_plain, to_typed
from helpers.errors import TutorialError

ARTICLE_ITEM_TYPED = {
    "id": {"N": "123"},
    "first_name": {"S": "matt"},
    "last_name": {"S": "sosna"},
    "favorite_movies": {"SS": ["The Matrix", "Tenet"]},
}

RICH_PLAIN = {
    "id": Decimal("789"),
    "name": "ada",
    "is_wizard": False,
    "nickname": None,
    "height_m": Decimal("1.65"),
    "favorite_movies": {"Tenet", "The Matrix"},
    "lucky_numbers": {Decimal("7"), Decimal("-3.5")},
    "photos": {Binary(b"\x00\x01"), Binary(b"\xff")},
    "avatar": Binary(b"\x89PNG"),
    "tags": ["b", "a", "b"],
    "address": {"city": "London", "geo": {"lat": Decimal("51.5"), "lon": Decimal("-0.12")}, "zip": None},
    "history": [{"year": Decimal("2022"), "sets": {"x"}}, [Decimal("1"), True]],
}


def test_article_item_to_plain():
    plain = to_plain(ARTICLE_ITEM_TYPED)
    assert plain == {
        "id": Decimal("123"),
        "first_name": "matt",
        "last_name": "sosna",
        "favorite_movies": {"The Matrix", "Tenet"},
    }
    assert isinstance(plain["id"], Decimal)
    assert isinstance(plain["favorite_movies"], set)


def test_plain_to_typed_uses_type_letters():
    typed = to_typed({"id": 456, "first_name": "fireball", "is_wizard": True, "pet": None})
    assert typed == {
        "id": {"N": "456"},
        "first_name": {"S": "fireball"},
        "is_wizard": {"BOOL": True},
        "pet": {"NULL": True},
    }


def test_round_trip_plain_typed_plain():
    typed = to_typed(RICH_PLAIN)
    assert typed["favorite_movies"].keys() == {"SS"}
    assert typed["lucky_numbers"].keys() == {"NS"}
    assert typed["photos"].keys() == {"BS"}
    assert typed["address"]["M"]["geo"]["M"]["lat"] == {"N": "51.5"}
    assert typed["address"]["M"]["zip"] == {"NULL": True}
    assert typed["tags"] == {"L": [{"S": "b"}, {"S": "a"}, {"S": "b"}]}
    assert typed["is_wizard"] == {"BOOL": False}
    back = to_plain(typed)
    assert back == RICH_PLAIN
    # bool stays bool (not the number 0), Decimal stays Decimal (not float)
    assert back["is_wizard"] is False
    assert isinstance(back["history"][1][1], bool)
    assert isinstance(back["address"]["geo"]["lat"], Decimal)


def test_round_trip_typed_plain_typed():
    typed = to_typed(RICH_PLAIN)
    again = to_typed(to_plain(typed))
    # sets come back as sets, so compare set members regardless of order
    for name in ("favorite_movies", "lucky_numbers", "photos"):
        (letter,) = typed[name]
        assert sorted(map(str, again[name][letter])) == sorted(map(str, typed[name][letter]))
        del again[name], typed[name]
    assert again == typed


def test_float_is_refused_like_boto3_and_decimals_fixes_it():
    with pytest.raises(TypeError, match="Float types are not supported"):
        to_typed({"id": 1, "height_m": 1.65})
    fixed = decimals({"id": 1, "height_m": 1.65, "scores": [0.1, 2], "flag": True, "nested": {"x": 3.0}})
    assert fixed == {
        "id": 1,
        "height_m": Decimal("1.65"),
        "scores": [Decimal("0.1"), 2],
        "flag": True,
        "nested": {"x": Decimal("3.0")},
    }
    assert fixed["flag"] is True
    assert to_typed(fixed)["height_m"] == {"N": "1.65"}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_decimals_refuses_nan_and_infinity(bad):
    with pytest.raises(TutorialError, match="NaN or infinity"):
        decimals({"x": [bad]})


def test_empty_set_is_refused_with_the_attribute_path():
    with pytest.raises(TutorialError, match=r"address\.pets"):
        to_typed({"id": 1, "address": {"pets": set()}})


def test_to_plain_refuses_plain_values():
    with pytest.raises(TutorialError, match="not a typed value"):
        to_plain({"id": 123})
    with pytest.raises(TypeError):
        to_plain([("id", {"N": "1"})])


def test_pretty_sorts_sets_but_not_lists():
    assert pretty({"s": {"b", "c", "a"}, "l": ["b", "a"]}) == "{'l': ['b', 'a'], 's': {'a', 'b', 'c'}}"
    assert pretty({"n": {Decimal("10"), Decimal("9")}}) == "{'n': {Decimal('9'), Decimal('10')}}"
    assert pretty({"e": set()}) == "{'e': set()}"
    typed = {"favorite_movies": {"SS": ["The Matrix", "Tenet"]}, "n": {"NS": ["10", "9"]}, "l": {"L": [{"S": "z"}]}}
    assert pretty(typed, width=200) == (
        "{'favorite_movies': {'SS': ['Tenet', 'The Matrix']}, 'l': {'L': [{'S': 'z'}]}, 'n': {'NS': ['9', '10']}}"
    )
    # the input is not modified
    assert typed["favorite_movies"]["SS"] == ["The Matrix", "Tenet"]


def test_pretty_wraps_long_items_one_attribute_per_line():
    text = pretty(to_plain(ARTICLE_ITEM_TYPED), width=60)
    assert text.splitlines() == [
        "{'favorite_movies': {'Tenet', 'The Matrix'},",
        " 'first_name': 'matt',",
        " 'id': Decimal('123'),",
        " 'last_name': 'sosna'}",
    ]


@pytest.fixture
def table(local_stack):
    import boto3

    name = f"{local_stack.prefix}-test-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb", region_name=local_stack.region)
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    yield name
    client.delete_table(TableName=name)


def test_helpers_agree_with_dynamodb(table, local_stack):
    """Written typed through the client, read plain through the resource API, and back."""
    import boto3

    client = boto3.client("dynamodb", region_name=local_stack.region)
    resource_table = boto3.resource("dynamodb", region_name=local_stack.region).Table(table)

    client.put_item(TableName=table, Item=to_typed(RICH_PLAIN))
    assert resource_table.get_item(Key={"id": 789})["Item"] == RICH_PLAIN

    resource_table.put_item(Item=to_plain(ARTICLE_ITEM_TYPED))
    stored = client.get_item(TableName=table, Key={"id": {"N": "123"}})["Item"]
    assert to_plain(stored) == to_plain(ARTICLE_ITEM_TYPED)
    assert pretty(stored) == pretty(ARTICLE_ITEM_TYPED)

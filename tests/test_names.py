"""Names and tags: valid for AWS, stable per participant, distinct between participants."""

from __future__ import annotations

import pytest

from helpers.errors import TutorialError
from helpers.names import Names, series_participant, tags_dict, validate_bucket_name


def test_names_derive_from_prefix():
    names = Names(prefix="ws-alice", account_id="123456789012", region="eu-west-1")
    for value in names.as_dict().values():
        assert value.startswith("ws-alice-")
    assert validate_bucket_name(names.bucket) == names.bucket


def test_bucket_is_stable_and_differs_by_account_region_and_prefix():
    a = Names("ws-alice", "123456789012", "us-east-1")
    assert a.bucket == Names("ws-alice", "123456789012", "us-east-1").bucket
    assert a.bucket != Names("ws-alice", "210987654321", "us-east-1").bucket
    assert a.bucket != Names("ws-alice", "123456789012", "eu-west-1").bucket
    assert a.bucket != Names("ws-bob", "123456789012", "us-east-1").bucket


def test_longest_prefix_still_gives_valid_names():
    names = Names(prefix="a" * 24, account_id="123456789012", region="ap-southeast-2")
    assert len(names.bucket) <= 63
    assert len(names.db_instance) <= 63


@pytest.mark.parametrize(
    "name,reason",
    [
        ("My-Bucket", "uppercase"),
        ("my_bucket", "underscores"),
        ("ab", "3-63"),
        ("a" * 64, "3-63"),
        ("-bucket", "start and end"),
        ("bucket..name", "adjacent"),
        ("192.168.1.1", "IP address"),
    ],
)
def test_invalid_bucket_names_say_why(name, reason):
    with pytest.raises(TutorialError, match=reason):
        validate_bucket_name(name)


def test_tags_and_name_identify_series_and_participant():
    names = Names("ws-alice", "123456789012", "us-east-1")
    tags = names.tags()
    assert series_participant(tags, names.bucket) == "ws-alice"
    assert series_participant(tags, names.bucket, {"ws-alice"}) == "ws-alice"
    assert series_participant(tags, names.bucket, {"ws-bob"}) is None
    assert series_participant(tags, "ws-bob-users") is None  # the tags alone are not enough
    assert series_participant([{"Key": "tutorial", "Value": "something-else"}], names.table) is None
    assert series_participant(None, names.table) is None


def test_tags_dict_accepts_lowercase_keys():
    assert tags_dict([{"key": "a", "value": "1"}, {"Key": "b", "Value": "2"}]) == {"a": "1", "b": "2"}

"""Names and tags: valid for AWS, stable per participant, distinct between participants."""

from __future__ import annotations

import pytest

from helpers.errors import TutorialError
from helpers.names import (
    Names,
    belongs_to,
    db_instance_problems,
    prefix_problems,
    security_group_problems,
    series_participant,
    table_name_problems,
    tags_dict,
    validate_bucket_name,
)


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
        # Reserved by S3 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
        ("xn--bucket", "'xn--', which S3 reserves"),
        ("sthree-bucket", "'sthree-', which S3 reserves"),
        ("amzn-s3-demo-bucket", "'amzn-s3-demo-', which S3 reserves"),
        ("bucket-s3alias", "'-s3alias', which S3 reserves"),
        ("bucket--ol-s3", "'--ol-s3', which S3 reserves"),
        ("bucket.mrap", "'.mrap', which S3 reserves"),
        ("bucket--x-s3", "'--x-s3', which S3 reserves"),
        ("bucket--table-s3", "'--table-s3', which S3 reserves"),
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


@pytest.mark.parametrize(
    "name,reason",
    [
        ("9lives-postgres", "first character must be a letter"),
        ("ws--alice-postgres", "two consecutive hyphens"),
        ("ws-alice-", "ends with a hyphen"),
        ("a" * 64, "64 characters (1-63 allowed)"),
        ("ws_alice-postgres", "only letters, digits and hyphens"),
    ],
)
def test_db_instance_identifier_rules(name, reason):
    """https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html"""
    assert any(reason in problem for problem in db_instance_problems(name))


def test_db_instance_identifier_at_the_limits_is_valid():
    assert db_instance_problems("a" * 63) == [] and db_instance_problems("ws-10-postgres") == []


@pytest.mark.parametrize(
    "name,reason",
    [
        ("sg-team-postgres-sg", "starts with 'sg-'"),
        ("SG-team", "starts with 'sg-'"),
        ("x" * 256, "256 characters"),
        ("ws-alice|sg", "characters EC2 does not allow"),
    ],
)
def test_security_group_name_rules(name, reason):
    """https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html"""
    assert any(reason in problem for problem in security_group_problems(name))


@pytest.mark.parametrize("name,reason", [("ab", "2 characters"), ("ws alice-users", "only letters")])
def test_table_name_rules(name, reason):
    """https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html"""
    assert any(reason in problem for problem in table_name_problems(name))
    assert table_name_problems("ws-alice_v1.users") == []


@pytest.mark.parametrize(
    "prefix,kind,reason",
    [
        ("sg-team", "security group name", "starts with 'sg-'"),
        ("sthree", "S3 bucket name", "'sthree-'"),
        ("amzn-s3-demo", "S3 bucket name", "'amzn-s3-demo-'"),
        ("9lives", "RDS DB instance identifier", "first character must be a letter"),
        ("ws--a", "RDS DB instance identifier", "two consecutive hyphens"),
        ("x" * 60, "RDS DB instance identifier", "69 characters"),
        ("x" * 60, "S3 bucket name", "74 characters"),
        ("ws a", "DynamoDB table name", "only letters"),
        ("ws_a", "S3 bucket name", "underscores"),
    ],
)
def test_prefix_problems_name_the_built_name_and_the_rule(prefix, kind, reason):
    """Every name the prefix builds is checked by its own service's rules, whatever the prefix's shape."""
    problems = [p for p in prefix_problems(prefix) if p.startswith(f"the {kind} ")]
    assert problems and reason in problems[0]


def test_names_refuse_to_build_a_name_aws_refuses():
    names = Names("sg-alice", "123456789012", "us-east-1")
    with pytest.raises(TutorialError, match="not a valid security group name.*'sg-'"):
        _ = names.security_group
    assert names.db_instance == "sg-alice-postgres"  # the others stay valid


def test_a_prefix_owns_only_names_with_its_hyphen():
    """ws-10 and ws-100 share a workshop account: ws-100's names start with "ws-10" but are not ws-10's."""
    assert belongs_to("ws-10-users", "ws-10")
    assert not belongs_to("ws-100-users", "ws-10")
    assert not belongs_to("ws-10", "ws-10")  # the series names nothing the bare prefix
    assert belongs_to("ws-100-users", "ws-100")


def test_a_resource_of_ws_100_is_not_ws_10s_even_with_ws_10_s_tags():
    ws100 = Names("ws-100", "123456789012", "us-east-1")
    ws10_tags = Names("ws-10", "123456789012", "us-east-1").tags()
    for name in ws100.as_dict().values():
        assert series_participant(ws100.tags(), name, {"ws-10"}) is None
        assert series_participant(ws10_tags, name) is None  # ws-10's tags on ws-100's name: not proof
        assert series_participant(ws100.tags(), name) == "ws-100"

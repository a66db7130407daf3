"""The emulator through boto3: wire compatibility proven by a client nobody here wrote.

Run by `scripts/test`; needs `METERING_EMULATOR_BIN`, the path of the built binary.
Every emulator here listens on 127.0.0.1 on a free port and stops with its fixture.
"""

import datetime as dt
import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

NOW = dt.datetime(2026, 11, 26, 12, 0, 0, tzinfo=dt.timezone.utc)
PRODUCT = "prod-example123"
ACCOUNT = "123456789012"
UNSUBSCRIBED = "999999999999"
LICENSE = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

CATALOGUE = {
    "unsubscribed": [UNSUBSCRIBED],
    "products": [PRODUCT],
    "known_dimensions": ["api", "storage", "cpu"],
    "licenses": {LICENSE: ACCOUNT},
}


class Emulator:
    """The binary, started on a free loopback port with a frozen clock."""

    def __init__(self, tmp_path, config):
        binary = os.environ["METERING_EMULATOR_BIN"]
        path = tmp_path / f"config-{abs(hash(json.dumps(config, sort_keys=True)))}.json"
        path.write_text(json.dumps(config))
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1:0", "--config", str(path),
             "--now", NOW.isoformat().replace("+00:00", "Z"), "--exit-on-stdin-close"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.url = self.process.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.url

    def client(self):
        return boto3.client(
            "meteringmarketplace",
            region_name="us-east-1",
            endpoint_url=self.url,
            aws_access_key_id="AKID",
            aws_secret_access_key="SECRET",
            # One attempt, and no client-side checks: invalid requests must reach the emulator.
            config=Config(retries={"max_attempts": 1, "mode": "standard"},
                          parameter_validation=False, read_timeout=10, connect_timeout=5),
        )

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.load(response)

    def stop(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture
def start(tmp_path):
    started = []

    def run(config=None):
        emulator = Emulator(tmp_path, CATALOGUE if config is None else config)
        started.append(emulator)
        return emulator

    yield run
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(start):
    return start()


def record(dimension="api", quantity=1, hours_ago=0, account=ACCOUNT, **extra):
    timestamp = NOW - dt.timedelta(hours=hours_ago, minutes=1)
    fields = {"Timestamp": timestamp, "CustomerAWSAccountId": account, "Dimension": dimension}
    if quantity is not None:
        fields["Quantity"] = quantity
    fields.update(extra)
    return {k: v for k, v in fields.items() if v is not None}


def meter(emulator, records, product=PRODUCT):
    params = {"UsageRecords": records}
    if product is not None:
        params["ProductCode"] = product
    return emulator.client().batch_meter_usage(**params)


def rejected(emulator, records, product=PRODUCT):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        meter(emulator, records, product)
    response = caught.value.response
    return (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"],
            response["Error"]["Message"], caught.value)


def statuses(response):
    return [result["Status"] for result in response["Results"]]


def test_success_idempotent_resend_and_duplicate(emulator):
    first = meter(emulator, [record("api", 10), record("storage", 5)])
    assert statuses(first) == ["Success", "Success"]
    ids = [result["MeteringRecordId"] for result in first["Results"]]
    assert all(UUID.match(i) for i in ids), ids
    echoed = first["Results"][0]["UsageRecord"]
    assert echoed["Quantity"] == 10 and echoed["Dimension"] == "api"
    assert echoed["Timestamp"] == NOW - dt.timedelta(minutes=1)
    assert first["UnprocessedRecords"] == []

    again = meter(emulator, [record("storage", 5)])
    assert statuses(again) == ["Success"]
    assert again["Results"][0]["MeteringRecordId"] == ids[1]

    other = meter(emulator, [record("api", 11)])
    assert statuses(other) == ["DuplicateRecord"]
    assert "MeteringRecordId" not in other["Results"][0]

    ledger = emulator.get("/_emulator/ledger")
    assert sorted((e["Dimension"], e["Quantity"], e["MeteringRecordId"]) for e in ledger) == sorted(
        [("api", "10", ids[0]), ("storage", "5", ids[1])])
    summary = emulator.get("/_emulator/summary")
    assert {(row["Dimension"], row["Total"], row["Records"]) for row in summary} == {
        ("api", "10", 1), ("storage", "5", 1)}


def test_decimal_quantities_compare_by_value(emulator):
    first = meter(emulator, [record("cpu", None, QuantityAsDecimal="17")])
    same = meter(emulator, [record("cpu", None, QuantityAsDecimal="17.000")])
    as_integer = meter(emulator, [record("cpu", 17)])
    assert statuses(first) == statuses(same) == statuses(as_integer) == ["Success"]
    ids = {r["Results"][0]["MeteringRecordId"] for r in (first, same, as_integer)}
    assert len(ids) == 1
    other = meter(emulator, [record("cpu", None, QuantityAsDecimal="17.5")])
    assert statuses(other) == ["DuplicateRecord"]

    split = record("api", None, hours_ago=1, QuantityAsDecimal="1.5", UsageAllocations=[
        {"AllocatedUsageQuantityAsDecimal": "1.25", "Tags": [{"Key": "env", "Value": "prod"}]},
        {"AllocatedUsageQuantityAsDecimal": "0.25"},
    ])
    assert statuses(meter(emulator, [split])) == ["Success"]
    billed = [e for e in emulator.get("/_emulator/ledger") if e["Dimension"] == "api"]
    assert billed[0]["Quantity"] == "1.5"
    assert billed[0]["UsageAllocations"] == [
        {"Quantity": "1.25", "Tags": [{"Key": "env", "Value": "prod"}]},
        {"Quantity": "0.25", "Tags": None},
    ]


def test_escaped_strings_are_read_and_echoed_exactly(start):
    emulator = start({})
    # boto3 escapes `"` and every non-ASCII character (`\u00e9`) in the JSON it sends.
    tags = [{"Key": 'say "hi"', "Value": "a/b"}]
    sent = record('café "x"', 1, UsageAllocations=[{"AllocatedUsageQuantity": 1, "Tags": tags}])
    response = meter(emulator, [sent])
    assert statuses(response) == ["Success"]
    echoed = response["Results"][0]["UsageRecord"]
    assert echoed["Dimension"] == 'café "x"'
    assert echoed["UsageAllocations"][0]["Tags"] == tags
    billed = emulator.get("/_emulator/ledger")[0]
    assert (billed["Dimension"], billed["UsageAllocations"][0]["Tags"]) == ('café "x"', tags)


def test_customer_modes(emulator):
    legacy = record(account=None, CustomerIdentifier="cust-legacy-1")
    assert statuses(meter(emulator, [legacy])) == ["Success"]
    licensed = record(LicenseArn=LICENSE, quantity=3)
    assert statuses(meter(emulator, [licensed], product=None)) == ["Success"]
    assert statuses(meter(emulator, [record(quantity=2)])) == ["Success"]
    ledger = emulator.get("/_emulator/ledger")
    assert len(ledger) == 3
    assert {e.get("LicenseArn") for e in ledger} == {None, LICENSE}


def test_unsubscribed_customer(emulator):
    response = meter(emulator, [record(), record(account=UNSUBSCRIBED)])
    assert statuses(response) == ["Success", "CustomerNotSubscribed"]
    assert len(emulator.get("/_emulator/ledger")) == 1


def tags(n, key="k"):
    return [{"Key": f"{key}{i}", "Value": "v"} for i in range(n)]


def allocated(quantity, allocations):
    return record(quantity=quantity, UsageAllocations=allocations)


CASES = {
    "unknown product": ([record()], "prod-unknown", "InvalidProductCodeException"),
    "bad product code": ([record()], "bad code!", "InvalidProductCodeException"),
    "no product code": ([record()], None, "InvalidProductCodeException"),
    "licence with product code": ([record(LicenseArn=LICENSE)], PRODUCT, "InvalidProductCodeException"),
    "unknown dimension": ([record("gpu")], PRODUCT, "InvalidUsageDimensionException"),
    "six tags": ([allocated(1, [{"AllocatedUsageQuantity": 1, "Tags": tags(6)}])], PRODUCT,
                 "InvalidTagException"),
    "bad tag key": ([allocated(1, [{"AllocatedUsageQuantity": 1, "Tags": tags(1, "a?")}])], PRODUCT,
                    "InvalidTagException"),
    "tag without value": ([allocated(1, [{"AllocatedUsageQuantity": 1, "Tags": [{"Key": "a"}]}])],
                          PRODUCT, "InvalidTagException"),
    "allocations sum": ([allocated(3, [{"AllocatedUsageQuantity": 1}])], PRODUCT,
                        "InvalidUsageAllocationsException"),
    "no allocations": ([allocated(0, [])], PRODUCT, "InvalidUsageAllocationsException"),
    "mixed quantity kinds": ([record(quantity=None, QuantityAsDecimal="1", UsageAllocations=[
        {"AllocatedUsageQuantity": 1}])], PRODUCT, "InvalidUsageAllocationsException"),
    "allocation with both quantities": ([allocated(1, [
        {"AllocatedUsageQuantity": 1, "AllocatedUsageQuantityAsDecimal": "1"}])], PRODUCT,
        "InvalidUsageAllocationsException"),
    "bad account id": ([record(account="12-34")], PRODUCT, "InvalidCustomerIdentifierException"),
    "no customer": ([record(account=None)], PRODUCT, "InvalidCustomerIdentifierException"),
    "identifier and account": ([record(CustomerIdentifier="c-1")], PRODUCT,
                               "InvalidCustomerIdentifierException"),
    "licence without account": ([record(account=None, LicenseArn=LICENSE)], None,
                                "InvalidCustomerIdentifierException"),
    "bad licence": ([record(LicenseArn="arn:aws:nope")], None, "InvalidLicenseException"),
    "unknown licence": ([record(LicenseArn=LICENSE + "0")], None, "InvalidLicenseException"),
    "licence of another account": ([record(account="210987654321", LicenseArn=LICENSE)], None,
                                   "InvalidLicenseException"),
    "too old": ([record(), record(hours_ago=24)], PRODUCT, "TimestampOutOfBoundsException"),
    "in the future": ([record(hours_ago=-1)], PRODUCT, "TimestampOutOfBoundsException"),
    "26 records": ([record()] * 26, PRODUCT, "ValidationException"),
    "256-character dimension": ([record("d" * 256)], PRODUCT, "ValidationException"),
    "negative quantity": ([record(quantity=-1)], PRODUCT, "ValidationException"),
    "quantity above int32": ([record(quantity=2**31)], PRODUCT, "ValidationException"),
    "bad decimal": ([record(quantity=None, QuantityAsDecimal="1.1234567")], PRODUCT,
                    "ValidationException"),
    "both quantities": ([record(quantity=1, QuantityAsDecimal="1")], PRODUCT, "ValidationException"),
    "no dimension": ([record(dimension=None)], PRODUCT, "ValidationException"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_exception(emulator, name):
    records, product, expected = CASES[name]
    code, status, message, error = rejected(emulator, records, product)
    assert (code, status) == (expected, 400), message
    assert message
    modelled = getattr(emulator.client().exceptions, expected, None)
    if expected != "ValidationException":
        assert isinstance(error, modelled), type(error)
    assert emulator.get("/_emulator/ledger") == [], "a rejected request bills nothing"


def test_validation_message_is_aws_style(emulator):
    _, _, message, _ = rejected(emulator, [record()] * 26)
    assert message == ("1 validation error detected: Value '[26 usage records]' at 'usageRecords' "
                       "failed to satisfy constraint: Member must have length less than or equal to 25")


def test_body_of_one_megabyte_is_refused(emulator):
    long_tags = [{"Key": f"k{k}-" + "x" * 90, "Value": "v" * 250} for k in range(5)]
    big = allocated(0, [{"AllocatedUsageQuantity": 0, "Tags": long_tags}] * 800)
    code, status, message, _ = rejected(emulator, [big])
    assert (code, status) == ("ValidationException", 400)
    assert "less than 1 MB" in message


def raw(emulator, body, headers):
    request = urllib.request.Request(emulator.url + "/", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.load(error)


SIGNED = {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "AWSMPMeteringService.BatchMeterUsage",
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/aws-marketplace/aws4_request",
}


@pytest.mark.parametrize("body,headers,expected", [
    (b'{"UsageRecords": []}', {**SIGNED, "Authorization": ""}, "MissingAuthenticationTokenException"),
    (b'{"UsageRecords": [', SIGNED, "SerializationException"),
    (b'{"UsageRecords": [{"Timestamp": "yesterday"}]}', SIGNED, "SerializationException"),
    (b'{}', {**SIGNED, "X-Amz-Target": "AWSMPMeteringService.MeterUsage"}, "UnknownOperationException"),
    (b'{}', SIGNED, "ValidationException"),
    # AWS JSON structures are objects; a JSON array of the members in order is not one.
    (b'["prod-example123", []]', SIGNED, "SerializationException"),
    (b'{"ProductCode": "prod-example123", "UsageRecords": [[1795694340, null, "123456789012"]]}',
     SIGNED, "SerializationException"),
])
def test_protocol_errors(emulator, body, headers, expected):
    status, response_headers, answer = raw(emulator, body, headers)
    assert status == 400
    assert answer["__type"] == expected and answer["message"]
    # Header names are case-insensitive (hyper sends them in lower case).
    assert response_headers.get("X-Amzn-ErrorType") == expected
    assert response_headers.get("Content-Type") == "application/x-amz-json-1.1"


def test_body_size_limit_is_exclusive(emulator):
    # "Each request must be less than 1 MB": 999,999 bytes pass, 1,000,000 do not (JSON allows
    # trailing whitespace, so the same request is padded to each size).
    body = json.dumps({"ProductCode": PRODUCT, "UsageRecords": []}).encode()
    for size, expected in [(999_999, 200), (1_000_000, 400)]:
        status, _, answer = raw(emulator, body + b" " * (size - len(body)), SIGNED)
        assert status == expected, (size, answer)


def with_faults(start, **faults):
    return start({**CATALOGUE, "faults": {"seed": 5, **faults}})


def test_throttling(start):
    code, status, _, error = rejected(with_faults(start, throttle=1.0), [record()])
    assert (code, status) == ("ThrottlingException", 400)


def test_internal_error(start):
    emulator = with_faults(start, internal_error=1.0)
    code, status, _, error = rejected(emulator, [record()])
    assert (code, status) == ("InternalServiceErrorException", 500)
    assert isinstance(error, emulator.client().exceptions.InternalServiceErrorException)


def test_dropped_connection(start):
    emulator = with_faults(start, drop_connection=1.0)
    with pytest.raises(botocore.exceptions.BotoCoreError) as caught:
        meter(emulator, [record()])
    assert not isinstance(caught.value, botocore.exceptions.ClientError)
    assert emulator.get("/_emulator/ledger") == []


def test_unprocessed_records(start):
    emulator = with_faults(start, unprocessed=1.0)
    records = [record(d, 1) for d in ("api", "storage", "cpu")]
    response = meter(emulator, records)
    unprocessed = response["UnprocessedRecords"]
    assert unprocessed and len(unprocessed) + len(response["Results"]) == 3
    assert len(emulator.get("/_emulator/ledger")) == len(response["Results"])


def test_slow(start):
    emulator = with_faults(start, slow=1.0, slow_ms=300)
    started = dt.datetime.now()
    assert statuses(meter(emulator, [record()])) == ["Success"]
    assert dt.datetime.now() - started >= dt.timedelta(milliseconds=300)


def test_quota_below_one_a_second_still_serves(start):
    emulator = start({"quota_per_second": 0.5})
    assert statuses(meter(emulator, [record()])) == ["Success"]
    code, status, _, _ = rejected(emulator, [record()])
    assert (code, status) == ("ThrottlingException", 400)


def test_interrupt_stops_the_binary_while_stdin_stays_open(emulator):
    emulator.process.send_signal(signal.SIGINT)
    assert emulator.process.wait(timeout=5) == 0


def test_disabled_api(start):
    emulator = start({"disabled_api": True})
    code, status, _, error = rejected(emulator, [record()])
    assert (code, status) == ("DisabledApiException", 400)
    assert isinstance(error, emulator.client().exceptions.DisabledApiException)


def test_binary_refuses_non_loopback_without_the_flag():
    result = subprocess.run([os.environ["METERING_EMULATOR_BIN"], "--bind", "0.0.0.0:0"],
                            capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "not a loopback address" in result.stderr and result.stdout == ""


def test_admin_paths(emulator):
    assert emulator.get("/_emulator/ledger") == []
    assert emulator.get("/_emulator/summary") == []
    # Any other path gets the error an AWS endpoint gives, with a request ID.
    with pytest.raises(urllib.error.HTTPError) as caught:
        emulator.get("/_emulator/nothing")
    assert caught.value.code == 400
    assert json.load(caught.value)["__type"] == "UnknownOperationException"
    assert UUID.match(caught.value.headers["x-amzn-RequestId"])


def test_answers_carry_a_request_id(emulator):
    output = emulator.client().batch_meter_usage(ProductCode=PRODUCT, UsageRecords=[])
    assert UUID.match(output["ResponseMetadata"]["RequestId"])

#!/usr/bin/env python3
"""Issue sample tokens through the public API of a running local server: an ASA on the
Algorand devnet and an ERC-20 on the EVM devnet, printing each deployment's timeline as it
happens and what was created.

Signs in as a demo user (registering it on first use), funds its accounts through the dev
faucet, then for each sample: draft, compliance check, deployment, polling until it is final.
Standard library only, because Python 3 is the only prerequisite the README names.
Exit status: 0 when every sample completed, 1 otherwise; Ctrl-C ends it by its signal.
"""

import argparse
import datetime
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from decimal import Decimal

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_EMAIL = "demo@walletless.local"
# Strong enough for the password rule (16+ characters, zxcvbn score 4); a demo user only.
DEFAULT_PASSWORD = "lunar cactus violin 42 drizzle"

HEALTH_WAIT_S = 60
POLL_EVERY_S = 0.5
POLL_FOR_S = 120
FINAL_STATUSES = ("completed", "failed", "cancelled")
# A read, or a write made safe by its idempotency key, is tried this often before giving up,
# so that one transient failure does not abort a sample that is still running.
ATTEMPTS = 3

# Base-unit decimals of each chain family's native coin, to show faucet amounts readably.
NATIVE_COIN = {"algorand": ("Algo", 6), "evm": ("ETH", 18)}

def samples(run):
    """The tokens to issue, `run` naming this run (a UTC time).

    The devnet validates every block as the same round, so an asset creation identical to an
    earlier one from the same account would be the same transaction, already in its ledger,
    and create nothing: the run in the ASA's URL makes each run's asset a new one.
    """
    return [
        {
            "label": "ASA",
            "family": "algorand",
            "draft": {
                "standard": "asa-ft",
                "network": "algorand-devnet",
                "params": {
                    "asset_name": "Walletless Sample",
                    "unit_name": "WLS",
                    "total": "1000000",
                    "decimals": 2,
                    "url": f"https://walletless.local/samples/{run}",
                },
            },
        },
        {
            "label": "ERC-20",
            "family": "evm",
            "draft": {
                "standard": "erc20-mintable",
                "network": "evm-devnet",
                "params": {
                    "name": "Walletless Sample",
                    "symbol": "WLS",
                    "initial_supply": "1000000",
                    "cap": "5000000",
                },
            },
        },
    ]


class Failure(Exception):
    """A step that cannot go on; the message is meant for a person. `retryable`: trying the
    same call again may help (the server was unreachable, or said so)."""

    def __init__(self, message, retryable=False):
        self.retryable = retryable
        super().__init__(message)


class ApiError(Failure):
    """An error answer of the API: `{"error": {"code", "message", "retryable"}}`."""

    def __init__(self, method, path, status, code, message, retryable):
        self.status = status
        self.code = code
        super().__init__(f"{method} {path} answered {status} {code}: {message}", retryable)


class Api:
    def __init__(self, base_url):
        self.base_url = base_url.rstrip("/")
        self.token = None

    def call(self, method, path, body=None, headers=None, attempts=1):
        """The JSON answer of a 2xx call; retries transient failures when `attempts` > 1."""
        left = attempts
        while True:
            try:
                return self._call_once(method, path, body, headers or {})
            except Failure as problem:
                left -= 1
                if left <= 0 or not problem.retryable:
                    raise
            time.sleep(1)

    def _call_once(self, method, path, body, headers):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("accept", "application/json")
        if data is not None:
            request.add_header("content-type", "application/json")
        if self.token:
            request.add_header("authorization", f"Bearer {self.token}")
        for name, value in headers.items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as answer:
            raise api_error(method, path, answer) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise Failure(
                f"{method} {path}: cannot reach {self.base_url} ({reason})", retryable=True
            ) from None
        except ValueError:
            raise Failure(f"{method} {path}: the answer is not JSON") from None


# What stops a step: a failure, or an answer without the fields this script reads.
UNEXPECTED = (Failure, KeyError, TypeError)


def describe(problem):
    if isinstance(problem, Failure):
        return str(problem)
    return f"an answer of the API lacks what this script expects ({problem!r})"


def api_error(method, path, answer):
    try:
        error = json.loads(answer.read()).get("error") or {}
    except (ValueError, AttributeError, OSError):
        error = {}
    retryable = error.get("retryable", answer.code >= 500 or answer.code == 429)
    return ApiError(
        method,
        path,
        answer.code,
        error.get("code", "UNKNOWN"),
        error.get("message", answer.reason),
        retryable,
    )


def wait_until_healthy(api):
    deadline = time.monotonic() + HEALTH_WAIT_S
    while True:
        try:
            api.call("GET", "/v1/health")
            return
        except Failure as problem:
            if time.monotonic() >= deadline:
                raise Failure(f"the server is not healthy after {HEALTH_WAIT_S} s: {problem}")
        time.sleep(0.5)


def sign_in(api, email, password):
    """Registers the user, or logs in when the email is already registered."""
    credentials = {"email": email, "password": password}
    try:
        session = api.call("POST", "/v1/auth/register", credentials)
        how = "registered"
    except ApiError as error:
        if error.code != "USER_ALREADY_EXISTS":
            raise
        session = api.call("POST", "/v1/auth/login", credentials)
        how = "signed in"
    api.token = session["access_token"]
    print(f"{how} {email}")
    print(f"  Algorand account {session['algorand_address']}")
    print(f"  EVM account      {session['evm_address']}")


def fund(api, network, family):
    funding = api.call("POST", "/v1/dev/faucet", {"network": network})
    coin, decimals = NATIVE_COIN[family]
    amount = Decimal(funding["amount"]).scaleb(-decimals).normalize()
    print(f"  funded {amount:f} {coin} on {network} (transaction {funding['transaction_id']})")


def clock(at_ms):
    moment = datetime.datetime.fromtimestamp(at_ms / 1000)
    return moment.strftime("%H:%M:%S.") + f"{at_ms % 1000:03d}"


def timeline_line(entry):
    moved = f"{entry['from']} → {entry['to']}" if entry.get("from") else f"→ {entry['to']}"
    line = f"  {clock(entry['at_ms'])} {'+' + str(entry['since_previous_ms']) + ' ms':>10}  "
    line += f"{moved:<24} {entry['reason']}"
    if entry.get("transaction_ids"):
        line += "  tx " + ", ".join(entry["transaction_ids"])
    if entry.get("error_code"):
        line += f"  [{entry['error_code']}] {entry.get('message', '')}"
    return line


def created(result):
    """What the deployment created, in the words of its kind of token."""
    parts = []
    if result.get("asset_id") is not None:
        parts.append(f"asset id {result['asset_id']}")
    if result.get("application_id") is not None:
        parts.append(f"application id {result['application_id']}")
    if result.get("contract_address"):
        parts.append(f"contract address {result['contract_address']}")
    return ", ".join(parts) or "nothing reported"


def follow(api, deployment_id):
    """Polls the deployment, printing each new timeline entry; its final view."""
    path = f"/v1/deployments/{deployment_id}"
    printed = 0
    deadline = time.monotonic() + POLL_FOR_S
    while True:
        deployment = api.call("GET", path, attempts=ATTEMPTS)
        timeline = deployment.get("timeline", [])
        for entry in timeline[printed:]:
            print(timeline_line(entry))
        printed = len(timeline)
        if deployment["status"] in FINAL_STATUSES:
            return deployment
        if time.monotonic() >= deadline:
            raise Failure(
                f"deployment {deployment_id} is still {deployment['status']} "
                f"after {POLL_FOR_S} s"
            )
        time.sleep(POLL_EVERY_S)


def issue(api, sample):
    draft = sample["draft"]
    title = draft["params"].get("asset_name") or draft["params"].get("name")
    print(f"\n{sample['label']} \"{title}\" ({draft['standard']} on {draft['network']})")

    saved = api.call("POST", "/v1/drafts", draft)
    if not saved["validation"]["valid"]:
        raise Failure(f"draft {saved['id']} is not valid: {json.dumps(saved['validation'])}")
    draft_id = saved["id"]
    api.call("POST", f"/v1/drafts/{draft_id}/compliance", {})
    report = api.call("GET", f"/v1/drafts/{draft_id}/compliance", attempts=ATTEMPTS)
    if not report["gate"]["open"]:
        raise Failure(f"draft {draft_id}: the compliance gate is closed: {json.dumps(report)}")
    print(f"  draft {draft_id}: valid, compliance gate open")

    # Derived from the draft so that a retried request can never deploy the draft twice.
    key = {"idempotency-key": f"sample-{draft_id}"}
    accepted = api.call(
        "POST", "/v1/deployments", {"draft_id": draft_id}, headers=key, attempts=ATTEMPTS
    )
    deployment_id = accepted["deployment"]["id"]
    print(f"  deployment {deployment_id} ({accepted['status_url']})")

    deployment = follow(api, deployment_id)
    if deployment["status"] != "completed":
        error = deployment.get("error") or {}
        raise Failure(
            f"deployment {deployment_id} {deployment['status']}: "
            f"{error.get('code', 'no error code')}: {error.get('message', '')}"
        )
    result = deployment.get("result") or {}
    print(f"  completed: {created(result)}")
    for transaction in result.get("transactions", []):
        link = f"  {transaction['explorer_url']}" if transaction.get("explorer_url") else ""
        print(f"    transaction {transaction['id']}{link}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the API (default {DEFAULT_URL})")
    parser.add_argument(
        "--email",
        default=DEFAULT_EMAIL,
        help=f"the user to issue as, registered on first use (default {DEFAULT_EMAIL})",
    )
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="that user's password")
    arguments = parser.parse_args()
    # Lines in order with the error lines on stderr, also when the output is a pipe.
    sys.stdout.reconfigure(line_buffering=True)

    api = Api(arguments.url)
    now = datetime.datetime.now(datetime.timezone.utc)
    chosen = samples(now.strftime("%Y%m%dT%H%M%S.%fZ"))
    print(f"== issuing sample tokens through {api.base_url}")
    try:
        wait_until_healthy(api)
        sign_in(api, arguments.email, arguments.password)
        networks = {sample["draft"]["network"]: sample["family"] for sample in chosen}
        for network, family in networks.items():
            fund(api, network, family)
    except UNEXPECTED as problem:
        print(f"error: {describe(problem)}", file=sys.stderr)
        return 1

    failed = []
    for sample in chosen:
        try:
            issue(api, sample)
        except UNEXPECTED as problem:
            print(f"  error: {describe(problem)}", file=sys.stderr)
            failed.append(sample["label"])
    print()
    if failed:
        print(f"== failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"== {len(chosen)} sample tokens issued")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # Die of the signal, without a traceback, so that a calling shell stops too.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)

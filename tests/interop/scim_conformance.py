"""Runs scim2-tester's checks against a SCIM base URL and fails on any check that fails.

    scim_conformance.py BASE_URL TOKEN

Every check is printed with its outcome; a failure also prints what was sent and received.
SKIPPED counts as a failure too: a check is skipped only when the server says it lacks a
feature, and this server claims them all.
"""

import json
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    base, token = sys.argv[1], sys.argv[2]
    exchanges = []

    def on_response(response):
        response.read()
        request = response.request
        exchanges.append(
            {
                "request": f"{request.method} {request.url}",
                "sent": request.content.decode() if request.content else None,
                "status": response.status_code,
                "received": response.text or None,
            }
        )

    http = Client(
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        event_hooks={"response": [on_response]},
    )
    client = SyncSCIMClient(http)
    client.discover()
    results = check_server(client)
    failed = [r for r in results if r.status != Status.SUCCESS]
    for r in results:
        print(f"{r.status.name:8} {r.resource_type or '-':6} {r.title}")
        if r.status != Status.SUCCESS:
            print(f"         reason: {r.reason}")
    if failed:
        print("\nThe last exchanges:")
        for e in exchanges[-6:]:
            print(json.dumps(e, indent=2))
    print(f"scim2-tester: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())

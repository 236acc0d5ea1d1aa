"""Drives Keyway's SCIM service with python-scim's scim2-client, then its conformance checker
scim2-tester. Usage: client.py HUB_URL, with the SCIM token on stdin (never on argv). Prints
one line per step; exits non-zero on the first step that goes wrong."""

import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import PatchOp, PatchOperation, SCIMException, SearchRequest
from scim2_tester import check_server


def main() -> None:
    base = sys.argv[1].rstrip("/") + "/scim/v2"
    token = sys.stdin.readline().strip()
    http = httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    client.discover()
    print("discovered " + " ".join(sorted(t.name for t in client.provider.resource_types)))

    UserModel = client.get_resource_model("User")
    GroupModel = client.get_resource_model("Group")

    pat = client.create(UserModel(user_name="pat@example.com", external_id="sub-pat", display_name="Pat",
                                  emails=[{"value": "pat@example.com"}]))
    print(f"created {pat.user_name}")
    for i in range(4):
        client.create(UserModel(user_name=f"lee{i or ''}@example.com", external_id=f"sub-lee-{i}"))

    found = client.query(UserModel, query_parameters=SearchRequest(filter='userName eq "PAT@example.com"'))
    print(f"found {found.total_results} by userName")
    found = client.query(UserModel, query_parameters=SearchRequest(filter='externalId eq "sub-pat"'))
    print(f"found {found.total_results} by externalId")
    page = client.query(UserModel, query_parameters=SearchRequest(start_index=3, count=10))
    print(f"paged {len(page.resources or [])} of {page.total_results}")

    pat.active = False
    replaced = client.replace(pat)
    print(f"replaced active={replaced.active}")

    op = PatchOp[UserModel](operations=[PatchOperation(op="replace", path="displayName", value="Pat Q")])
    patched = client.modify(UserModel, pat.id, op)
    print(f"patched displayName={patched.display_name}")

    lee = client.query(UserModel, query_parameters=SearchRequest(filter='userName eq "lee@example.com"')).resources[0]
    add = PatchOp[GroupModel](operations=[PatchOperation(op="add", path="members",
                                                         value=[{"value": pat.id}, {"value": lee.id}])])
    group = client.modify(GroupModel, "developer", add)
    print(f"group developer members={len(group.members or [])}")
    remove = PatchOp[GroupModel](operations=[PatchOperation(op="remove", path=f'members[value eq "{pat.id}"]')])
    group = client.modify(GroupModel, "developer", remove)
    print(f"group developer members={len(group.members or [])}")

    try:
        # scim2-client checks filters itself: this one goes unchecked, for the hub to refuse.
        client.query(UserModel, query_parameters={"filter": "userName eq"}, check_request_payload=False)
        print("invalidFilter accepted")
    except SCIMException as e:
        print("invalidFilter refused" if getattr(e, "scim_type", None) == "invalidFilter" or "invalidFilter" in repr(e) else f"error {e!r}")
    try:
        client.create(UserModel(user_name="LEE@example.com"))
        print("uniqueness accepted")
    except SCIMException as e:
        print("uniqueness refused" if "uniqueness" in repr(e) or getattr(e, "scim_type", None) == "uniqueness" else f"error {e!r}")

    client.delete(UserModel, pat.id)
    try:
        client.query(UserModel, pat.id)
        print("deleted but still there")
    except SCIMException as e:
        print(f"deleted {getattr(e, 'status', '?')}")

    # The conformance checker, on a fresh client (it discovers the service itself).
    checker = SyncSCIMClient(httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30))
    checker.discover()
    # Users only: Keyway's groups are its four fixed roles, which the checker would create and
    # delete; the steps above drive their membership.
    for r in check_server(checker, resource_types=["User"]):
        reason = (r.reason or "").replace("\n", " ")[:300]
        print(f"check {r.status.name} {r.resource_type or '-'} {r.title}: {reason}")


if __name__ == "__main__":
    main()

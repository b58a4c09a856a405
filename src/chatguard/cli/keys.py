"""`chatguard keys create|list|revoke`: API keys in the database of DATABASE_URL (SQLite or
PostgreSQL; migrations run first). The secret of a new key is printed once and never stored.
The command line acts as the local administrator, recorded as `cli:<os user>`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from chatguard.auth import Scope


def register(sub: Any) -> None:
    parser = sub.add_parser("keys", help="make, list and revoke API keys")
    actions = parser.add_subparsers(dest="keys_action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a key and print its secret once")
    create.add_argument("--owner", required=True, help="who the key belongs to (the actor)")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=[s.value for s in Scope],
        help="ingest, moderator or admin (repeat for several; admin implies the others)",
    )
    create.add_argument(
        "--assert-roles",
        action="store_true",
        help="the key may send exempt roles with messages (for chat connectors)",
    )
    create.add_argument("--rate", type=float, help="the key's own limit, requests per second")
    create.add_argument("--json", action="store_true", help="print the key as JSON")
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--json", action="store_true")
    revoke = actions.add_parser("revoke", help="revoke a key for good")
    revoke.add_argument("key_id")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from chatguard.app import local_admin
    from chatguard.app.keys import ApiKeys
    from chatguard.auth.admin import key_view
    from chatguard.config import load_settings
    from chatguard.errors import InvalidInputError, NotFoundError
    from chatguard.storage import SqlStore

    store = SqlStore(load_settings().database_url)
    try:
        await store.start()
        keys = ApiKeys.on_store(store)
        admin = local_admin()
        if args.keys_action == "create":
            made = await keys.create(
                admin,
                owner=args.owner,
                scopes=args.scope,
                may_assert_roles=args.assert_roles,
                rate_per_s=args.rate,
            )
            if args.json:
                print(json.dumps(key_view(made.key) | {"secret": made.secret}))
            else:
                print(f"key id:  {made.key.key_id}")
                print(f"owner:   {made.key.owner}")
                print(f"scopes:  {', '.join(s.value for s in made.key.scopes)}")
                print(f"secret:  {made.secret}")
                print("Store the secret now: it is not shown again. Send it as")
                print("`Authorization: Bearer <secret>`.")
        elif args.keys_action == "list":
            found = [key_view(k) for k in await keys.list(admin)]
            if args.json:
                print(json.dumps(found))
            else:
                _table(found)
        else:
            key = await keys.revoke(admin, args.key_id)
            print(f"revoked {key.key_id} ({key.owner})")
        return 0
    except (InvalidInputError, NotFoundError) as exc:
        print(f"chatguard: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()


def _table(keys: list[dict[str, Any]]) -> None:
    if not keys:
        print("no keys")
        return
    print(f"{'KEY ID':<14}{'OWNER':<20}{'SCOPES':<26}{'ROLES':<7}{'RATE':<8}{'CREATED':<22}STATE")
    for k in keys:
        state = f"revoked {k['revoked_at'][:19]}" if k["revoked_at"] else "active"
        rate = "-" if k["rate_per_s"] is None else f"{k['rate_per_s']:g}"
        print(
            f"{k['key_id']:<14}{k['owner'][:19]:<20}{','.join(k['scopes']):<26}"
            f"{'yes' if k['may_assert_roles'] else 'no':<7}{rate:<8}{k['created_at'][:19]:<22}"
            f"{state}"
        )

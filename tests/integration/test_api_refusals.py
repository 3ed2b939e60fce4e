"""401s and 403s of the HTTP API in the audit log (``api.refused``), at most
``AUDITED_PER_MINUTE`` rows per address a minute, every one counted in
``waddlebot_api_refusals_total``; over real loopback HTTP, embedded and distributed (where the
per-address cap is kept in Redis)."""

from __future__ import annotations

import asyncio

import httpx2
from prometheus_client import REGISTRY

from tests.support.harness import serving
from waddlebot.features.identity import apikeys
from waddlebot.infra.audit import AuditEntry
from waddlebot.runtime import Runtime
from waddlebot.settings import Settings
from waddlebot.web.refusals import AUDITED_PER_MINUTE

UNKNOWN_SECRET = "s" * 43
UNKNOWN_KEY = f"wbk_AbCdEfGh1234_{UNKNOWN_SECRET}"  # well formed, never issued
LABELS = "/api/v1/labels/communities/{community_id}/labels"


def refusals_counted(status: int) -> float:
    value = REGISTRY.get_sample_value("waddlebot_api_refusals_total", {"status": str(status)})
    return value or 0.0


async def refused_rows(runtime: Runtime) -> list[AuditEntry]:
    await runtime.audit.flush()
    return [e for e in await runtime.audit.recent(5000) if e.action == "api.refused"]


async def test_who_tried_from_where_on_what_and_why(settings: Settings) -> None:
    async with serving(settings) as (url, runtime), httpx2.AsyncClient(base_url=url) as http:
        community = (await runtime.directory.resolve_entity("twitch:9", "twitch")).community_id
        person = await runtime.directory.ensure_identity("twitch", "id-mo", login="mo")
        info, key = await apikeys.create_key(runtime.db, "mo", kind="user", user_id=person)
        path = LABELS.format(community_id=community)

        unknown = await http.get(path, headers={"Authorization": f"Bearer {UNKNOWN_KEY}"})
        nothing = await http.get(path)
        no_role = await http.get(path, headers={"Authorization": f"Bearer {key}"})
        assert [unknown.status_code, nothing.status_code, no_role.status_code] == [401, 401, 403]

        rows = sorted(await refused_rows(runtime), key=lambda e: e.id)
        assert [(r.actor, r.decision, r.target, r.community_id) for r in rows] == [
            ("key:AbCdEfGh1234@127.0.0.1", "deny", f"GET {LABELS}", community),
            ("none@127.0.0.1", "deny", f"GET {LABELS}", community),
            (f"user:{person}@127.0.0.1", "deny", f"GET {LABELS}", community),
        ]
        assert rows[0].detail["status"] == 401 and "API key" in rows[0].detail["reason"]
        assert rows[2].detail == {
            "status": 403,
            "reason": f"this needs the moderator role in community {community}",
            "presented": f"key:{info.key_id}",
        }
        assert all(UNKNOWN_SECRET not in str(r) and key not in str(r) for r in rows)


async def test_a_flood_is_counted_but_audited_at_most_the_cap_per_address(
    settings: Settings,
) -> None:
    bad = {"Authorization": f"Bearer {UNKNOWN_KEY}"}
    before = refusals_counted(401)
    async with (
        serving(settings) as (url, runtime),
        httpx2.AsyncClient(base_url=url, limits=httpx2.Limits(max_connections=20)) as http,
        httpx2.AsyncClient(
            base_url=url, transport=httpx2.AsyncHTTPTransport(local_address="127.0.0.2")
        ) as elsewhere,
    ):
        for _ in range(10):
            answers = await asyncio.gather(
                *(http.get("/api/v1/commands", headers=bad) for _ in range(100))
            )
            assert {a.status_code for a in answers} == {401}
        assert refusals_counted(401) - before == 1000
        rows = await refused_rows(runtime)
        assert len(rows) == AUDITED_PER_MINUTE
        assert {r.actor for r in rows} == {"key:AbCdEfGh1234@127.0.0.1"}

        # the cap is per address: another one is still heard
        assert (await elsewhere.get("/api/v1/commands", headers=bad)).status_code == 401
        rows = await refused_rows(runtime)
        assert len(rows) == AUDITED_PER_MINUTE + 1
        assert "key:AbCdEfGh1234@127.0.0.2" in {r.actor for r in rows}

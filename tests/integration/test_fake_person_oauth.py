"""The fakes' OAuth for a person (what the portal's sign-in speaks to): Discord's
``/oauth2/authorize`` and ``/oauth2/token`` with a Bearer token good for ``/users/@me`` only,
and Sign in with Slack (``openid.connect.token``, ``openid.connect.userInfo``): a code works
once, a wrong secret is refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2

from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack

BACK = "http://127.0.0.1:9/back"


def code_in(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]


async def test_discord_codes_work_once_and_the_token_only_reads_its_person() -> None:
    async with FakeDiscord() as discord, httpx2.AsyncClient() as http:
        person = discord.add_user("77", "puffin", global_name="Puffin")
        discord.authorize_as(person.id)
        query = {
            "client_id": discord.application_id,
            "redirect_uri": BACK,
            "state": "s",
            "response_type": "code",
            "scope": "identify",
        }
        consent = await http.get(f"{discord.authorize_url}?{urlencode(query)}")
        assert consent.status_code == 302 and "state=s" in consent.headers["location"]
        form = {
            "grant_type": "authorization_code",
            "code": code_in(consent.headers["location"]),
            "redirect_uri": BACK,
            "client_id": discord.application_id,
        }
        wrong = await http.post(
            f"{discord.api_url}/oauth2/token", data={**form, "client_secret": "no"}
        )
        assert wrong.status_code == 401
        token = await http.post(
            f"{discord.api_url}/oauth2/token", data={**form, "client_secret": discord.client_secret}
        )
        assert token.status_code == 200 and token.json()["scope"] == "identify"
        again = await http.post(
            f"{discord.api_url}/oauth2/token", data={**form, "client_secret": discord.client_secret}
        )
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        me = await http.get(f"{discord.api_url}/users/@me", headers=bearer)
        assert me.status_code == 200 and me.json()["global_name"] == "Puffin"
        assert (await http.get(f"{discord.api_url}/gateway/bot", headers=bearer)).status_code == 401


async def test_sign_in_with_slack_codes_work_once_and_name_the_person() -> None:
    async with FakeSlack() as slack, httpx2.AsyncClient() as http:
        team = slack.add_team("Acme")
        person = slack.add_user(team, "gentoo", real_name="Gentoo")
        slack.authorize_as(team, person)
        query = {
            "client_id": slack.client_id,
            "redirect_uri": BACK,
            "response_type": "code",
            "scope": "openid profile",
        }
        consent = await http.get(f"{slack.openid_url}?{urlencode(query)}")
        form = {"code": code_in(consent.headers["location"]), "redirect_uri": BACK}
        wrong = await http.post(
            f"{slack.api_url}openid.connect.token",
            data={**form, "client_id": slack.client_id, "client_secret": "no"},
        )
        assert wrong.json() == {"ok": False, "error": "bad_client_secret"}
        good = {**form, "client_id": slack.client_id, "client_secret": slack.client_secret}
        token = (await http.post(f"{slack.api_url}openid.connect.token", data=good)).json()
        assert token["ok"] and token["access_token"].startswith("xoxp-")
        again = (await http.post(f"{slack.api_url}openid.connect.token", data=good)).json()
        assert again == {"ok": False, "error": "invalid_code"}
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        claims = (await http.get(f"{slack.api_url}openid.connect.userInfo", headers=bearer)).json()
        assert claims["https://slack.com/user_id"] == person.id and claims["name"] == "Gentoo"
        assert claims["https://slack.com/team_id"] == team.id

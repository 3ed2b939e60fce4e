"""The Slack section of the settings (``WADDLEBOT_SLACK_*``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class SlackSettings(BaseModel):
    """The collector runs when a signing secret, a bot token or an app token is set."""

    slack_signing_secret: SecretStr = SecretStr("")
    slack_bot_token: SecretStr = Field(
        default=SecretStr(""), description="xoxb- token of a single workspace (no OAuth needed)"
    )
    slack_app_token: SecretStr = Field(
        default=SecretStr(""), description="xapp- token: Socket Mode, for no public URL"
    )
    slack_client_id: str = ""
    slack_client_secret: SecretStr = SecretStr("")
    slack_public_url: str = Field(
        default="", description="https base URL Slack reaches (OAuth redirects)"
    )
    slack_api_url: str = Field(default="https://slack.com/api/", description="Web API base URL")
    slack_authorize_url: str = "https://slack.com/oauth/v2/authorize"
    slack_openid_url: str = Field(
        default="https://slack.com/openid/connect/authorize",
        description="Sign in with Slack (OpenID Connect): the portal's sign-in",
    )
    slack_inline_wait_seconds: float = Field(default=2.0, ge=0, le=2.5)

    @property
    def slack_configured(self) -> bool:
        return any(
            secret.get_secret_value()
            for secret in (self.slack_signing_secret, self.slack_bot_token, self.slack_app_token)
        )

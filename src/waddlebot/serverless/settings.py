"""The serverless section of the settings (``WADDLEBOT_LAMBDA_*``, ``WADDLEBOT_OPENWHISK_*``,
``WADDLEBOT_FUNCTION_*``): where the bot reaches the engines its ``#`` commands run on. AWS
credentials and region come from the usual AWS settings (``AWS_ACCESS_KEY_ID``,
``AWS_REGION``, profiles, instance roles); see docs/modules.md."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ServerlessSettings(BaseModel):
    lambda_region: str = Field(
        default="",
        description="AWS region for functions named without an ARN; empty: the AWS default",
    )
    lambda_endpoint_url: str = Field(
        default="", description="the Lambda API's URL when not AWS's (LocalStack, a test fake)"
    )
    openwhisk_api_host: str = Field(
        default="",
        description="the OpenWhisk API host functions are registered on when none is given "
        "(https://host[:port])",
    )
    openwhisk_insecure: bool = Field(
        default=False,
        description="accept a self-signed TLS certificate from OpenWhisk API hosts",
    )
    function_daily_budget: int = Field(
        default=0,
        ge=0,
        description="serverless invocations one community may make a day unless it sets its "
        "own; 0: no limit",
    )

"""What each kind of overlay page shows, and the checks an update passes before it is published.

A module's update names a ``kind`` and carries a JSON ``payload``. The four page kinds take
the payloads below; an update of any other kind (``kudos``, ``banner``...) goes to the
``general`` page, as a card when its payload is one, else as a table of its plain fields.
``{"clear": true}`` empties a page. Pages render every string as text, never as HTML, and
load images and clips only from ``https://`` URLs, or the community's own uploaded files
named by media id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

PAGES = ("ticker", "media", "alerts", "general")
ALERT_KINDS = (
    "follow",
    "subscribe",
    "gift_subscribe",
    "cheer",
    "raid",
    "boost",
    "member_join",
    "custom",
)
CARD_TEMPLATES = ("card", "banner", "list", "counter", "fields")
# a file a community uploaded for its overlays: 16 hex digits of its SHA-256 and its type
# (features/overlay/media.py); pages load it from /overlay/<token>/uploads/<id>
IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
SOUND_TYPES = {"mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav"}
MAX_MEDIA_BYTES = 10 * 1_048_576  # the most an upload may be, whatever is configured
MEDIA_ID = r"^[0-9a-f]{16}\.(png|jpg|gif|webp|mp3|ogg|wav)$"
IMAGE_ID = r"^[0-9a-f]{16}\.(png|jpg|gif|webp)$"
SOUND_ID = r"^[0-9a-f]{16}\.(mp3|ogg|wav)$"
MAX_FIELDS = 12
TICKER_TEXT_MAX = 500


class OverlayError(ValueError):
    """An overlay update that cannot be shown: unknown shape, too long, a bad URL, too big."""


def _https_url(value: str) -> str:
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be an https:// URL")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("must not contain spaces or control characters")
    return value


HttpsUrl = Annotated[str, Field(max_length=2000), AfterValidator(_https_url)]
Name = Annotated[str, Field(max_length=64)]
Count = Annotated[int, Field(ge=0, le=1_000_000_000)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TickerLine(_Payload):
    """A line on the ticker: a bot reply or an announcement."""

    text: str = Field(min_length=1, max_length=TICKER_TEXT_MAX)
    author: Name = ""
    platform: str = Field(default="", max_length=16)


class NowPlaying(_Payload):
    """What is playing now: kept, so a page opened later shows it too."""

    type: Literal["now_playing"]
    title: str = Field(min_length=1, max_length=200)
    artist: str = Field(default="", max_length=200)
    album: str = Field(default="", max_length=200)
    cover: HttpsUrl = ""
    duration: float | None = Field(default=None, gt=0, le=86_400, description="seconds")
    position: float = Field(default=0, ge=0, le=86_400, description="seconds in, at publish time")
    paused: bool = False
    requested_by: Name = ""
    source: str = Field(default="", max_length=32, description="e.g. spotify, youtube")
    media_id: str = Field(
        default="", max_length=64, description="the source's id of it (a YouTube video id)"
    )
    song: int | None = Field(
        default=None,
        ge=1,
        description="the song queue's id of this request: the page's player reports with it",
    )
    volume: int | None = Field(default=None, ge=0, le=100, description="the player's volume")


class Clip(_Payload):
    """A video clip played once over the media page (a shoutout's clip)."""

    type: Literal["clip"]
    url: HttpsUrl = Field(min_length=1, description="a video file the browser can play")
    embed: bool = Field(
        default=False, description="url is a player page to frame (a Twitch clip's embed)"
    )
    title: str = Field(default="", max_length=200)
    channel: Name = ""
    duration: float | None = Field(default=None, gt=0, le=300, description="seconds")


Media = Annotated[NowPlaying | Clip, Field(discriminator="type")]
_MEDIA: TypeAdapter[NowPlaying | Clip] = TypeAdapter(Media)


class PlayerReport(_Payload):
    """What the media page's player says of the song it plays (page → server): where it is
    (``progress``), that it finished (``ended``), or that it cannot play it (``error``, with
    the player's error code). ``song`` is the id the page was given with the song."""

    type: Literal["player"]
    song: int = Field(ge=1, le=2**63 - 1)
    state: Literal["progress", "ended", "error"]
    position: float = Field(default=0, ge=0, le=86_400)
    duration: float = Field(default=0, ge=0, le=86_400)
    paused: bool = False
    error: int = Field(default=0, ge=0, le=100_000)


class PlayerReports(Protocol):
    """Who hears the media page's player reports (the music feature's player)."""

    async def report(self, community_id: int, report: PlayerReport) -> None: ...


class Alert(_Payload):
    """A follow, sub, cheer, raid... shown one after another with a sound."""

    kind: Literal[
        "follow", "subscribe", "gift_subscribe", "cheer", "raid", "boost", "member_join", "custom"
    ]
    name: Name = ""
    message: str = Field(default="", max_length=500, description="what they wrote with it")
    title: str = Field(default="", max_length=120, description="replaces the usual headline")
    platform: str = Field(default="", max_length=16)
    bits: Count | None = None
    months: Count | None = None
    viewers: Count | None = None
    count: Count | None = None
    tier: str | None = Field(default=None, max_length=16)
    image: str = Field(
        default="", pattern=f"^$|{IMAGE_ID}", description="an uploaded image's media id"
    )
    sound: str = Field(
        default="", pattern=f"^$|{SOUND_ID}", description="an uploaded sound's media id"
    )

    @model_validator(mode="after")
    def _custom_has_a_title(self) -> Alert:
        if self.kind == "custom" and not self.title:
            raise ValueError("a custom alert needs a title")
        return self


class Card(_Payload):
    """A card on the general page, from a fixed set of templates."""

    template: Literal["card", "banner", "list", "counter", "fields"] = "card"
    title: str = Field(default="", max_length=120)
    body: str = Field(default="", max_length=1000)
    image: HttpsUrl = ""
    items: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=10)
    value: Annotated[str, Field(max_length=32)] | int | float = ""
    fields: list[tuple[Name, Annotated[str, Field(max_length=200)]]] = Field(
        default_factory=list, max_length=MAX_FIELDS
    )
    duration: float = Field(default=10, ge=0, le=86_400, description="seconds; 0: until replaced")


@dataclass(frozen=True, slots=True)
class Normalized:
    page: str  # which page kind shows it
    data: dict[str, Any]
    clear: bool = False


def _dump(model: BaseModel) -> dict[str, Any]:
    """The payload as JSON, without the empty fields a page treats as absent anyway."""
    return {
        key: value
        for key, value in model.model_dump(mode="json").items()
        if not (value is None or (isinstance(value, str | list) and not value))
    }


def _fields_card(kind: str, payload: Mapping[str, Any]) -> Card:
    rows: list[tuple[str, str]] = []
    for key, value in payload.items():
        if isinstance(value, bool):
            shown = "yes" if value else "no"
        elif isinstance(value, str | int | float):
            shown = str(value)
        else:
            continue  # lists and objects have no one-line form
        rows.append((str(key)[:64], shown[:200]))
        if len(rows) == MAX_FIELDS:
            break
    return Card(template="fields", title=kind, fields=rows)


def normalize(kind: str, payload: Mapping[str, Any]) -> Normalized:
    """Check an update and say which page shows it; :class:`OverlayError` if it cannot be."""
    page = kind if kind in PAGES else "general"
    if dict(payload) == {"clear": True}:
        return Normalized(page, {"clear": True}, clear=True)
    model: BaseModel
    try:
        if kind == "ticker":
            model = TickerLine.model_validate(payload)
        elif kind == "media":
            model = _MEDIA.validate_python(payload)
        elif kind == "alerts":
            model = Alert.model_validate(payload)
        elif kind == "general":
            model = Card.model_validate(payload)
        else:
            try:
                model = Card.model_validate(payload)
            except ValidationError:
                model = _fields_card(kind, payload)
    except ValidationError as exc:
        raise OverlayError(f"overlay {kind!r} update refused: {_brief(exc)}") from None
    return Normalized(page, _dump(model))


def _brief(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "payload"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)

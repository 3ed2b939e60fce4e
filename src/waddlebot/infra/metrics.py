"""Prometheus metrics, served at ``/metrics``."""

from __future__ import annotations

import functools

from prometheus_client import Counter, Gauge, Histogram

EVENTS_ACCEPTED = Counter("waddlebot_events_accepted_total", "Events put on the bus", ["platform"])
EVENTS_PROCESSED = Counter(
    "waddlebot_events_processed_total", "Events the router finished", ["platform", "type"]
)
DUPLICATES = Counter("waddlebot_events_duplicate_total", "Redelivered events skipped", ["platform"])
BUS_LOST = Counter(
    "waddlebot_bus_entries_lost_total",
    "Unacknowledged bus entries deleted from their stream before anyone processed them",
)
BUS_BACKLOG = Gauge(
    "waddlebot_bus_backlog",
    "Entries on a stream its slowest consumer group has not finished (every entry when no "
    "group reads the stream)",
    ["stream"],
)
EVENTS_REFUSED = Counter(
    "waddlebot_events_refused_total",
    "Events refused (503) because the router is too far behind (WADDLEBOT_BUS_MAXLEN)",
    ["platform"],
)
DEAD_LETTERS = Counter(
    "waddlebot_events_dead_letter_total", "Bus entries that could not be processed"
)
DEAD_LETTERS_WAITING = Gauge(
    "waddlebot_events_dead_letters",
    "Entries on events.dead waiting for an operator (waddlebot events dead-letters list)",
)
REPLAYED = Counter(
    "waddlebot_events_replayed_total", "Dead letters an operator put back on the events stream"
)
COMMANDS = Counter("waddlebot_commands_total", "Commands by outcome", ["command", "outcome"])
RATE_LIMITED = Counter(
    "waddlebot_rate_limited_total", "Commands refused by a rate limit", ["scope"]
)
MODULE_ERRORS = Counter(
    "waddlebot_module_errors_total",
    "Module calls that failed (error, timeout) or were refused by the module's limits "
    "(busy, unavailable)",
    ["module", "reason"],
)
MODULE_COMMUNITY_ERRORS = Counter(
    "waddlebot_module_community_errors_total",
    "Module calls that failed, timed out or were refused, by module and community id (the "
    'first 100 communities per module and process; the rest as community="other")',
    ["module", "community"],
)
FUNCTION_INVOCATIONS = Counter(
    "waddlebot_function_invocations_total",
    "Serverless (#) function invocations by module, engine, outcome (ok, error) and community "
    '(the first 100 communities per process; the rest as community="other")',
    ["module", "engine", "outcome", "community"],
)
FUNCTION_BILLED_SECONDS = Counter(
    "waddlebot_function_billed_seconds_total",
    "Billed duration of serverless (#) function invocations, as the engine reports it",
    ["module", "engine", "community"],
)
FUNCTION_OVER_BUDGET = Counter(
    "waddlebot_function_over_budget_total",
    "Serverless (#) calls refused because the community spent its daily invocation budget",
    ["module"],
)
AI_TOKENS = Counter(
    "waddlebot_ai_tokens_total",
    "Tokens the AI's model servers counted, by provider and kind (prompt, completion)",
    ["provider", "kind"],
)
AI_ANSWERS = Counter(
    "waddlebot_ai_answers_total",
    "!ai questions by outcome: answered, no_answer, over_budget, rate_limited, moderated",
    ["outcome"],
)
MODULE_BREAKER_STATE = Gauge(
    "waddlebot_module_breaker_state",
    "Circuit breaker of each external module in this router process: 0 closed, 1 half-open "
    "(a probe may go through), 2 open (calls refused at once)",
    ["module"],
)
MODULE_CALL_SECONDS = Histogram(
    "waddlebot_module_call_seconds",
    "Time an external module took to answer (or fail), by module",
    ["module"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REPLIES = Counter("waddlebot_replies_total", "Messages put on reply streams", ["platform"])
DELIVERED = Counter(
    "waddlebot_replies_delivered_total", "Messages a collector sent", ["platform", "outcome"]
)
BATCH_LATENCY = Histogram(
    "waddlebot_router_batch_seconds",
    "Time the router spends on one batch",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
TWITCH_CHAT_DROPPED = Counter(
    "waddlebot_twitch_chat_dropped_total",
    "Chat messages Twitch accepted but did not send (is_sent false)",
    ["reason"],
)
TWITCH_WHISPERS_UNDELIVERABLE = Counter(
    "waddlebot_twitch_whispers_undeliverable_total",
    "Whispers that could not be delivered",
    ["reason"],
)
TWITCH_TOKENS = Gauge(
    "waddlebot_twitch_tokens",
    "Twitch tokens WaddleBot holds, by purpose and state (ok, invalid, missing_scopes), as the "
    "leading Twitch collector last counted them",
    ["purpose", "state"],
)
TWITCH_HELIX_THROTTLED = Counter(
    "waddlebot_twitch_helix_throttled_total",
    "Helix calls answered 429 for lack of rate-limit points",
    ["token"],
)
OVERLAY_UPDATES = Counter(
    "waddlebot_overlay_updates_total",
    "Overlay updates published to a community's pages, by page kind",
    ["page"],
)
ASSIGNED_ITEMS = Gauge(
    "waddlebot_assigned_items",
    "Items (gateway shards, channels, workspaces) of a platform this replica serves now",
    ["platform"],
)
CONNECTIONS = Gauge(
    "waddlebot_connections",
    "This collector process's connections to a platform (gateway shards, Socket Mode, EventSub "
    "sessions; a webhook counts as one) by state",
    ["platform", "state"],
)
OVERLAY_CONNECTIONS = Gauge(
    "waddlebot_overlay_connections", "Overlay pages connected to this process", ["page"]
)
OVERLAY_DISCONNECTS = Counter(
    "waddlebot_overlay_disconnects_total",
    "Overlay pages this process disconnected or refused, by reason",
    ["reason"],
)
API_REFUSALS = Counter(
    "waddlebot_api_refusals_total",
    "HTTP API requests refused for want of a valid key (401) or of rights (403)",
    ["status"],
)
LOGINS_THROTTLED = Counter(
    "waddlebot_logins_throttled_total",
    "Portal logins answered 429 after too many failed tries, by the limit that held",
    ["scope"],
)
HTTP_REQUESTS = Counter(
    "waddlebot_http_requests_total",
    "HTTP requests answered, by method, route template and status class",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "waddlebot_http_request_seconds",
    "Time from a request's arrival to the end of its answer, by method, route template and "
    "status class",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
KONG_SYNCS = Counter(
    "waddlebot_kong_sync_total",
    "Kong configuration pushes by Kong node (its admin URL) and outcome: loaded, unchanged, "
    "rejected, busy, unreachable, failed",
    ["node", "outcome"],
)
BACKUPS = Counter(
    "waddlebot_backups_total",
    "Scheduled community backups by outcome: done, failed",
    ["outcome"],
)
BACKUP_NEWEST = Gauge(
    "waddlebot_backup_complete_timestamp_seconds",
    "Unix time by which every community backed up has a backup: the oldest of their newest "
    "(set by the process running the backup job; 0 elsewhere)",
)
BACKUP_INTERVAL = Gauge(
    "waddlebot_backup_interval_seconds",
    "How often each community is backed up (WADDLEBOT_BACKUP_INTERVAL_HOURS) in the process "
    "running the backup job; 0 elsewhere and while backups are off",
)


@functools.cache
def events_accepted(platform: str) -> Counter:
    """``EVENTS_ACCEPTED`` of one platform, looked up once: ``labels()`` takes a lock and
    checks its arguments on every call, a few microseconds of every webhook delivery."""
    return EVENTS_ACCEPTED.labels(platform)

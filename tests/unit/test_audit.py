"""The audit log's buffer, without a database (nothing is flushed here)."""

from __future__ import annotations

from waddlebot.infra.audit import AuditLog, audit_row


def test_a_full_buffer_drops_the_oldest_rows() -> None:
    trail = AuditLog(db=None, max_buffered=3_000, batch_size=10**9)  # type: ignore[arg-type]
    for number in range(3_200):  # the database is down: past the cap each row evicts one
        trail.record("flood", decision="allow", session_id=str(number))
    assert (trail.pending, trail.dropped) == (3_000, 200)
    assert trail._buffer[0]["session_id"] == "200"  # the oldest went, the newest stayed
    assert trail._buffer[-1]["session_id"] == "3199"


def test_rows_are_cleaned_of_characters_a_database_cannot_store() -> None:
    row = audit_row(
        "cmd\x00.run",
        decision="allow",
        actor="al\x00ice",
        target="\x00bob",
        session_id="s\x00\x001",
        detail={"text": "hi\x00", "nested": [{"k\x00ey": "v\x00"}], "n": 1, "bad": "\ud800x"},
    )
    assert (row["action"], row["actor"], row["target"], row["session_id"]) == (
        "cmd.run",
        "alice",
        "bob",
        "s1",
    )
    assert row["detail"] == {"text": "hi", "nested": [{"key": "v"}], "n": 1, "bad": "?x"}
    assert len(audit_row("a", decision="deny", actor="\x00" + "x" * 300)["actor"]) == 256
